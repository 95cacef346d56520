// Package gateway is a local stand-in for API Gateway (ESPv2, an Envoy
// build): it serves exactly the operations of a rendered gatehouse OpenAPI
// document, checks JWTs per each operation's security with the document's
// issuers, and forwards per x-google-backend with the headers API Gateway
// sets. Its behaviour follows ESPv2's sources, including where ESPv2 is
// more permissive than a cautious proxy would be: local tests must show
// what production does. conformance_test.go holds the cases, each citing
// its source; the deliberate differences are listed in Deviations.
package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

// ESPv2's own answers, as the client sees them (local replies are JSON
// {"code":N,"message":"..."}: esp-v2 src/go/configgenerator/filtergen/
// http_connection_manager.go, LocalReplyConfig).
const (
	msgNotDefined    = "The current request is not defined by this API."
	msgUpstreamTime  = "upstream request timeout"
	msgUpstreamReset = "upstream connect error or disconnect/reset before headers. "
	msgBadRequest    = "Bad Request"
)

// msgMethodNotAllowed is the 405 ESPv2 answers for a declared path with an
// undeclared method (esp-v2 src/go/configgenerator/route_generator.go
// makeMethodNotAllowedRoute), naming the path template as declared.
func msgMethodNotAllowed(template string) string {
	return fmt.Sprintf("The current request is matched to the defined url template %q but its http method is not allowed", template)
}

const (
	// userinfoHeader carries the verified JWT payload to the backend
	// (Envoy jwt_authn forward_payload_header, named by API Gateway:
	// https://cloud.google.com/api-gateway/docs/authenticating-users-jwt).
	userinfoHeader = "X-Apigateway-Api-Userinfo"
	// forwardedAuthz receives the caller's Authorization when the gateway
	// puts its own ID token there (esp-v2 src/envoy/http/backend_auth).
	forwardedAuthz = "X-Forwarded-Authorization"
	// methodOverride is applied before routing and authentication, then
	// removed (esp-v2 src/envoy/utils/http_header_utils.cc
	// handleHttpMethodOverride). Other override headers pass through.
	methodOverride = "X-Http-Method-Override"
	// iapHeader is one of ESPv2's default JWT locations.
	iapHeader       = "X-Goog-Iap-Jwt-Assertion"
	clockSkew       = 60 * time.Second // jwt_verify_lib kClockSkewInSecond
	defaultDeadline = 15 * time.Second // x-google-backend deadline default
	maxRealmPath    = 256              // Envoy jwt_authn MaximumUriLength
	maxRetryBody    = 1 << 20          // bodies up to this size are kept for a retry
)

// Options configure a Gateway.
type Options struct {
	// Emulator accepts the Firebase Auth emulator's unsigned (alg "none")
	// tokens, still checking iss, aud and times. Never for real traffic.
	Emulator bool
	Logger   *slog.Logger
	// KeyClient fetches JWKS; Transport carries requests to the backend.
	KeyClient *http.Client
	Transport http.RoundTripper
	Now       func() time.Time
	// ServiceAccount is the gateway's service-account email, the email of
	// the stand-in token it sends backends (as API Gateway's ID token of
	// its account carries it): the backends serve identity routes only to
	// requests invoked as GATEWAY_SERVICE_ACCOUNT.
	ServiceAccount string
}

// Gateway is an http.Handler enforcing one rendered document.
type Gateway struct {
	doc    *spec.Document
	opts   Options
	keys   *keySets
	cache  *tokenCache
	routes []route
}

type route struct {
	op       spec.Operation
	segments []string // template split on "/"; "{x}" matches any one non-empty segment
	backend  spec.Backend
	target   *url.URL
	standIn  string // the Authorization the twin sends in place of the gateway's ID token
	proxy    *httputil.ReverseProxy
}

// New builds a gateway for doc (see spec.Parse).
func New(doc *spec.Document, o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.KeyClient == nil {
		o.KeyClient = &http.Client{Timeout: jwksFetchTimeout}
	}
	if o.Transport == nil {
		// Keep enough idle connections to the backend for concurrent
		// clients; the default two per host would churn connections.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 512, 256
		o.Transport = t
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{doc: doc, opts: o, keys: newKeySets(o.KeyClient, o.Now), cache: newTokenCache(tokenCacheSize)}
	for _, op := range doc.Operations {
		b := doc.Backend
		if op.Backend != nil {
			b = *op.Backend
		}
		u, err := url.Parse(b.Address)
		if err != nil {
			return nil, fmt.Errorf("%s %s: backend address: %w", op.Method, op.Path, err)
		}
		for _, alt := range op.Security {
			for _, name := range alt {
				if _, ok := doc.Issuers[name]; !ok {
					return nil, fmt.Errorf("%s %s: unknown issuer %q", op.Method, op.Path, name)
				}
			}
		}
		g.routes = append(g.routes, route{op: op, segments: strings.Split(op.Path, "/"), backend: b, target: u, standIn: standInToken(b, o.ServiceAccount)})
	}
	for i := range g.routes {
		g.routes[i].proxy = g.newProxy(&g.routes[i])
	}
	return g, nil
}

// standInToken is what the twin puts in the backend's Authorization where
// API Gateway puts a Google-signed ID token of the gateway's service
// account (audience jwt_audience, else the backend address; email the
// account's). It is unsigned and says what it is, so nothing can mistake
// it for the real one; the backend decodes it as it decodes the token
// Cloud Run verified, whose signature Cloud Run removes.
func standInToken(b spec.Backend, email string) string {
	aud := b.JWTAudience
	if aud == "" {
		if u, err := url.Parse(b.Address); err == nil {
			aud = u.Scheme + "://" + u.Host
		}
	}
	header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	claims := map[string]string{
		"iss":  "gatehouse-local-twin",
		"sub":  "local-gateway",
		"aud":  aud,
		"note": "stand-in: API Gateway sends a Google-signed ID token of its service account here",
	}
	if email != "" {
		claims["email"] = email
	}
	payload, _ := json.Marshal(claims)
	return "Bearer " + base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// normalizePath is what ESPv2's Envoy does to :path before routing
// (esp-v2 src/go/options/configgenerator.go: NormalizePath and
// MergeSlashesInPath default to true; escaped slashes are kept): dot
// segments are resolved as RFC 3986 says, runs of slashes merged, and
// percent-escapes kept as sent. The backend receives the normalised path.
func normalizePath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	in := strings.Split(escaped, "/")
	out := make([]string, 0, len(in))
	for i, s := range in {
		last := i == len(in)-1
		switch strings.ToLower(s) {
		case ".", "%2e":
			if last {
				out = append(out, "")
			}
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case "":
			if last && i > 0 {
				out = append(out, "") // a trailing slash stays (merged with any before it)
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// match finds the route for method and a normalised path. A path with no
// route for that method but one for another gets that route's template, for
// the 405. Like ESPv2's routes, a template matches with or without one
// trailing slash, and a {variable} matches one non-empty segment.
func (g *Gateway) match(method, path string) (*route, string) {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	segs := strings.Split(path, "/")
	template := ""
	for i := range g.routes {
		r := &g.routes[i]
		if len(r.segments) != len(segs) {
			continue
		}
		ok := true
		for j, s := range r.segments {
			if isVariable(s) {
				if segs[j] == "" {
					ok = false
					break
				}
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if r.op.Method == method {
			return r, ""
		}
		if template == "" {
			template = r.op.Path
		}
	}
	return nil, template
}

func isVariable(seg string) bool {
	return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
}

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeError writes one of the gateway's own replies. Like ESPv2's, they
// carry no CORS headers: ESPv2 adds those only through Envoy's CORS policy,
// which --cors_preset configures and API Gateway does not set (allowCors
// instead passes preflights to the backend: esp-v2
// src/go/configgenerator/route_generator.go makeRouteCors). A browser
// therefore cannot read a gateway 401; it sees a CORS failure.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{code, msg})
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	reason := g.serve(rec, r)
	attrs := []slog.Attr{
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.Int("status", rec.status), slog.Duration("latency", time.Since(start)),
	}
	if reason != "" {
		attrs = append(attrs, slog.String("reason", reason))
	}
	g.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// serve handles one request and returns why it was refused, if it was.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) string {
	// ESPv2 rejects header names with underscores (headers_with_underscores
	// REJECT_REQUEST unless --underscores_in_headers: esp-v2
	// src/go/configgenerator/filtergen/http_connection_manager.go); Envoy's
	// HTTP/1 codec answers 400 "Bad Request".
	for k := range r.Header {
		if strings.Contains(k, "_") {
			writeError(w, http.StatusBadRequest, msgBadRequest)
			return "header name with an underscore"
		}
	}
	if v := r.Header.Values(methodOverride); len(v) > 0 {
		r.Method = v[0]
		r.Header.Del(methodOverride)
	}
	path := normalizePath(r.URL.EscapedPath())
	rt, template := g.match(r.Method, path)
	if rt == nil {
		if template != "" {
			writeError(w, http.StatusMethodNotAllowed, msgMethodNotAllowed(template))
			return "undeclared method"
		}
		writeError(w, http.StatusNotFound, msgNotDefined)
		return "undeclared operation"
	}
	var payloads []string
	if len(rt.op.Security) > 0 {
		// The payload header is the gateway's: a client's copy is removed
		// where a JWT requirement runs, and only there (Envoy jwt_authn
		// verifier.cc sanitizePayloadHeaders). Elsewhere it passes through.
		r.Header.Del(userinfoHeader)
		var f *authFailure
		payloads, f = g.authenticate(r, rt.op.Security)
		if f != nil {
			realm := realmOf(r, path)
			value := `Bearer realm="` + realm + `"`
			if f.msg != msgMissing {
				value += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", value)
			writeError(w, f.code(), f.msg)
			if f.err != nil {
				return f.msg + ": " + f.err.Error()
			}
			return f.msg
		}
	}
	g.forward(w, r, rt, path, payloads)
	return ""
}

// realmOf is Envoy's original URI for WWW-Authenticate: scheme, host and
// path without the query, the path cut at 256 bytes.
func realmOf(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if len(path) > maxRealmPath {
		path = path[:maxRealmPath]
	}
	return scheme + "://" + r.Host + path
}

// authFailure is a failed verification: ESPv2's message, whether it was
// reached only after a key fetch (Envoy then completes it later than the
// checks that needed none), and the underlying error for the log.
type authFailure struct {
	msg     string
	fetched bool
	err     error
}

// code is 403 for a disallowed audience and 401 for everything else
// (Envoy jwt_authn filter.cc onComplete).
func (f *authFailure) code() int {
	if f.msg == msgAudience {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// tokens finds every JWT in ESPv2's default locations (esp-v2
// src/go/configgenerator/filtergen/jwt_authn.go defaultJwtLocations:
// Authorization with the case-sensitive prefix "Bearer ",
// X-Goog-Iap-Jwt-Assertion, and the access_token query parameter), in the
// order Envoy's authenticator checks them: it takes the last found first.
func tokens(r *http.Request) []string {
	var found []string
	for _, v := range r.Header.Values("Authorization") {
		// Envoy's extractor looks for the prefix anywhere in the value,
		// then takes the token from the first base64url character after it.
		i := strings.Index(v, "Bearer ")
		if i < 0 {
			continue
		}
		rest := v[i+len("Bearer "):]
		if j := strings.IndexFunc(rest, isTokenChar); j >= 0 {
			rest = rest[j:]
		}
		found = append(found, rest)
	}
	found = append(found, r.Header.Values(iapHeader)...)
	q, _ := url.ParseQuery(r.URL.RawQuery) // what parses is used, as Envoy does
	if v := q["access_token"]; len(v) > 0 {
		found = append(found, v[0])
	}
	for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
		found[i], found[j] = found[j], found[i]
	}
	return found
}

func isTokenChar(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// authenticate verifies the request against the operation's security
// alternatives, as Envoy's RequiresAny verifier does: the first alternative
// that passes wins; when all fail, the failure reported is the one that
// completed last (those that needed a key fetch complete after those that
// did not). It returns the verified payload segments to forward.
func (g *Gateway) authenticate(r *http.Request, security [][]string) ([]string, *authFailure) {
	toks := tokens(r)
	var sync, async *authFailure
	for _, alt := range security {
		var payloads []string
		var fail *authFailure
		for _, name := range alt { // every provider of one alternative must pass
			p, f := g.verifyProvider(r.Context(), toks, g.doc.Issuers[name])
			if f != nil {
				fail = f
				break
			}
			payloads = append(payloads, p...)
		}
		if fail == nil {
			return payloads, nil
		}
		if fail.fetched {
			async = fail
		} else {
			sync = fail
		}
	}
	if async != nil {
		return nil, async
	}
	return nil, sync
}

// verifyProvider is Envoy's authenticator for one provider: every token
// found must verify (authenticator.cc doneWithStatus), each through the
// checks in jwt_verify_lib's order: format, issuer, times, audience, then
// the key set and the signature.
func (g *Gateway) verifyProvider(ctx context.Context, toks []string, is spec.Issuer) ([]string, *authFailure) {
	if len(toks) == 0 {
		return nil, &authFailure{msg: msgMissing}
	}
	now := g.opts.Now().Unix()
	var payloads []string
	fetchedAny := false
	for _, raw := range toks {
		if v, ok := g.cache.get(is.Name, raw); ok {
			// Envoy's JWT cache skips parsing and the signature; the
			// issuer, times and audience are checked again.
			if msg := timeCheck(v.nbf, v.exp, now); msg != "" {
				return nil, &authFailure{msg: msg, fetched: fetchedAny}
			}
			payloads = append(payloads, v.payload)
			continue
		}
		j, msg := parseJWT(raw, g.opts.Emulator)
		if msg != "" {
			return nil, &authFailure{msg: msg, fetched: fetchedAny}
		}
		if j.iss != is.Issuer {
			return nil, &authFailure{msg: msgUnknownIssuer, fetched: fetchedAny}
		}
		if msg := timeCheck(j.nbf, j.exp, now); msg != "" {
			return nil, &authFailure{msg: msg, fetched: fetchedAny}
		}
		if !audienceAllowed(is.Audiences, j.aud) {
			return nil, &authFailure{msg: msgAudience, fetched: fetchedAny}
		}
		if !j.unsignedEmulator {
			keys, fetched, err := g.keys.get(ctx, is.JWKSURI)
			fetchedAny = fetchedAny || fetched
			if err != nil {
				return nil, &authFailure{msg: msgJWKSFetch, fetched: fetchedAny, err: err}
			}
			if msg := verifySignature(j, keys); msg != "" {
				return nil, &authFailure{msg: msg, fetched: fetchedAny}
			}
		}
		g.cache.put(is.Name, raw, verified{payload: j.payloadB64, nbf: j.nbf, exp: j.exp})
		payloads = append(payloads, j.payloadB64)
	}
	return payloads, nil
}

// payloadKey carries the verified payloads from authentication to the
// proxy's Rewrite.
type payloadKey struct{}

// forward proxies to the backend the way ESPv2 does: the verified payload
// in X-Apigateway-Api-Userinfo, the gateway's token in Authorization (the
// caller's copied to X-Forwarded-Authorization) unless disable_auth, the
// path per path_translation, one retry on a connect failure or a reset,
// and the backend deadline enforced.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt *route, path string, payloads []string) {
	deadline := rt.backend.Deadline
	if deadline == 0 {
		deadline = defaultDeadline
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), payloadKey{}, payloads), deadline)
	defer cancel()
	out := r.WithContext(ctx)
	out.URL = cloneURL(r.URL)
	out.URL.RawPath = path
	if p, err := url.PathUnescape(path); err == nil {
		out.URL.Path = p
	}
	if err := bufferForRetry(out); err != nil {
		writeError(w, http.StatusBadRequest, msgBadRequest)
		return
	}
	rt.proxy.ServeHTTP(w, out)
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}

// newProxy builds the reverse proxy for one route.
func (g *Gateway) newProxy(rt *route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: retryOnce{g.opts.Transport},
		Rewrite: func(pr *httputil.ProxyRequest) {
			out := pr.Out
			u := *rt.target
			escaped := pr.In.URL.RawPath
			query := pr.In.URL.RawQuery
			switch rt.backend.PathTranslation {
			case spec.AppendPathToAddress:
				base := strings.TrimSuffix(u.EscapedPath(), "/")
				u.Path = strings.TrimSuffix(u.Path, "/") + pr.In.URL.Path
				u.RawPath = base + escaped
			default:
				// CONSTANT_ADDRESS: the address as is, with the path's
				// variables appended to the query string.
				if u.Path == "" {
					u.Path = "/"
				}
				u.RawPath = ""
				if vars := pathVariables(rt.segments, escaped); vars != "" {
					if query != "" {
						query += "&"
					}
					query += vars
				}
			}
			u.RawQuery = query
			out.URL = &u
			// Envoy rewrites Host to the backend's host name (route
			// host_rewrite_literal), without a port.
			out.Host = u.Hostname()
			if xff := pr.In.Header.Values("X-Forwarded-For"); len(xff) > 0 {
				out.Header["X-Forwarded-For"] = xff
			}
			out.Header.Set("X-Forwarded-Proto", "http")
			if pr.In.TLS != nil {
				out.Header.Set("X-Forwarded-Proto", "https")
			}
			if !rt.backend.DisableAuth {
				if authz := pr.In.Header.Get("Authorization"); authz != "" {
					out.Header.Add(forwardedAuthz, authz) // added to any the client sent
				}
				out.Header.Set("Authorization", rt.standIn)
			}
			if payloads, _ := pr.In.Context().Value(payloadKey{}).([]string); len(payloads) > 0 {
				for _, p := range payloads {
					out.Header.Add(userinfoHeader, p)
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				writeError(w, http.StatusGatewayTimeout, msgUpstreamTime)
				return
			}
			if r.Context().Err() != nil {
				return // the client went away
			}
			writeError(w, http.StatusServiceUnavailable, msgUpstreamReset+resetReason(err))
		},
	}
}

// pathVariables renders a request's {variable} segments as query
// parameters, as CONSTANT_ADDRESS does.
func pathVariables(template []string, escapedPath string) string {
	segs := strings.Split(strings.TrimSuffix(escapedPath, "/"), "/")
	var vars []string
	for i, s := range template {
		if isVariable(s) && i < len(segs) {
			vars = append(vars, url.QueryEscape(strings.Trim(s, "{}"))+"="+segs[i])
		}
	}
	return strings.Join(vars, "&")
}
