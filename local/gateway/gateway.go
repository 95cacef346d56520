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
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

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
	// EmulatorProject, when set, accepts the Firebase Auth emulator's
	// unsigned (alg "none") tokens for that Firebase project's issuer,
	// https://securetoken.google.com/<project>, and for no other: an
	// unsigned token naming any other issuer is refused as ESPv2 refuses
	// it. Issuer, times and audience are still checked. Never for real
	// traffic.
	EmulatorProject string
	Logger          *slog.Logger
	// KeyClient fetches JWKS; Transport carries requests to the backend.
	KeyClient *http.Client
	Transport http.RoundTripper
	Now       func() time.Time
	// JWTLocations are the document's x-google-jwt-locations by
	// securityDefinition name (see JWTLocations); an issuer without an
	// entry is read from ESPv2's default locations.
	JWTLocations map[string][]JWTLocation
	// ServiceAccount is the gateway's service-account email, the email of
	// the stand-in token it sends backends (as API Gateway's ID token of
	// its account carries it): the backends serve identity routes only to
	// requests invoked as GATEWAY_SERVICE_ACCOUNT.
	ServiceAccount string
}

// Gateway is an http.Handler enforcing one rendered document.
type Gateway struct {
	doc        *spec.Document
	opts       Options
	keys       *keySets
	cache      *tokenCache
	extractors map[string]extractor // by securityDefinition name
	routes     []route
	// emulatorIssuer is the one issuer whose unsigned tokens are accepted
	// (Options.EmulatorProject), or "".
	emulatorIssuer string
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
	g := &Gateway{doc: doc, opts: o, keys: newKeySets(o.KeyClient, o.Now), cache: newTokenCache(tokenCacheSize), extractors: map[string]extractor{}}
	if o.EmulatorProject != "" {
		g.emulatorIssuer = "https://securetoken.google.com/" + o.EmulatorProject
	}
	for name := range o.JWTLocations {
		if _, ok := doc.Issuers[name]; !ok {
			return nil, fmt.Errorf("x-google-jwt-locations for %q, which is no issuer of the document", name)
		}
	}
	for name := range doc.Issuers {
		locs, present := o.JWTLocations[name]
		for _, l := range locs {
			if l.Cookie != "" {
				o.Logger.Warn("x-google-jwt-locations: a cookie location is ignored, as ESPv2 ignores it", "issuer", name, "cookie", l.Cookie)
			}
		}
		g.extractors[name] = newExtractor(locs, present)
	}
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
	if doc.CORS {
		g.routes = append(g.routes, preflightRoutes(g.routes)...)
	}
	for i := range g.routes {
		g.routes[i].proxy = g.newProxy(&g.routes[i])
	}
	return g, nil
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
	// The override picks the operation and the method the backend is sent;
	// the response stays framed for the method the client sent, which is
	// r.Method (net/http frames by it), so r.Method is never changed.
	method := r.Method
	if v := r.Header.Values(methodOverride); len(v) > 0 {
		method = v[0]
		r.Header.Del(methodOverride)
	}
	path := normalizePath(r.URL.EscapedPath())
	rt, template := g.match(method, path)
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
	g.forward(w, r, rt, method, path, payloads)
	return ""
}
