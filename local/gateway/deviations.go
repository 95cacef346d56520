package gateway

// Deviation is a way the local gateway knowingly differs from API Gateway
// (ESPv2), and why. Every other behaviour a client or a backend can observe
// follows ESPv2's sources (see conformance_test.go). The README's "Local
// gateway vs API Gateway" section lists the same items; a test keeps the
// two in step.
type Deviation struct {
	Title, Reason string
}

// Deviations is the one list of the local gateway's known differences.
var Deviations = []Deviation{
	{
		Title:  "Unsigned tokens are accepted for the emulator's issuer",
		Reason: "with the Firebase Auth emulator (make local) the gateway accepts its alg \"none\" tokens with an empty signature, for the emulator project's issuer (https://securetoken.google.com/<project>) only: the emulator cannot sign with Google's keys. Issuer, times and audience are still checked. An unsigned token of any other issuer, and every unsigned token without the emulator, is refused as ESPv2 refuses it.",
	},
	{
		Title:  "The backend's Authorization is an unsigned stand-in",
		Reason: "API Gateway sends a Google-signed ID token of the gateway's service account (audience jwt_audience); there is no Google identity offline, so the twin sends an unsigned token that says it is a stand-in, with the same audience. Cloud Run checks the real one before the backend sees the request.",
	},
	{
		Title:  "Backend failure messages name the reset reason only",
		Reason: "the 503 text follows Envoy's router (\"upstream connect error or disconnect/reset before headers. retried and the latest reset reason: ...\"), but the transport details Envoy appends vary with its version and the socket error; match on the status and the prefix.",
	},
	{
		Title:  "Path normalisation keeps every percent-escape",
		Reason: "dot segments and repeated slashes are normalised as ESPv2 does, and escaped slashes are kept; Envoy's RFC 3986 normalisation may also decode escaped unreserved characters (%41 to A), which the twin leaves as sent.",
	},
	{
		Title:  "No API keys, quotas or Service Control",
		Reason: "gatehouse's spec uses none of them; the gateway rejects nothing on their account and reports nothing to Google.",
	},
	{
		Title:  "Only loopback Host names are answered",
		Reason: "the twin's servers (gateway and browser client) answer Host 127.0.0.1:PORT, localhost:PORT or [::1]:PORT, and its backends (the kit, listening on LISTEN_HOST=127.0.0.1) only loopback names, any other with a JSON 421, so that no web page can reach them by rebinding its own name to 127.0.0.1; API Gateway answers its gateway's host name, and Cloud Run the service's.",
	},
}
