// Package gateway is a local stand-in for API Gateway (ESPv2): it serves
// exactly the operations of a rendered gatehouse OpenAPI document, checks
// JWTs per each operation's security with the document's issuers, and
// forwards per x-google-backend with the headers API Gateway sets.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/spec"
)

// ESPv2's messages, as the client sees them.
const (
	msgNotDefined     = "The current request is not defined by this API."
	msgMissing        = "Jwt is missing"
	msgExpired        = "Jwt is expired"
	msgNotYetValid    = "Jwt not yet valid"
	msgVerification   = "Jwt verification fails"
	msgIssuer         = "Jwt issuer is not configured"
	msgAudience       = "Audiences in Jwt are not allowed"
	msgUpstreamTime   = "upstream request timeout"
	msgUpstreamFailed = "upstream connect error or disconnect/reset before headers"
)

// Headers the gateway owns. A client may not send them: they are removed
// before anything else looks at the request.
const (
	userinfoHeader  = "X-Apigateway-Api-Userinfo"
	forwardedAuthz  = "X-Forwarded-Authorization"
	clockSkew       = 60 * time.Second // ESPv2's default leeway
	defaultDeadline = 15 * time.Second // API Gateway's default backend deadline
)

// methodOverrides are headers some frameworks read to change the method.
// The gateway matches and authenticates on the real method only and drops
// them, so a backend cannot be tricked into another route (CVE-2023-30845).
var methodOverrides = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

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
	segments []string // path split on "/"; "{x}" matches any one segment
	backend  spec.Backend
	target   *url.URL
	proxy    *httputil.ReverseProxy
}

// New builds a gateway for doc (see spec.Parse).
func New(doc *spec.Document, o Options) (*Gateway, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.KeyClient == nil {
		o.KeyClient = &http.Client{Timeout: 10 * time.Second}
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
		g.routes = append(g.routes, route{op: op, segments: strings.Split(op.Path, "/"), backend: b, target: u})
	}
	for i := range g.routes {
		g.routes[i].proxy = g.newProxy(&g.routes[i])
	}
	return g, nil
}

func (g *Gateway) match(method, path string) *route {
	segs := strings.Split(path, "/")
	for i := range g.routes {
		r := &g.routes[i]
		if r.op.Method != method || len(r.segments) != len(segs) {
			continue
		}
		ok := true
		for j, s := range r.segments {
			if !(strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && segs[j] != "") && s != segs[j] {
				ok = false
				break
			}
		}
		if ok {
			return r
		}
	}
	return nil
}

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
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
	// Never trust the client with the gateway's own headers.
	for k := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-apigateway-") || lk == "x-forwarded-authorization" || lk == "x-endpoint-api-userinfo" {
			r.Header.Del(k)
		}
	}
	for _, h := range methodOverrides {
		r.Header.Del(h)
	}

	rt := g.match(r.Method, r.URL.Path)
	if rt == nil {
		writeError(w, http.StatusNotFound, msgNotDefined)
		return "undeclared operation"
	}
	payload := ""
	if len(rt.op.Security) > 0 {
		seg, msg, err := g.authenticate(r, rt.op.Security)
		if msg != "" {
			writeError(w, http.StatusUnauthorized, msg)
			if err != nil {
				return msg + ": " + err.Error()
			}
			return msg
		}
		payload = seg
	}
	g.forward(w, r, rt, payload)
	return ""
}

// token returns the JWT from Authorization: Bearer or ?access_token=.
func token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	return r.URL.Query().Get("access_token")
}

// authenticate verifies the request's JWT against the operation's
// alternatives. It returns the token's payload segment, or ESPv2's message
// and the underlying error.
func (g *Gateway) authenticate(r *http.Request, security [][]string) (string, string, error) {
	raw := token(r)
	if raw == "" {
		return "", msgMissing, nil
	}
	if v, ok := g.cache.get(raw); ok && allows(security, v.provider) {
		// Verified before: only the time checks can change.
		if msg := v.timeCheck(g.opts.Now()); msg != "" {
			return "", msg, nil
		}
		return v.payload, "", nil
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "", msgVerification, errors.New("not a JWS compact token")
	}
	var unverified jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &unverified); err != nil {
		return "", msgVerification, err
	}
	var lastMsg string
	var lastErr error
	for _, alt := range security {
		// Every requirement of an alternative must hold; a token has one
		// issuer, so in practice an alternative names one provider.
		ok := true
		var claims *jwt.RegisteredClaims
		for _, name := range alt {
			is := g.doc.Issuers[name]
			if is.Issuer != unverified.Issuer {
				ok = false
				if lastMsg == "" {
					lastMsg = msgIssuer
				}
				break
			}
			c, msg, err := g.verify(r.Context(), raw, is)
			if msg != "" {
				ok, lastMsg, lastErr = false, msg, err
				break
			}
			claims = c
		}
		if ok && len(alt) == 1 {
			g.cache.put(raw, verified{payload: parts[1], provider: alt[0], exp: timeOf(claims.ExpiresAt), nbf: timeOf(claims.NotBefore)})
		}
		if ok {
			return parts[1], "", nil
		}
	}
	return "", lastMsg, lastErr
}

func allows(security [][]string, provider string) bool {
	for _, alt := range security {
		if len(alt) == 1 && alt[0] == provider {
			return true
		}
	}
	return false
}

func (g *Gateway) verify(ctx context.Context, raw string, is spec.Issuer) (*jwt.RegisteredClaims, string, error) {
	methods := []string{"RS256"}
	if g.opts.Emulator {
		methods = append(methods, "none")
	}
	p := jwt.NewParser(
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(is.Issuer),
		jwt.WithAudience(is.Audiences...),
		jwt.WithLeeway(clockSkew),
		jwt.WithTimeFunc(g.opts.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	var claims jwt.RegisteredClaims
	_, err := p.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		if t.Method == jwt.SigningMethodNone {
			if !g.opts.Emulator {
				return nil, errors.New("unsigned token")
			}
			return jwt.UnsafeAllowNoneSignatureType, nil
		}
		kid, _ := t.Header["kid"].(string)
		return g.keys.key(ctx, is.JWKSURI, kid)
	})
	switch {
	case err == nil:
		return &claims, "", nil
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, msgExpired, err
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, msgNotYetValid, err
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return nil, msgAudience, err
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, msgIssuer, err
	default:
		return nil, msgVerification, err
	}
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

// payloadKey carries the verified payload from authentication to the
// proxy's Rewrite.
type payloadKey struct{}

// forward proxies to the backend the way ESPv2 does: the verified payload
// in X-Apigateway-Api-Userinfo, the caller's Authorization moved to
// X-Forwarded-Authorization, the path per path_translation, and the
// backend deadline enforced (504 past it, 502 when the backend is down).
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, rt *route, payload string) {
	deadline := rt.backend.Deadline
	if deadline == 0 {
		deadline = defaultDeadline
	}
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), payloadKey{}, payload), deadline)
	defer cancel()
	rt.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// newProxy builds the reverse proxy for one route.
func (g *Gateway) newProxy(rt *route) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: g.opts.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			out := pr.Out
			u := *rt.target
			switch rt.backend.PathTranslation {
			case spec.AppendPathToAddress:
				u.Path = strings.TrimSuffix(u.Path, "/") + pr.In.URL.Path
			default: // CONSTANT_ADDRESS: the address as is
				if u.Path == "" {
					u.Path = "/"
				}
			}
			u.RawPath = ""
			u.RawQuery = pr.In.URL.RawQuery
			out.URL = &u
			out.Host = u.Host
			if authz := pr.In.Header.Get("Authorization"); authz != "" {
				out.Header.Set(forwardedAuthz, authz)
			}
			out.Header.Del("Authorization")
			if payload, _ := pr.In.Context().Value(payloadKey{}).(string); payload != "" {
				out.Header.Set(userinfoHeader, payload)
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
			writeError(w, http.StatusBadGateway, msgUpstreamFailed)
		},
	}
}
