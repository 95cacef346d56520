package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/gatehouse/gatehouse/local/internal/syncbuf"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/local/emulator"
	"github.com/gatehouse/gatehouse/local/gateway"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/twin"
	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

// End-to-end tests: real processes on loopback (the backend binary, the
// Firebase Auth emulator, the gatehouse CLI binary) behind the local gateway
// serving a rendered spec. Nothing in the request path is mocked.

var (
	repoRoot string
	cliBin   string
	emuTwin  *twin.Twin // nil when npm is missing
	// emuBackends are emuTwin's: Pulumi.v2.yaml's (/v1 and notes).
	emuBackends []twin.Backend
	childLog    syncbuf.Buffer // every child of the twins writes to it
)

func TestMain(m *testing.M) { os.Exit(setup(m)) }

func setup(m *testing.M) int {
	wd, _ := os.Getwd()
	var err error
	if repoRoot, err = testenv.RepoRoot(wd); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cliBin = filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", cliBin, "./cmd/gatehouse")
	build.Dir = filepath.Join(repoRoot, "client")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build CLI: %v\n%s", err, out)
		return 1
	}
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
		return m.Run() // benchmarks only: no emulator needed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The two-backend example stack, so that every example backend's calls
	// can be run against it.
	v2, err := stack.LoadFile(filepath.Join(repoRoot, "Pulumi.v2.yaml"), repoRoot)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, b := range v2.Backends {
		emuBackends = append(emuBackends, twin.Backend{Backend: b})
	}
	emuTwin, err = twin.Start(ctx, twin.Config{RepoRoot: repoRoot, Emulator: true, Log: &childLog, Backends: emuBackends})
	switch {
	case errors.Is(err, emulator.ErrNoNPM) && os.Getenv("CI") != "true": // under CI a missing tool fails
		fmt.Fprintln(os.Stderr, "skipping emulator end-to-end tests:", err)
		emuTwin = nil
	case err != nil:
		fmt.Fprintf(os.Stderr, "start twin: %v\n%s", err, childLog.String())
		return 1
	default:
		defer emuTwin.Stop()
	}
	return m.Run()
}

// freshAuth: the emulator twin with no accounts (its tests skip outside CI
// without npm; TestMain fails under CI).
func freshAuth(t *testing.T) {
	t.Helper()
	if emuTwin == nil {
		t.Skip("npm is not installed: no Firebase Auth emulator")
	}
	if err := emuTwin.ResetAuth(); err != nil {
		t.Fatal(err)
	}
}

// signedUp: freshAuth, then ada@example.com (password correct-horse)
// signed up with the CLI; it returns the CLI's credentials file.
func signedUp(t *testing.T) string {
	t.Helper()
	freshAuth(t)
	creds := filepath.Join(t.TempDir(), "credentials.json")
	if code, out, stderr := cli(t, creds, "correct-horse\n", "signup", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("signup = %d %q %q\n%s", code, out, stderr, childLog.String())
	}
	return creds
}

// cli runs the gatehouse binary against the emulator twin.
func cli(t *testing.T, creds, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(cliBin, args...)
	cmd.Env = []string{
		"FIREBASE_AUTH_EMULATOR_HOST=" + emuTwin.AuthHost,
		"GATEHOUSE_GATEWAY_URL=" + emuTwin.GatewayURL,
		"GATEHOUSE_CREDENTIALS=" + creds,
		"PATH=/usr/bin:/bin",
	}
	cmd.Stdin = strings.NewReader(stdin)
	return runCLI(t, cmd)
}

// runCLI runs cmd and returns its exit code and output; a command that
// could not run at all fails the test.
func runCLI(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func get(t *testing.T, url string, header map[string]string) (int, string) {
	t.Helper()
	return do(t, http.MethodGet, url, header)
}

func do(t *testing.T, method, url string, header map[string]string) (int, string) {
	t.Helper()
	return doBody(t, method, url, header, "")
}

func doBody(t *testing.T, method, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestE2EWithEmulatorAndCLI(t *testing.T) {
	creds := signedUp(t)
	if code, out, stderr := cli(t, creds, "correct-horse\n", "login", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("login = %d %q %q", code, out, stderr)
	}
	code, out, stderr := cli(t, creds, "", "call", "/v1/hello")
	if code != 0 || strings.TrimSpace(out) != `{"message":"Hello, ada@example.com!"}` {
		t.Errorf("call /v1/hello = %d %q %q", code, out, stderr)
	}
	code, out, _ = cli(t, creds, "", "call", "/v1/me")
	var me struct {
		UID, Email, Issuer string
		Audience           []string
	}
	if code != 0 || json.Unmarshal([]byte(out), &me) != nil || me.UID == "" || me.Email != "ada@example.com" ||
		me.Issuer != "https://securetoken.google.com/"+emulator.DefaultProject {
		t.Errorf("call /v1/me = %d %q", code, out)
	}
	_, whoami, _ := cli(t, creds, "", "whoami")
	if !strings.Contains(whoami, "uid:     "+me.UID) {
		t.Errorf("the uid the backend saw (%s) is not the one the CLI stored:\n%s", me.UID, whoami)
	}

	if status, body := get(t, emuTwin.GatewayURL+"/v1/hello", nil); status != 401 || !strings.Contains(body, `"Jwt is missing"`) {
		t.Errorf("no token = %d %s, want 401 Jwt is missing", status, body)
	}
	if code, out, _ := cli(t, creds, "", "call", "/v1/admin"); code != 1 || !strings.Contains(out, "The current request is not defined by this API.") {
		t.Errorf("undeclared path = %d %q, want 404 not defined", code, out)
	}
	if status, body := get(t, emuTwin.BackendURLs["v1"]+"/v1/hello", nil); status != 401 || !strings.Contains(body, "missing gateway identity") {
		t.Errorf("backend directly = %d %s, want 401 from the backend", status, body)
	}

	// An emulator token is only good for the emulator's project.
	_, tok, _ := cli(t, creds, "", "token")
	forged := reissue(t, strings.TrimSpace(tok), map[string]any{"aud": "someone-else"})
	if status, body := get(t, emuTwin.GatewayURL+"/v1/hello", map[string]string{"Authorization": "Bearer " + forged}); status != 403 || !strings.Contains(body, "Audiences in Jwt are not allowed") {
		t.Errorf("emulator token with another aud = %d %s", status, body)
	}
}

// reissue changes claims of an unsigned token, keeping alg none.
func reissue(t *testing.T, tok string, changes map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		claims[k] = v
	}
	b, _ := json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

// issuer is a test identity provider with its own RSA keys and JWKS server.
type issuer struct {
	key, other *rsa.PrivateKey
	jwks       *httptest.Server
	fetches    atomic.Int64
	spec       spec.Issuer
}

const (
	testIssuer   = "https://issuer.gatehouse.test"
	testAudience = "gatehouse-e2e"
)

func newIssuer(t testing.TB) *issuer {
	t.Helper()
	is := &issuer{}
	var err error
	if is.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: "key-1", Algorithm: "RS256", Use: "sig"}}}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	is.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(is.jwks.Close)
	is.spec = spec.Issuer{Name: "test", Issuer: testIssuer, JWKSURI: is.jwks.URL + "/jwks", Audiences: []string{testAudience, "other-aud"}}
	return is
}

func claims(change map[string]any) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "machine-7", "email": "robot@example.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range change {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (is *issuer) sign(t testing.TB, key *rsa.PrivateKey, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signedTwin(t *testing.T, is *issuer, backendURL string, deadline time.Duration) *twin.Twin {
	t.Helper()
	c := twin.Config{RepoRoot: repoRoot, Issuers: []spec.Issuer{is.spec}, Deadline: deadline, Log: &childLog}
	if backendURL != "" {
		// The default stack's /v1, served by a backend the test runs.
		def, err := stack.Defaults(repoRoot)
		if err != nil {
			t.Fatal(err)
		}
		c.Backends = []twin.Backend{{Backend: def.Backends[0], URL: backendURL}}
	}
	tw, err := twin.Start(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Stop)
	return tw
}

func TestE2ESignedTokens(t *testing.T) {
	is := newIssuer(t)
	tw := signedTwin(t, is, "", 0)
	url := tw.GatewayURL + "/v1/hello"
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	good := is.sign(t, is.key, "key-1", claims(nil))

	if status, body := get(t, url, bearer(good)); status != 200 || !strings.Contains(body, "Hello, robot@example.com!") {
		t.Fatalf("valid token = %d %s", status, body)
	}
	// The twin reads tokens where the rendered document says: ESPv2's
	// default locations (access_token among them) unless the issuer's
	// securityDefinition has x-google-jwt-locations.
	locations, err := gateway.JWTLocations(tw.Document)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := locations[is.spec.Name]; ok {
		if status, body := get(t, url+"?access_token="+good, nil); status != 401 || !strings.Contains(body, "Jwt is missing") {
			t.Errorf("valid token in access_token, which x-google-jwt-locations %+v leaves out = %d %s, want 401 Jwt is missing", locations[is.spec.Name], status, body)
		}
	} else if status, body := get(t, url+"?access_token="+good, nil); status != 200 {
		t.Errorf("valid token in access_token (a default location) = %d %s", status, body)
	}
	if status, _ := get(t, url, bearer(is.sign(t, is.key, "key-1", claims(map[string]any{"aud": []string{"x", "other-aud"}})))); status != 200 {
		t.Errorf("token with an allowed audience among others = %d", status)
	}

	now := time.Now()
	none := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hs256 := func() string {
		// Algorithm confusion: HMAC keyed with the public key's bytes.
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte(fmt.Sprint(is.key.PublicKey.N)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// ESPv2 accepts these: exp is optional and iat is never checked
	// (google/jwt_verify_lib Jwt::verifyTimeConstraint).
	for name, tok := range map[string]string{
		"no exp":               is.sign(t, is.key, "key-1", claims(map[string]any{"exp": nil})),
		"issued in the future": is.sign(t, is.key, "key-1", claims(map[string]any{"iat": now.Add(2 * time.Hour).Unix()})),
	} {
		if status, body := get(t, url, bearer(tok)); status != 200 {
			t.Errorf("%s: %d %s, want 200 as ESPv2 answers", name, status, body)
		}
	}
	rejected := []struct {
		name, token string
		status      int
		want        string
	}{
		{"wrong audience", is.sign(t, is.key, "key-1", claims(map[string]any{"aud": "someone-else"})), 403, "Audiences in Jwt are not allowed"},
		{"wrong issuer", is.sign(t, is.key, "key-1", claims(map[string]any{"iss": "https://evil.example.com"})), 401, "Jwt issuer is not configured"},
		{"expired", is.sign(t, is.key, "key-1", claims(map[string]any{"exp": now.Add(-2 * time.Hour).Unix(), "iat": now.Add(-3 * time.Hour).Unix()})), 401, "Jwt is expired"},
		{"not yet valid", is.sign(t, is.key, "key-1", claims(map[string]any{"nbf": now.Add(2 * time.Hour).Unix()})), 401, "Jwt not yet valid"},
		{"bad signature", is.sign(t, is.other, "key-1", claims(nil)), 401, "Jwt verification fails"},
		{"tampered payload", tamper(good), 401, "Jwt verification fails"},
		{"unknown kid", is.sign(t, is.other, "key-unknown", claims(nil)), 401, "Jwks doesn't have key to match kid or alg from Jwt"},
		{"alg none", none(claims(nil)), 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"HS256 confusion", hs256(), 401, "Jwks doesn't have key to match kid or alg from Jwt"},
		{"not a JWT", "hello", 401, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
		{"missing", "", 401, "Jwt is missing"},
	}
	for _, tt := range rejected {
		h := bearer(tt.token)
		if tt.token == "" {
			h = nil
		}
		status, body := get(t, url, h)
		if status != tt.status || !strings.Contains(body, `"message":"`+tt.want+`"`) {
			t.Errorf("%s: %d %s, want %d %q", tt.name, status, body, tt.status, tt.want)
		}
	}

	// Unknown kids cost no JWKS request: keys are held for ESPv2's 300 s.
	before := is.fetches.Load()
	for range 20 {
		get(t, url, bearer(is.sign(t, is.other, "kid-flood", claims(nil))))
	}
	if n := is.fetches.Load() - before; n != 0 {
		t.Errorf("20 unknown-kid tokens caused %d JWKS fetches, want none", n)
	}

	// A client cannot forge the identity the backend sees.
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","email":"admin@example.com"}`))
	status, body := get(t, tw.GatewayURL+"/v1/me", map[string]string{"Authorization": "Bearer " + good, "X-Apigateway-Api-Userinfo": forged})
	if status != 200 || !strings.Contains(body, `"uid":"machine-7"`) || strings.Contains(body, "admin") {
		t.Errorf("forged userinfo with a valid token = %d %s, want the token's identity", status, body)
	}
	if status, body := get(t, tw.GatewayURL+"/v1/me", map[string]string{"X-Apigateway-Api-Userinfo": forged}); status != 401 || !strings.Contains(body, "Jwt is missing") {
		t.Errorf("forged userinfo alone = %d %s, want 401", status, body)
	}
	// ...which is exactly what the backend would accept from a request
	// invoked as the gateway's account: the backend trusts the header on
	// such requests only, and in the cloud only the gateway holds a token
	// of that account that Cloud Run verifies.
	invokedAs := func(email string) string {
		return "Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
			base64.RawURLEncoding.EncodeToString([]byte(`{"email":"`+email+`"}`)) + "."
	}
	if status, body := get(t, tw.BackendURLs["v1"]+"/v1/me", map[string]string{"Authorization": invokedAs(twin.DefaultGatewayAccount(emulator.DefaultProject)), "X-Apigateway-Api-Userinfo": forged}); status != 200 || !strings.Contains(body, "admin") {
		t.Errorf("forged header straight to the backend as the gateway = %d %s (the check above would prove nothing)", status, body)
	}
	// Another invoker (IAM lets project Editors and Cloud Run Admins call
	// the service too) with the same forged identity is refused.
	if status, body := get(t, tw.BackendURLs["v1"]+"/v1/me", map[string]string{"Authorization": invokedAs("123456789-compute@developer.gserviceaccount.com"), "X-Apigateway-Api-Userinfo": forged}); status != 403 || strings.Contains(body, "admin") {
		t.Errorf("forged header straight to the backend as another invoker = %d %s, want 403", status, body)
	}

	// X-HTTP-Method-Override is applied before routing and authentication,
	// as ESPv2 does: it cannot reach an undeclared method or skip the JWT.
	if status, body := do(t, http.MethodPost, url, map[string]string{"X-HTTP-Method-Override": "GET", "Authorization": "Bearer " + good}); status != 200 || !strings.Contains(body, "Hello, robot@example.com!") {
		t.Errorf("POST with X-HTTP-Method-Override: GET = %d %s, want the GET served", status, body)
	}
	if status, body := do(t, http.MethodPost, url, map[string]string{"X-HTTP-Method-Override": "GET"}); status != 401 {
		t.Errorf("override to GET without a token = %d %s, want 401", status, body)
	}
	if status, body := do(t, http.MethodGet, url, map[string]string{"X-HTTP-Method-Override": "DELETE", "Authorization": "Bearer " + good}); status != 405 {
		t.Errorf("GET with override DELETE = %d %s, want 405", status, body)
	}
}

// TestE2EIdentityOnlyOnSecuredOperations: API Gateway lets a client-sent
// X-Apigateway-Api-Userinfo through on operations without a JWT
// requirement (here the CORS preflights). The real backend reads the
// identity only on operations the spec secures, so a forged one reaches it
// there and does nothing.
func TestE2EIdentityOnlyOnSecuredOperations(t *testing.T) {
	is := newIssuer(t)
	tw, err := twin.Start(t.Context(), twin.Config{RepoRoot: repoRoot, Issuers: []spec.Issuer{is.spec}, CORSOrigins: []string{"https://app.test"}, Log: &childLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Stop)
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin","email":"admin@example.com"}`))
	for _, path := range []string{"/v1/me", "/v1/hello"} {
		status, body := do(t, http.MethodOptions, tw.GatewayURL+path, map[string]string{
			"Origin": "https://app.test", "Access-Control-Request-Method": "GET", "X-Apigateway-Api-Userinfo": forged})
		if status != http.StatusNoContent || strings.Contains(body, "admin") {
			t.Errorf("preflight %s with a forged identity = %d %q, want the backend's 204 and no identity", path, status, body)
		}
	}
	// The same forged header on the secured operation is replaced (with a
	// token) or refused (without one).
	if status, body := get(t, tw.GatewayURL+"/v1/me", map[string]string{"X-Apigateway-Api-Userinfo": forged}); status != 401 {
		t.Errorf("forged identity on a secured operation = %d %s, want 401", status, body)
	}
	tok := is.sign(t, is.key, "key-1", claims(nil))
	if status, body := get(t, tw.GatewayURL+"/v1/me", map[string]string{"Authorization": "Bearer " + tok, "X-Apigateway-Api-Userinfo": forged}); status != 200 || strings.Contains(body, "admin") {
		t.Errorf("forged identity with a token = %d %s, want the token's identity", status, body)
	}
}

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	raw = bytes.Replace(raw, []byte("machine-7"), []byte("machine-0"), 1)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// TestE2EForwardedHeaders checks what the backend receives, with a backend
// that echoes its request.
func TestE2EForwardedHeaders(t *testing.T) {
	is := newIssuer(t)
	var got atomic.Value
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Clone(context.Background()))
		w.WriteHeader(200)
	}))
	defer echo.Close()
	tw := signedTwin(t, is, echo.URL+"/base", 0)
	tok := is.sign(t, is.key, "key-1", claims(nil))
	status, _ := do(t, http.MethodGet, tw.GatewayURL+"/v1/hello?x=1", map[string]string{
		"Authorization": "Bearer " + tok, "X-HTTP-Method-Override": "GET", "X-Apigateway-Foo": "client", "X-Forwarded-Authorization": "Bearer forged",
	})
	if status != 200 {
		t.Fatalf("status %d", status)
	}
	r := got.Load().(*http.Request)
	if r.URL.Path != "/base/v1/hello" || r.URL.RawQuery != "x=1" {
		t.Errorf("backend path = %s?%s, want /base/v1/hello?x=1 (APPEND_PATH_TO_ADDRESS)", r.URL.Path, r.URL.RawQuery)
	}
	if want := strings.Split(tok, ".")[1]; r.Header.Get("X-Apigateway-Api-Userinfo") != want {
		t.Errorf("userinfo = %q, want the token's payload segment", r.Header.Get("X-Apigateway-Api-Userinfo"))
	}
	// ESPv2's backend auth: its own token in Authorization (the twin's
	// stand-in), the caller's added to X-Forwarded-Authorization after
	// any the client sent.
	if xfa := r.Header.Values("X-Forwarded-Authorization"); len(xfa) != 2 || xfa[1] != "Bearer "+tok {
		t.Errorf("X-Forwarded-Authorization = %q, want the client's then the caller's token", xfa)
	}
	if authz := r.Header.Get("Authorization"); !strings.HasPrefix(authz, "Bearer ") || strings.Contains(authz, tok) {
		t.Errorf("backend Authorization = %q, want the gateway's stand-in token", authz)
	}
	if v := r.Header.Get("X-Http-Method-Override"); v != "" {
		t.Errorf("backend got X-HTTP-Method-Override %q; ESPv2 consumes it", v)
	}
	if v := r.Header.Get("X-Apigateway-Foo"); v != "client" {
		t.Errorf("backend got X-Apigateway-Foo %q; ESPv2 passes it through", v)
	}
}

func TestE2EBackendFailures(t *testing.T) {
	is := newIssuer(t)
	tok := is.sign(t, is.key, "key-1", claims(nil))
	auth := map[string]string{"Authorization": "Bearer " + tok}

	tw := signedTwin(t, is, "", 0)
	if status, _ := get(t, tw.GatewayURL+"/v1/hello", auth); status != 200 {
		t.Fatalf("before stopping the backend: %d", status)
	}
	if err := tw.StopBackend("v1"); err != nil {
		t.Fatal(err)
	}
	if status, body := get(t, tw.GatewayURL+"/v1/hello", auth); status != 503 || !strings.Contains(body, "upstream connect error or disconnect/reset before headers. retried") {
		t.Errorf("backend down = %d %s, want ESPv2's 503 after one retry", status, body)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	tw2 := signedTwin(t, is, slow.URL, 300*time.Millisecond)
	start := time.Now()
	status, body := get(t, tw2.GatewayURL+"/v1/hello", auth)
	if status != 504 || !strings.Contains(body, "upstream request timeout") {
		t.Errorf("slow backend = %d %s, want 504", status, body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("504 took %v, want about the 300ms deadline", took)
	}
}

// The twin's gateway caps request headers as ESPv2 does (60 KiB): a huge
// Authorization header is refused before any verification or caching.
func TestTwinHeaderLimit(t *testing.T) {
	if emuTwin == nil {
		t.Skip("npm missing: no emulator twin")
	}
	code, _ := get(t, emuTwin.GatewayURL+"/v1/hello", map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 100<<10)})
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB Authorization header: %d, want 431", code)
	}
	code, _ = get(t, emuTwin.GatewayURL+"/v1/hello", map[string]string{"Authorization": "Bearer " + strings.Repeat("a", 1<<10)})
	if code != http.StatusUnauthorized {
		t.Errorf("1 KiB bogus token: %d, want 401", code)
	}
}

// TestE2ETwoBackends: the two-backend stack with real processes. Each
// route reaches its own backend with the verified identity; no backend
// sees a request meant for the other (their access logs); either backend
// called directly, without the gateway, refuses.
func TestE2ETwoBackends(t *testing.T) {
	is := newIssuer(t)
	var logs syncbuf.Buffer
	tw := startTwoBackendTwin(t, is, &logs)
	auth := map[string]string{"Authorization": "Bearer " + is.sign(t, is.key, "key-1", claims(nil))}

	if status, body := get(t, tw.GatewayURL+"/v1/hello", auth); status != 200 || !strings.Contains(body, "Hello, robot@example.com!") {
		t.Fatalf("/v1/hello = %d %s", status, body)
	}
	post := map[string]string{"Content-Type": "application/json"}
	for k, v := range auth {
		post[k] = v
	}
	if status, body := doBody(t, http.MethodPost, tw.GatewayURL+"/v2/notes", post, `{"text":"routed by the gateway"}`); status != 201 || !strings.Contains(body, `"text":"routed by the gateway"`) {
		t.Fatalf("POST /v2/notes = %d %s", status, body)
	}
	status, body := get(t, tw.GatewayURL+"/v2/notes", auth)
	if status != 200 || !strings.Contains(body, `"owner":"machine-7"`) || !strings.Contains(body, "routed by the gateway") {
		t.Errorf("GET /v2/notes = %d %s, want the caller's (machine-7) note", status, body)
	}
	if status, body := get(t, tw.GatewayURL+"/v2/notes", nil); status != 401 || !strings.Contains(body, "Jwt is missing") {
		t.Errorf("/v2/notes without a token = %d %s", status, body)
	}
	if status, _ := get(t, tw.GatewayURL+"/v2/hello", auth); status != 404 {
		t.Errorf("/v2/hello = %d, want 404 (declared by neither backend)", status)
	}

	// Each backend's access log holds its own paths only.
	time.Sleep(200 * time.Millisecond) // the last lines
	seen := map[string][]string{}
	for _, line := range strings.Split(logs.String(), "\n") {
		var entry struct {
			Service     string `json:"service"`
			HTTPRequest struct {
				URL string `json:"requestUrl"`
			} `json:"httpRequest"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.HTTPRequest.URL == "" {
			continue
		}
		seen[entry.Service] = append(seen[entry.Service], entry.HTTPRequest.URL)
	}
	for service, prefix := range map[string]string{"v1": "/v1/", "notes": "/v2/"} {
		if len(seen[service]) == 0 {
			t.Errorf("no request reached %s: %v", service, seen)
		}
		for _, u := range seen[service] {
			if !strings.HasPrefix(u, prefix) && !strings.HasPrefix(u, "/healthz") {
				t.Errorf("%s received %s, which is not its route", service, u)
			}
		}
	}
	t.Logf("access logs: %v", seen)

	// Without the gateway, each backend refuses: no identity.
	for name, url := range map[string]string{"v1": tw.BackendURLs["v1"] + "/v1/me", "notes": tw.BackendURLs["notes"] + "/v2/notes"} {
		if status, body := get(t, url, nil); status != 401 || !strings.Contains(body, "missing gateway identity") {
			t.Errorf("%s called directly = %d %s, want 401", name, status, body)
		}
	}
}

// TestE2ERetireV1: a stack without the /v1 entry, as the twin runs it from
// the stack file: /v1's operations are gone from the document (404, as
// API Gateway answers a path no operation declares), the remaining
// backend serves, and no /v1 backend runs.
func TestE2ERetireV1(t *testing.T) {
	is := newIssuer(t)
	v2, err := os.ReadFile(filepath.Join(repoRoot, "Pulumi.v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	retired := regexp.MustCompile(`(?s)    - name: v1\n.*?(    - name: notes)`).ReplaceAll(v2, []byte("$1"))
	file := filepath.Join(t.TempDir(), "Pulumi.retired.yaml")
	if err := os.WriteFile(file, retired, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := stack.LoadFile(file, repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	var backends []twin.Backend
	for _, b := range cfg.Backends {
		backends = append(backends, twin.Backend{Backend: b})
	}
	tw, err := twin.Start(t.Context(), twin.Config{RepoRoot: repoRoot, Issuers: []spec.Issuer{is.spec}, Log: &childLog, Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Stop)
	if _, ok := tw.BackendURLs["v1"]; ok || len(tw.BackendURLs) != 1 {
		t.Errorf("backends running: %v, want notes alone", tw.BackendURLs)
	}
	auth := map[string]string{"Authorization": "Bearer " + is.sign(t, is.key, "key-1", claims(nil))}
	for _, path := range []string{"/v1/hello", "/v1/me"} {
		if status, body := get(t, tw.GatewayURL+path, auth); status != 404 || !strings.Contains(body, "The current request is not defined by this API.") {
			t.Errorf("%s after retiring /v1 = %d %s, want 404 not defined", path, status, body)
		}
	}
	if status, body := get(t, tw.GatewayURL+"/v2/notes", auth); status != 200 {
		t.Errorf("/v2/notes = %d %s, want 200", status, body)
	}
}

// startTwoBackendTwin starts the twin on the two-backend example stack
// (Pulumi.v2.yaml: /v1 and the notes backend) with the test issuer.
func startTwoBackendTwin(t *testing.T, is *issuer, log io.Writer) *twin.Twin {
	t.Helper()
	tw, err := twin.Start(t.Context(), twin.Config{RepoRoot: repoRoot, Issuers: []spec.Issuer{is.spec}, Log: log, Backends: emuBackends})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Stop)
	return tw
}
