package gateway

// The conformance suite: what API Gateway (ESPv2) does, case by case, each
// case citing the ESPv2, Envoy or jwt_verify_lib source it comes from. The
// local gateway must pass every case; where it cannot behave like ESPv2 the
// difference is listed in Deviations (deviations.go), not here.
//
// Sources (GitHub paths):
//   esp-v2    GoogleCloudPlatform/esp-v2
//   envoy     envoyproxy/envoy source/extensions/filters/http/jwt_authn
//   jvl       google/jwt_verify_lib src
//   docs      cloud.google.com/api-gateway/docs

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/spec"
)

const (
	fbIssuer    = "https://securetoken.google.com/demo-proj"
	fbAudience  = "demo-proj"
	mIssuer     = "https://machine.test"
	mAudience   = "https://api.example.com"
	gwHost      = "gw.test"
	backendAud  = "https://backend.test"
	conformNow  = 1_800_000_000
	cacheWindow = jwksCacheDuration
)

// keyring holds the signing keys; generated once for the whole suite.
type keyring struct {
	k1, k2, k3, stranger *rsa.PrivateKey
	ec                   *ecdsa.PrivateKey
}

func newKeyring(t *testing.T) *keyring {
	kr := &keyring{k1: rsaKey(t), k2: rsaKey(t), k3: rsaKey(t), stranger: rsaKey(t)}
	var err error
	if kr.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	return kr
}

// seen is what the backend received.
type seen struct {
	method, host, rawPath, rawQuery string
	header                          http.Header
	body                            string
}

// harness is one gateway in front of a recording backend, with a JWKS
// server and a clock the case controls.
type harness struct {
	t        *testing.T
	kr       *keyring
	now      time.Time
	g        *Gateway
	jwks     *httptest.Server
	backend  *httptest.Server
	mu       sync.Mutex
	last     *seen
	hits     atomic.Int64
	extraKey atomic.Pointer[jose.JSONWebKey] // published on the JWKS when set
	doc      *spec.Document
	opts     Options
}

// rebuild remakes the gateway from a copy of the harness's document,
// changed by change.
func (h *harness) rebuild(change func(d *spec.Document)) {
	h.t.Helper()
	d := *h.doc
	d.Operations = append([]spec.Operation(nil), h.doc.Operations...)
	change(&d)
	g, err := New(&d, h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	h.g = g
}

func (h *harness) fbKeys() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &h.kr.k1.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"},
		{Key: &h.kr.k2.PublicKey, KeyID: "k2", Use: "sig"}, // no alg: any RS/PS
		{Key: &h.kr.k3.PublicKey, KeyID: "ps", Algorithm: "PS256", Use: "sig"},
		{Key: &h.kr.ec.PublicKey, KeyID: "ec", Algorithm: "ES256", Use: "sig"},
	}}
	if k := h.extraKey.Load(); k != nil {
		set.Keys = append(set.Keys, *k)
	}
	return set
}

// newHarness builds the gateway for doc(h) with o (its key client and
// clock are the harness's); backend may be replaced by the case (failure
// modes) through addr.
func newHarness(t *testing.T, kr *keyring, o Options, addr func(h *harness) string) *harness {
	h := &harness{t: t, kr: kr, now: time.Unix(conformNow, 0)}
	h.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fb":
			_ = json.NewEncoder(w).Encode(h.fbKeys())
		case "/m":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &kr.k1.PublicKey, KeyID: "m1", Algorithm: "RS256"}}})
		default:
			http.Error(w, "no such key set", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.jwks.Close)
	h.backend = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.last = &seen{method: r.Method, host: r.Host, rawPath: r.URL.EscapedPath(), rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: string(body)}
		h.mu.Unlock()
		h.hits.Add(1)
		if strings.HasSuffix(r.URL.Path, "/boom") {
			http.Error(w, "backend says no", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"from":"backend"}`)
	}))
	t.Cleanup(h.backend.Close)
	address := h.backend.URL
	if addr != nil {
		address = addr(h)
	}
	secured := [][]string{{"firebase"}}
	doc := &spec.Document{
		Backend: spec.Backend{Address: address + "/base", PathTranslation: spec.AppendPathToAddress, JWTAudience: backendAud, Deadline: 2 * time.Second},
		Issuers: map[string]spec.Issuer{
			"firebase": {Name: "firebase", Issuer: fbIssuer, JWKSURI: h.jwks.URL + "/fb", Audiences: []string{fbAudience}},
			"machine":  {Name: "machine", Issuer: mIssuer, JWKSURI: h.jwks.URL + "/m", Audiences: []string{mAudience}},
			"broken":   {Name: "broken", Issuer: "https://broken.test", JWKSURI: h.jwks.URL + "/down", Audiences: []string{"x"}},
		},
		Operations: []spec.Operation{
			{ID: "hello", Method: "GET", Path: "/v1/hello", Security: secured},
			{ID: "cors_hello", Method: "OPTIONS", Path: "/v1/hello"},
			{ID: "me", Method: "GET", Path: "/v1/me", Security: [][]string{{"firebase"}, {"machine"}}},
			{ID: "cors_me", Method: "OPTIONS", Path: "/v1/me"},
			{ID: "item", Method: "GET", Path: "/v1/items/{id}", Security: secured},
			{ID: "create", Method: "POST", Path: "/v1/items", Security: secured},
			{ID: "fixed", Method: "GET", Path: "/v1/fixed/{id}", Security: secured,
				Backend: &spec.Backend{Address: address + "/const", PathTranslation: spec.ConstantAddress, JWTAudience: backendAud}},
			{ID: "own", Method: "GET", Path: "/v1/own", Security: secured,
				Backend: &spec.Backend{Address: address + "/own", PathTranslation: spec.AppendPathToAddress, DisableAuth: true}},
			{ID: "broken", Method: "GET", Path: "/v1/broken", Security: [][]string{{"broken"}}},
			{ID: "them", Method: "GET", Path: "/v1/them", Security: [][]string{{"machine"}, {"firebase"}}},
		},
	}
	o.KeyClient, o.Now = h.jwks.Client(), func() time.Time { return h.now }
	h.doc, h.opts = doc, o
	g, err := New(doc, o)
	if err != nil {
		t.Fatal(err)
	}
	h.g = g
	return h
}

// claims are a valid Firebase ID token's, changed by change (nil deletes).
func fbClaims(change map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"iss": fbIssuer, "aud": fbAudience, "sub": "user-1", "email": "ada@example.com",
		"iat": conformNow - 10, "exp": conformNow + 3600}
	for k, v := range change {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func (h *harness) sign(method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	h.t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// good is a valid Firebase token signed with k1.
func (h *harness) good(change map[string]any) string {
	return h.sign(jwt.SigningMethodRS256, h.kr.k1, "k1", fbClaims(change))
}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// raw builds a token from JSON texts, for malformed tokens.
func raw(header, payload, sig string) string { return seg(header) + "." + seg(payload) + "." + sig }

var validPayload = `{"iss":"` + fbIssuer + `","aud":"` + fbAudience + `","sub":"u","exp":1800003600}`

type result struct {
	status int
	header http.Header
	body   errorBody
	text   string
}

func (h *harness) do(method, target string, headers map[string]string, body string) result {
	h.t.Helper()
	h.mu.Lock()
	h.last = nil
	h.mu.Unlock()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://"+gwHost+target, r)
	for k, v := range headers {
		req.Header[http.CanonicalHeaderKey(k)] = append(req.Header[http.CanonicalHeaderKey(k)], v)
	}
	rec := httptest.NewRecorder()
	h.g.ServeHTTP(rec, req)
	res := result{status: rec.Code, header: rec.Header(), text: rec.Body.String()}
	_ = json.Unmarshal(rec.Body.Bytes(), &res.body)
	return res
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

// want checks status and, for the gateway's own answers, the JSON message.
func (h *harness) want(res result, status int, msg string) {
	h.t.Helper()
	if res.status != status {
		h.t.Fatalf("status %d (%s), want %d %q", res.status, res.text, status, msg)
	}
	if msg != "" && (res.body.Code != status || res.body.Message != msg) {
		h.t.Fatalf("body %s, want {\"code\":%d,\"message\":%q}", res.text, status, msg)
	}
	if msg != "" && h.lastSeen() != nil {
		h.t.Fatalf("the backend was reached by a request the gateway refused")
	}
}

// reached checks the request got to the backend and returns what it saw.
func (h *harness) reached(res result) *seen {
	h.t.Helper()
	if res.status != 200 || !strings.Contains(res.text, `"from":"backend"`) {
		h.t.Fatalf("status %d %s, want the backend's 200", res.status, res.text)
	}
	return h.lastSeen()
}

func (h *harness) lastSeen() *seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

type conformanceCase struct {
	group, name, source string
	opts                Options                 // the gateway's (Emulator, JWTLocations)
	backend             func(h *harness) string // the backend address, when not the recording one
	run                 func(h *harness)
}

func (h *harness) payloadOf(tok string) string { return strings.Split(tok, ".")[1] }

func TestConformance(t *testing.T) {
	kr := newKeyring(t)
	cases := conformanceCases()
	counts := map[string]int{}
	names := map[string]bool{}
	for _, c := range cases {
		if c.source == "" || c.group == "" {
			t.Errorf("%s: every case names its group and source", c.name)
		}
		if names[c.group+"/"+c.name] {
			t.Errorf("duplicate case %s/%s", c.group, c.name)
		}
		names[c.group+"/"+c.name] = true
		counts[c.group]++
		t.Run(c.group+"/"+c.name, func(t *testing.T) {
			h := newHarness(t, kr, c.opts, c.backend)
			c.run(h)
		})
	}
	groups := make([]string, 0, len(counts))
	for g := range counts {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	var sb strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&sb, " %s=%d", g, counts[g])
	}
	t.Logf("%d conformance cases:%s", len(cases), sb.String())
}

func conformanceCases() []conformanceCase {
	const (
		extractor = "envoy extractor.cc (ExtractorImpl::extract, extractJWT); esp-v2 src/go/configgenerator/filtergen/jwt_authn.go defaultJwtLocations"
		authn     = "envoy authenticator.cc (startVerify, doneWithStatus)"
		parse     = "jvl jwt.cc Jwt::parseFromString (StrSplit SkipEmpty, then header, payload, signature); jvl struct_utils.cc GetUInt64; jvl status.cc"
		times     = "jvl jwt.cc Jwt::verifyTimeConstraint (kClockSkewInSecond 60)"
		audience  = "jvl check_audience.cc; envoy filter.cc onComplete (403 for JwtAudienceNotAllowed)"
		verify    = "jvl verify.cc verifyJwtWithoutTimeChecking"
		filter    = "envoy filter.cc onComplete (WWW-Authenticate)"
		routes    = "esp-v2 src/go/configgenerator/route_generator.go (makeHttpRouteMatchers, makeMethodNotAllowedRoute, makeCatchAllNotFoundRoute)"
		hcm       = "esp-v2 src/go/options/configgenerator.go (NormalizePath, MergeSlashesInPath true; DisallowEscapedSlashesInPath false); filtergen/http_connection_manager.go"
		override  = "esp-v2 src/envoy/utils/http_header_utils.cc handleHttpMethodOverride; tests/integration_test http_method_override_test.go"
		backAuth  = "esp-v2 src/envoy/http/backend_auth/filter.cc decodeHeaders"
		sanitize  = "envoy verifier.cc (sanitizePayloadHeaders only where a requirement runs)"
		retry     = "esp-v2 src/go/options/configgenerator.go (BackendRetryNum 1, BackendRetryOns reset,connect-failure,refused-stream); envoy router upstream reset message"
		translate = "docs openapi-extensions#x-google-backend path_translation; google.api.BackendRule.PathTranslation"
	)
	var cs []conformanceCase
	add := func(group, name, source string, run func(h *harness)) {
		cs = append(cs, conformanceCase{group: group, name: name, source: source, run: run})
	}

	// --- where tokens are found ---------------------------------------
	add("locations", "Authorization Bearer", extractor, func(h *harness) {
		tok := h.good(nil)
		if s := h.reached(h.do("GET", "/v1/hello", bearer(tok), "")); s.header.Get(userinfoHeader) != h.payloadOf(tok) {
			h.t.Errorf("userinfo = %q, want the payload segment", s.header.Get(userinfoHeader))
		}
	})
	add("locations", "prefix is case-sensitive", extractor, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", map[string]string{"Authorization": "bearer " + h.good(nil)}, ""), 401, msgMissing)
	})
	add("locations", "other scheme is no token", extractor, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Basic YTpi"}, ""), 401, msgMissing)
	})
	add("locations", "prefix found anywhere in the value", extractor, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Token Bearer " + h.good(nil)}, ""))
	})
	add("locations", "token starts at the first base64url character", extractor, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer   " + h.good(nil)}, ""))
	})
	add("locations", "access_token query parameter, kept for the backend", extractor+"; jwt_authn.go Forward: true", func(h *harness) {
		tok := h.good(nil)
		if s := h.reached(h.do("GET", "/v1/hello?access_token="+tok, nil, "")); !strings.Contains(s.rawQuery, "access_token="+tok) {
			h.t.Errorf("backend query %q, want the token left in place", s.rawQuery)
		}
	})
	add("locations", "X-Goog-Iap-Jwt-Assertion", extractor, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", map[string]string{"X-Goog-Iap-Jwt-Assertion": h.good(nil)}, ""))
	})
	add("locations", "every token found must verify (bad query token)", authn, func(h *harness) {
		h.want(h.do("GET", "/v1/hello?access_token=garbage", bearer(h.good(nil)), ""), 401, msgBadFormat)
	})
	add("locations", "every token found must verify (expired IAP token)", authn, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer " + h.good(nil),
			"X-Goog-Iap-Jwt-Assertion": h.good(map[string]any{"exp": conformNow - 3600})}, ""), 401, msgExpired)
	})
	add("locations", "two good tokens: both payloads forwarded", authn+" handleGoodJwt", func(h *harness) {
		a, b := h.good(nil), h.good(map[string]any{"sub": "user-2"})
		s := h.reached(h.do("GET", "/v1/hello?access_token="+b, bearer(a), ""))
		if got := s.header.Values(userinfoHeader); len(got) != 2 {
			h.t.Errorf("userinfo values %q, want one per verified token", got)
		}
	})
	add("locations", "no token: 401 with a bare realm", filter, func(h *harness) {
		res := h.do("GET", "/v1/hello?x=1", nil, "")
		h.want(res, 401, msgMissing)
		if got := res.header.Get("WWW-Authenticate"); got != `Bearer realm="http://`+gwHost+`/v1/hello"` {
			h.t.Errorf("WWW-Authenticate %q", got)
		}
	})
	add("locations", "bad token: realm and invalid_token", filter, func(h *harness) {
		res := h.do("GET", "/v1/hello", bearer("garbage"), "")
		h.want(res, 401, msgBadFormat)
		if got := res.header.Get("WWW-Authenticate"); got != `Bearer realm="http://`+gwHost+`/v1/hello", error="invalid_token"` {
			h.t.Errorf("WWW-Authenticate %q", got)
		}
	})

	// --- parsing: each defect's message, in jwt_verify_lib's order ------
	malformed := []struct{ name, token, msg string }{
		{"one dot", "a.b", msgBadFormat},
		{"three dots", "a.b.c.d", msgBadFormat},
		{"empty signature", seg(`{"alg":"RS256"}`) + "." + seg(validPayload) + ".", msgBadFormat},
		{"header not base64url", "e30*." + seg(validPayload) + ".c2ln", msgHeaderBadBase64},
		{"leading non-base64url characters are skipped", "!!!." + seg(validPayload) + ".c2ln", msgBadFormat},
		{"header not JSON", raw(`nope`, validPayload, "c2ln"), msgHeaderBadJSON},
		{"header a JSON array", raw(`["RS256"]`, validPayload, "c2ln"), msgHeaderBadJSON},
		{"no alg", raw(`{"typ":"JWT"}`, validPayload, "c2ln"), msgHeaderBadAlg},
		{"alg not a string", raw(`{"alg":256}`, validPayload, "c2ln"), msgHeaderBadAlg},
		{"alg none", raw(`{"alg":"none"}`, validPayload, "c2ln"), msgHeaderAlgNotImpl},
		{"alg unknown", raw(`{"alg":"RS1024"}`, validPayload, "c2ln"), msgHeaderAlgNotImpl},
		{"kid not a string", raw(`{"alg":"RS256","kid":7}`, validPayload, "c2ln"), msgHeaderBadKid},
		{"payload not base64url", seg(`{"alg":"RS256"}`) + ".!!!.c2ln", msgPayloadBadBase64},
		{"payload not JSON", raw(`{"alg":"RS256"}`, `nope`, "c2ln"), msgPayloadBadJSON},
		{"iss not a string", raw(`{"alg":"RS256"}`, `{"iss":1}`, "c2ln"), msgIssNotString},
		{"sub not a string", raw(`{"alg":"RS256"}`, `{"iss":"`+fbIssuer+`","sub":true}`, "c2ln"), msgSubNotString},
		{"iat not a number", raw(`{"alg":"RS256"}`, `{"iat":"now"}`, "c2ln"), msgIatNotInteger},
		{"nbf not a number", raw(`{"alg":"RS256"}`, `{"nbf":"now"}`, "c2ln"), msgNbfNotInteger},
		{"exp not a number", raw(`{"alg":"RS256"}`, `{"exp":"soon"}`, "c2ln"), msgExpNotInteger},
		{"jti not a string", raw(`{"alg":"RS256"}`, `{"jti":5}`, "c2ln"), msgJtiNotString},
		{"aud not a string or list", raw(`{"alg":"RS256"}`, `{"aud":5}`, "c2ln"), msgAudNotString},
		{"aud list with a number", raw(`{"alg":"RS256"}`, `{"aud":["a",5]}`, "c2ln"), msgAudNotString},
		{"signature not base64url", raw(`{"alg":"RS256"}`, validPayload, "!!!"), msgSignatureBadBase64},
		// Sections are split with empty ones skipped, not counted by dots.
		{"alg none after a trailing dot: alg not implemented", raw(`{"alg":"none"}`, validPayload, "c2ln") + ".", msgHeaderAlgNotImpl},
		{"alg none with an empty section: alg not implemented", seg(`{"alg":"none"}`) + ".." + seg(validPayload) + ".c2ln", msgHeaderAlgNotImpl},
		{"alg none, unsigned: two sections", raw(`{"alg":"none"}`, validPayload, ""), msgBadFormat},
		{"alg HS256 unsigned: two sections", raw(`{"alg":"HS256"}`, validPayload, ""), msgBadFormat},
		{"four sections", raw(`{"alg":"none"}`, validPayload, "c2ln") + ".c2ln", msgBadFormat},
		// Times are unsigned 64-bit integers (StructUtils::GetUInt64).
		{"exp negative", raw(`{"alg":"RS256"}`, `{"iss":"`+fbIssuer+`","exp":-1}`, "c2ln"), msgExpOutOfRange},
		{"nbf of 2^64", raw(`{"alg":"RS256"}`, `{"nbf":18446744073709551616}`, "c2ln"), msgNbfOutOfRange},
		{"iat negative, before nbf and exp", raw(`{"alg":"RS256"}`, `{"iat":-5,"exp":"x"}`, "c2ln"), msgIatOutOfRange},
		{"exp a string is the wrong type, not out of range", raw(`{"alg":"RS256"}`, `{"exp":"-1"}`, "c2ln"), msgExpNotInteger},
	}
	for _, m := range malformed {
		add("parse", m.name, parse, func(h *harness) {
			h.want(h.do("GET", "/v1/hello", bearer(m.token), ""), 401, m.msg)
		})
	}
	add("parse", "a good token with a trailing dot verifies", parse+"; jvl verify.cc (signs header.payload as parsed)", func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(nil)+"."), ""))
	})
	add("parse", "a good token with an empty section verifies", parse+"; jvl verify.cc", func(h *harness) {
		p := strings.Split(h.good(nil), ".")
		h.reached(h.do("GET", "/v1/hello", bearer(p[0]+"."+p[1]+".."+p[2]), ""))
	})

	// --- claims: issuer, times, audience, in that order ----------------
	add("claims", "unknown issuer", authn, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"iss": "https://evil.test"})), ""), 401, msgUnknownIssuer)
	})
	add("claims", "expired beyond the skew", times, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"exp": conformNow - 61})), ""), 401, msgExpired)
	})
	add("claims", "expired within the 60 s skew", times, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"exp": conformNow - 59})), ""))
	})
	add("claims", "nbf beyond the skew", times, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"nbf": conformNow + 61})), ""), 401, msgNotYetValid)
	})
	add("claims", "nbf within the skew", times, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"nbf": conformNow + 59})), ""))
	})
	add("claims", "exp is optional", times, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"exp": nil})), ""))
	})
	add("claims", "iat is not checked", times, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"iat": conformNow + 7200})), ""))
	})
	add("claims", "wrong audience is 403", audience, func(h *harness) {
		res := h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"aud": "someone-else"})), "")
		h.want(res, 403, msgAudience)
		if !strings.Contains(res.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			h.t.Errorf("WWW-Authenticate %q", res.header.Get("WWW-Authenticate"))
		}
	})
	add("claims", "no aud claim is 403", audience, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"aud": nil})), ""), 403, msgAudience)
	})
	add("claims", "one allowed audience among others", audience, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"aud": []string{"x", fbAudience}})), ""))
	})
	add("claims", "audiences compared without scheme and trailing slash", audience, func(h *harness) {
		tok := h.sign(jwt.SigningMethodRS256, h.kr.k1, "m1", jwt.MapClaims{"iss": mIssuer, "aud": "api.example.com/", "sub": "m", "exp": conformNow + 60})
		h.reached(h.do("GET", "/v1/me", bearer(tok), ""))
	})
	add("claims", "issuer is checked before times", authn, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"iss": "https://evil.test", "exp": conformNow - 3600})), ""), 401, msgUnknownIssuer)
	})
	add("claims", "times are checked before the audience", authn, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.good(map[string]any{"aud": "x", "exp": conformNow - 3600})), ""), 401, msgExpired)
	})
	add("claims", "audience is checked before the signature", authn, func(h *harness) {
		tok := h.sign(jwt.SigningMethodRS256, h.kr.stranger, "k1", fbClaims(map[string]any{"aud": "x"}))
		h.want(h.do("GET", "/v1/hello", bearer(tok), ""), 403, msgAudience)
	})
	const anyVerifier = "envoy verifier.cc AnyVerifierImpl::onComplete (children ranked in listed order: other errors over JwtUnknownIssuer over JwtMissed); esp-v2 filtergen/jwt_authn.go makeJwtRequirement"
	add("claims", "alternatives: the matching issuer's failure outranks the others' unknown issuer", anyVerifier, func(h *harness) {
		// /v1/me accepts firebase or machine: the token is firebase's and
		// fails there on the audience; machine does not know its issuer.
		h.want(h.do("GET", "/v1/me", bearer(h.good(map[string]any{"aud": "x"})), ""), 403, msgAudience)
	})
	add("claims", "alternatives: ranked by listed order, not by which completed last", anyVerifier+"; "+authn+" (remote fetch completes asynchronously)", func(h *harness) {
		// The machine check fails on the signature after fetching keys:
		// it completes last and is also the one that knows the issuer.
		tok := h.sign(jwt.SigningMethodRS256, h.kr.stranger, "m1", jwt.MapClaims{"iss": mIssuer, "aud": mAudience, "exp": conformNow + 60})
		h.want(h.do("GET", "/v1/me", bearer(tok), ""), 401, msgVerification)
	})
	add("claims", "alternatives: an issuer no provider knows", anyVerifier, func(h *harness) {
		h.want(h.do("GET", "/v1/me", bearer(h.good(map[string]any{"iss": "https://evil.test"})), ""), 401, msgUnknownIssuer)
	})
	add("claims", "alternatives: no token for any", anyVerifier, func(h *harness) {
		h.want(h.do("GET", "/v1/me", nil, ""), 401, msgMissing)
	})
	add("claims", "alternatives: the first passes", anyVerifier, func(h *harness) {
		tok := h.good(nil)
		if s := h.reached(h.do("GET", "/v1/me", bearer(tok), "")); s.header.Get(userinfoHeader) != h.payloadOf(tok) {
			h.t.Errorf("userinfo %q", s.header.Get(userinfoHeader))
		}
	})
	add("claims", "alternatives: the second passes", "envoy verifier.cc AnyVerifierImpl", func(h *harness) {
		tok := h.sign(jwt.SigningMethodRS256, h.kr.k1, "m1", jwt.MapClaims{"iss": mIssuer, "aud": mAudience, "sub": "m", "exp": conformNow + 60})
		h.reached(h.do("GET", "/v1/me", bearer(tok), ""))
	})

	// --- keys and signatures -------------------------------------------
	add("signature", "wrong key", verify, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS256, h.kr.stranger, "k1", fbClaims(nil))), ""), 401, msgVerification)
	})
	add("signature", "tampered payload", verify, func(h *harness) {
		p := strings.Split(h.good(nil), ".")
		h.want(h.do("GET", "/v1/hello", bearer(p[0]+"."+seg(strings.Replace(validPayload, `"sub":"u"`, `"sub":"admin"`, 1))+"."+p[2]), ""), 401, msgVerification)
	})
	add("signature", "unknown kid", verify, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS256, h.kr.k1, "nope", fbClaims(nil))), ""), 401, msgKidAlgMismatch)
	})
	add("signature", "alg differs from the key's alg", verify, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS384, h.kr.k1, "k1", fbClaims(nil))), ""), 401, msgKidAlgMismatch)
	})
	add("signature", "no kid: every key is tried", verify, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS256, h.kr.k2, "", fbClaims(nil))), ""))
	})
	add("signature", "no kid, no key verifies", verify, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS256, h.kr.stranger, "", fbClaims(nil))), ""), 401, msgVerification)
	})
	add("signature", "RS384 with a key without alg", verify+"; jwt.cc isImplemented", func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS384, h.kr.k2, "k2", fbClaims(nil))), ""))
	})
	add("signature", "RS512", verify, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodRS512, h.kr.k2, "k2", fbClaims(nil))), ""))
	})
	add("signature", "PS256", verify, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodPS256, h.kr.k3, "ps", fbClaims(nil))), ""))
	})
	add("signature", "ES256", verify, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.sign(jwt.SigningMethodES256, h.kr.ec, "ec", fbClaims(nil))), ""))
	})
	add("signature", "HS256 keyed with a public key is refused", verify, func(h *harness) {
		tok := h.sign(jwt.SigningMethodHS256, h.kr.k2.PublicKey.N.Bytes(), "k2", fbClaims(nil))
		h.want(h.do("GET", "/v1/hello", bearer(tok), ""), 401, msgVerification)
	})
	add("signature", "JWKS fetch failure", authn+" onJwksError; jvl status.cc JwksFetchFail", func(h *harness) {
		tok := h.sign(jwt.SigningMethodRS256, h.kr.k1, "k1", jwt.MapClaims{"iss": "https://broken.test", "aud": "x", "exp": conformNow + 60})
		h.want(h.do("GET", "/v1/broken", bearer(tok), ""), 401, msgJWKSFetch)
	})
	add("signature", "keys cached for 300 s: a new key waits", "esp-v2 options JwksCacheDurationInS 300; "+authn+" (no refetch on an unknown kid)", func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(nil)), "")) // keys fetched now
		h.extraKey.Store(&jose.JSONWebKey{Key: &h.kr.stranger.PublicKey, KeyID: "new", Algorithm: "RS256"})
		tok := h.sign(jwt.SigningMethodRS256, h.kr.stranger, "new", fbClaims(map[string]any{"exp": conformNow + 7200}))
		h.now = h.now.Add(cacheWindow - time.Second)
		h.want(h.do("GET", "/v1/hello", bearer(tok), ""), 401, msgKidAlgMismatch)
		h.now = h.now.Add(time.Second)
		h.reached(h.do("GET", "/v1/hello", bearer(tok), ""))
	})
	add("signature", "a cached token still expires", "envoy jwt_cache.cc; "+authn+" (time checks on a cache hit)", func(h *harness) {
		tok := h.good(map[string]any{"exp": conformNow + 100})
		h.reached(h.do("GET", "/v1/hello", bearer(tok), ""))
		h.now = h.now.Add(161 * time.Second)
		h.want(h.do("GET", "/v1/hello", bearer(tok), ""), 401, msgExpired)
	})

	// --- x-google-jwt-locations ---------------------------------------------
	const jwtLocations = "esp-v2 src/go/configgenerator/filtergen/jwt_authn.go processJwtLocations; envoy extractor.cc (ExtractorImpl::addProvider, extract)"
	addLoc := func(name, source string, locs map[string][]JWTLocation, run func(h *harness)) {
		cs = append(cs, conformanceCase{group: "jwt-locations", name: name, source: source, opts: Options{JWTLocations: locs}, run: run})
	}
	bearerOnly := map[string][]JWTLocation{"firebase": {{Header: "Authorization", ValuePrefix: "Bearer "}}}
	addLoc("Authorization only: the header is read", jwtLocations, bearerOnly, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(nil)), ""))
	})
	addLoc("Authorization only: access_token is not read", jwtLocations, bearerOnly, func(h *harness) {
		h.want(h.do("GET", "/v1/hello?access_token="+h.good(nil), nil, ""), 401, msgMissing)
	})
	addLoc("Authorization only: a bad access_token is not checked, and stays", jwtLocations, bearerOnly, func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/hello?access_token=garbage", bearer(h.good(nil)), "")); s.rawQuery != "access_token=garbage" {
			h.t.Errorf("backend query %q", s.rawQuery)
		}
	})
	addLoc("Authorization only: X-Goog-Iap-Jwt-Assertion is not read", jwtLocations, bearerOnly, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-Goog-Iap-Jwt-Assertion": h.good(nil)}, ""), 401, msgMissing)
	})
	addLoc("a header without a prefix: the whole value", jwtLocations, map[string][]JWTLocation{"firebase": {{Header: "X-Token"}}}, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", map[string]string{"X-Token": h.good(nil)}, ""))
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-Token": "Bearer " + h.good(nil)}, ""), 401, msgHeaderBadBase64)
	})
	addLoc("a custom prefix, found anywhere in the value", jwtLocations, map[string][]JWTLocation{"firebase": {{Header: "X-Token", ValuePrefix: "JWT "}}}, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", map[string]string{"X-Token": "scheme JWT " + h.good(nil)}, ""))
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-Token": "Bearer " + h.good(nil)}, ""), 401, msgMissing)
	})
	addLoc("a prefix followed by no token character: the whole value", jwtLocations+" (extractJWT)", map[string][]JWTLocation{"firebase": {{Header: "X-Token", ValuePrefix: "JWT "}}}, func(h *harness) {
		// "a.b.c JWT !" is taken whole: three sections, the header "a"
		// not base64url.
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-Token": "a.b.c JWT !"}, ""), 401, msgHeaderBadBase64)
	})
	addLoc("a query parameter", jwtLocations, map[string][]JWTLocation{"firebase": {{Query: "jwt"}}}, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello?jwt="+h.good(nil), nil, ""))
		h.want(h.do("GET", "/v1/hello", bearer(h.good(nil)), ""), 401, msgMissing)
	})
	addLoc("cookie locations are skipped; with none left, Envoy's defaults", jwtLocations+" (cookie: default case, skipped)", map[string][]JWTLocation{"firebase": {{Cookie: "session"}}}, func(h *harness) {
		h.reached(h.do("GET", "/v1/hello", bearer(h.good(nil)), ""))
		h.reached(h.do("GET", "/v1/hello?access_token="+h.good(nil), nil, ""))
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-Goog-Iap-Jwt-Assertion": h.good(nil), "Cookie": "session=" + h.good(nil)}, ""), 401, msgMissing)
	})
	addLoc("headers are read in name order, the last found checked first", jwtLocations+"; "+authn, map[string][]JWTLocation{"firebase": {{Header: "X-B"}, {Header: "X-A"}}}, func(h *harness) {
		// Both must verify; the X-B token is checked first and reported.
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-A": h.good(map[string]any{"aud": "x"}), "X-B": h.good(map[string]any{"exp": conformNow - 3600})}, ""), 401, msgExpired)
	})
	split := map[string][]JWTLocation{"firebase": {{Header: "Authorization", ValuePrefix: "Bearer "}}, "machine": {{Header: "X-Machine-Token"}}}
	addLoc("each provider reads its own locations", jwtLocations+"; envoy verifier.cc ProviderVerifierImpl (an extractor per provider)", split, func(h *harness) {
		tok := h.sign(jwt.SigningMethodRS256, h.kr.k1, "m1", jwt.MapClaims{"iss": mIssuer, "aud": mAudience, "sub": "m", "exp": conformNow + 60})
		h.reached(h.do("GET", "/v1/me", map[string]string{"X-Machine-Token": tok}, ""))
		h.want(h.do("GET", "/v1/me", bearer(tok), ""), 401, msgUnknownIssuer)
	})
	addLoc("alternatives: unknown issuer outranks missing, whatever the order", anyVerifier, split, func(h *harness) {
		// firebase finds a machine token (not its issuer), machine finds
		// none; machine is listed last.
		tok := h.sign(jwt.SigningMethodRS256, h.kr.k1, "m1", jwt.MapClaims{"iss": mIssuer, "aud": mAudience, "exp": conformNow + 60})
		h.want(h.do("GET", "/v1/me", bearer(tok), ""), 401, msgUnknownIssuer)
	})
	addLoc("alternatives: the last listed failure, though another completes later", anyVerifier+"; "+authn+" (remote fetch)", split, func(h *harness) {
		// /v1/them lists machine, then firebase. machine fails on the
		// signature after a key fetch (completing last); firebase's
		// expired token is listed last and is reported.
		bad := h.sign(jwt.SigningMethodRS256, h.kr.stranger, "m1", jwt.MapClaims{"iss": mIssuer, "aud": mAudience, "exp": conformNow + 60})
		h.want(h.do("GET", "/v1/them", map[string]string{"X-Machine-Token": bad, "Authorization": "Bearer " + h.good(map[string]any{"exp": conformNow - 3600})}, ""), 401, msgExpired)
		h.want(h.do("GET", "/v1/me", map[string]string{"X-Machine-Token": bad, "Authorization": "Bearer " + h.good(map[string]any{"exp": conformNow - 3600})}, ""), 401, msgVerification)
	})

	// --- routing --------------------------------------------------------
	add("routing", "undeclared method: 405 naming the template", routes, func(h *harness) {
		h.want(h.do("POST", "/v1/hello", bearer(h.good(nil)), ""), 405, msgMethodNotAllowed("/v1/hello"))
	})
	add("routing", "405 before authentication", routes, func(h *harness) {
		h.want(h.do("DELETE", "/v1/items/7", nil, ""), 405, msgMethodNotAllowed("/v1/items/{id}"))
	})
	add("routing", "HEAD is not GET", routes, func(h *harness) {
		h.want(h.do("HEAD", "/v1/hello", bearer(h.good(nil)), ""), 405, msgMethodNotAllowed("/v1/hello"))
	})
	add("routing", "OPTIONS without a declared CORS operation, without allowCors", routes, func(h *harness) {
		h.want(h.do("OPTIONS", "/v1/items/7", map[string]string{"Origin": "https://app.test", "Access-Control-Request-Method": "GET"}, ""), 405, msgMethodNotAllowed("/v1/items/{id}"))
	})
	add("routing", "undeclared path: 404 before authentication", routes, func(h *harness) {
		h.want(h.do("GET", "/v1/admin", nil, ""), 404, msgNotDefined)
	})
	add("routing", "paths are case-sensitive", routes+"; docs oasv2-extensions x-google-allow", func(h *harness) {
		h.want(h.do("GET", "/V1/hello", bearer(h.good(nil)), ""), 404, msgNotDefined)
	})
	add("routing", "one trailing slash matches", routes, func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/hello/", bearer(h.good(nil)), "")); s.rawPath != "/base/v1/hello/" {
			h.t.Errorf("backend path %q", s.rawPath)
		}
	})
	add("routing", "trailing slash on a template with a variable", routes+" (UriTemplate.Regex optional trailing slash)", func(h *harness) {
		h.reached(h.do("GET", "/v1/items/7/", bearer(h.good(nil)), ""))
	})
	add("routing", "empty variable segment", routes, func(h *harness) {
		h.want(h.do("GET", "/v1/items/", bearer(h.good(nil)), ""), 405, msgMethodNotAllowed("/v1/items"))
	})
	add("routing", "a variable matches one segment", routes, func(h *harness) {
		h.want(h.do("GET", "/v1/items/1/2", bearer(h.good(nil)), ""), 404, msgNotDefined)
	})
	add("routing", "slashes merged", hcm, func(h *harness) {
		if s := h.reached(h.do("GET", "//v1///hello", bearer(h.good(nil)), "")); s.rawPath != "/base/v1/hello" {
			h.t.Errorf("backend path %q, want the normalised path", s.rawPath)
		}
	})
	add("routing", "dot-dot segments resolved", hcm, func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/admin/../hello", bearer(h.good(nil)), "")); s.rawPath != "/base/v1/hello" {
			h.t.Errorf("backend path %q", s.rawPath)
		}
	})
	add("routing", "dot segments resolved", hcm, func(h *harness) {
		h.reached(h.do("GET", "/v1/./hello", bearer(h.good(nil)), ""))
	})
	add("routing", "dot-dot cannot climb above the root", hcm, func(h *harness) {
		h.reached(h.do("GET", "/../../v1/hello", bearer(h.good(nil)), ""))
	})
	add("routing", "percent-encoding kept as sent", hcm+" (PathWithEscapedSlashesAction KEEP_UNCHANGED)", func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/items/a%2Fb%20c", bearer(h.good(nil)), "")); s.rawPath != "/base/v1/items/a%2Fb%20c" {
			h.t.Errorf("backend path %q", s.rawPath)
		}
	})
	add("routing", "query string passed as sent", translate, func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/hello?b=2&a=%20", bearer(h.good(nil)), "")); s.rawQuery != "b=2&a=%20" {
			h.t.Errorf("backend query %q", s.rawQuery)
		}
	})
	add("routing", "APPEND_PATH_TO_ADDRESS", translate, func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/items/42", bearer(h.good(nil)), "")); s.rawPath != "/base/v1/items/42" {
			h.t.Errorf("backend path %q", s.rawPath)
		}
	})
	add("routing", "CONSTANT_ADDRESS: variables as query parameters", translate, func(h *harness) {
		s := h.reached(h.do("GET", "/v1/fixed/42?tz=EST", bearer(h.good(nil)), ""))
		if s.rawPath != "/const" || s.rawQuery != "tz=EST&id=42" {
			h.t.Errorf("backend got %s?%s, want /const?tz=EST&id=42", s.rawPath, s.rawQuery)
		}
	})
	add("routing", "default path_translation depends on where x-google-backend stands", translate, func(h *harness) {
		doc, err := spec.Parse([]byte(`swagger: "2.0"
info: {title: t, version: "1"}
x-google-backend: {address: "`+h.backend.URL+`/top"}
securityDefinitions:
  firebase: {type: oauth2, flow: implicit, authorizationUrl: "", x-google-issuer: "`+fbIssuer+`", x-google-jwks_uri: "`+h.jwks.URL+`/fb", x-google-audiences: "`+fbAudience+`"}
paths:
  /v1/hello:
    get: {operationId: hello, security: [{firebase: []}], responses: {"200": {description: ok}}}
  /v1/me:
    get: {operationId: me, security: [{firebase: []}], x-google-backend: {address: "`+h.backend.URL+`/op"}, responses: {"200": {description: ok}}}
`), spec.Options{Local: true})
		if err != nil {
			h.t.Fatal(err)
		}
		g, err := New(doc, Options{KeyClient: h.jwks.Client(), Now: func() time.Time { return h.now }})
		if err != nil {
			h.t.Fatal(err)
		}
		h.g = g
		if s := h.reached(h.do("GET", "/v1/hello", bearer(h.good(nil)), "")); s.rawPath != "/top/v1/hello" {
			h.t.Errorf("top-level backend: path %q, want /top/v1/hello (APPEND_PATH_TO_ADDRESS)", s.rawPath)
		}
		if s := h.reached(h.do("GET", "/v1/me", bearer(h.good(nil)), "")); s.rawPath != "/op" {
			h.t.Errorf("operation backend: path %q, want /op (CONSTANT_ADDRESS)", s.rawPath)
		}
	})

	// --- headers --------------------------------------------------------
	add("headers", "X-HTTP-Method-Override applied before routing", override, func(h *harness) {
		s := h.reached(h.do("POST", "/v1/hello", map[string]string{"Authorization": "Bearer " + h.good(nil), "X-HTTP-Method-Override": "GET"}, "body"))
		if s.method != "GET" || s.header.Get(methodOverride) != "" {
			h.t.Errorf("backend got %s with override header %q, want GET without it", s.method, s.header.Get(methodOverride))
		}
	})
	add("headers", "X-HTTP-Method-Override to an undeclared method", override, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", map[string]string{"X-HTTP-Method-Override": "DELETE"}, ""), 405, msgMethodNotAllowed("/v1/hello"))
	})
	add("headers", "X-HTTP-Method-Override keeps the body", override+" TestMethodOverrideBackendBody", func(h *harness) {
		s := h.reached(h.do("PUT", "/v1/items", map[string]string{"Authorization": "Bearer " + h.good(nil), "X-HTTP-Method-Override": "POST"}, "hello"))
		if s.method != "POST" || s.body != "hello" {
			h.t.Errorf("backend got %s %q", s.method, s.body)
		}
	})
	add("headers", "other override headers pass through", override+" (only x-http-method-override is read)", func(h *harness) {
		s := h.reached(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer " + h.good(nil), "X-HTTP-Method": "DELETE", "X-Method-Override": "PUT"}, ""))
		if s.method != "GET" || s.header.Get("X-Http-Method") != "DELETE" || s.header.Get("X-Method-Override") != "PUT" {
			h.t.Errorf("backend got %s, headers %v", s.method, s.header)
		}
	})
	add("headers", "client userinfo replaced where a JWT is required", sanitize, func(h *harness) {
		tok := h.good(nil)
		s := h.reached(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer " + tok, userinfoHeader: seg(`{"sub":"admin"}`)}, ""))
		if got := s.header.Values(userinfoHeader); len(got) != 1 || got[0] != h.payloadOf(tok) {
			h.t.Errorf("userinfo %q, want only the verified payload", got)
		}
	})
	add("headers", "client userinfo passes through where none is required", sanitize, func(h *harness) {
		forged := seg(`{"sub":"admin"}`)
		s := h.reached(h.do("OPTIONS", "/v1/hello", map[string]string{userinfoHeader: forged}, ""))
		if s.header.Get(userinfoHeader) != forged {
			h.t.Errorf("userinfo %q: ESPv2 leaves it on unauthenticated operations", s.header.Get(userinfoHeader))
		}
	})
	add("headers", "other X-Apigateway headers pass through", sanitize, func(h *harness) {
		s := h.reached(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer " + h.good(nil), "X-Apigateway-Foo": "client"}, ""))
		if s.header.Get("X-Apigateway-Foo") != "client" {
			h.t.Errorf("X-Apigateway-Foo = %q", s.header.Get("X-Apigateway-Foo"))
		}
	})
	add("headers", "backend Authorization is the gateway's; the caller's moves", backAuth, func(h *harness) {
		tok := h.good(nil)
		s := h.reached(h.do("GET", "/v1/hello", bearer(tok), ""))
		if s.header.Get(forwardedAuthz) != "Bearer "+tok {
			h.t.Errorf("X-Forwarded-Authorization %q", s.header.Get(forwardedAuthz))
		}
		authz := s.header.Get("Authorization")
		parts := strings.Split(strings.TrimPrefix(authz, "Bearer "), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(parts[min(1, len(parts)-1)])
		if !strings.HasPrefix(authz, "Bearer ") || len(parts) != 3 || !strings.Contains(string(payload), `"aud":"`+backendAud+`"`) {
			h.t.Errorf("backend Authorization %q (%s), want the stand-in for an ID token with aud %s", authz, payload, backendAud)
		}
	})
	add("headers", "a client's X-Forwarded-Authorization is kept, the gateway's added", backAuth+" (addCopy)", func(h *harness) {
		tok := h.good(nil)
		s := h.reached(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer " + tok, forwardedAuthz: "Bearer forged"}, ""))
		if got := s.header.Values(forwardedAuthz); len(got) != 2 || got[0] != "Bearer forged" || got[1] != "Bearer "+tok {
			h.t.Errorf("X-Forwarded-Authorization %q", got)
		}
	})
	add("headers", "disable_auth: the caller's Authorization reaches the backend", backAuth+" (no per-route config); docs x-google-backend disable_auth", func(h *harness) {
		tok := h.good(nil)
		s := h.reached(h.do("GET", "/v1/own", bearer(tok), ""))
		if s.header.Get("Authorization") != "Bearer "+tok || len(s.header.Values(forwardedAuthz)) != 0 {
			h.t.Errorf("backend Authorization %q, X-Forwarded-Authorization %q", s.header.Get("Authorization"), s.header.Values(forwardedAuthz))
		}
	})
	add("headers", "Host is the backend's host name", routes+" (HostRewriteLiteral)", func(h *harness) {
		if s := h.reached(h.do("GET", "/v1/hello", bearer(h.good(nil)), "")); s.host != "127.0.0.1" {
			h.t.Errorf("backend Host %q, want 127.0.0.1", s.host)
		}
	})
	add("headers", "header names with underscores are refused", hcm+" (HeadersWithUnderscoresAction REJECT_REQUEST); envoy http1 codec", func(h *harness) {
		h.want(h.do("GET", "/v1/hello", map[string]string{"Authorization": "Bearer " + h.good(nil), "X_User": "x"}, ""), 400, msgBadRequest)
	})

	// --- backend failures -------------------------------------------------
	cs = append(cs, conformanceCase{group: "backend", name: "connection refused: retried, then 503", source: retry,
		backend: func(h *harness) string { return closedAddress(h.t) },
		run: func(h *harness) {
			h.want(h.do("GET", "/v1/hello", bearer(h.good(nil)), ""), 503, msgUpstreamReset+
				"retried and the latest reset reason: remote connection failure, transport failure reason: delayed connect error: 111")
		}})
	var resets atomic.Int64
	cs = append(cs, conformanceCase{group: "backend", name: "reset before headers: retried once, then 503", source: retry,
		backend: func(h *harness) string { return resettingBackend(h.t, &resets, 100) },
		run: func(h *harness) {
			resets.Store(0)
			h.want(h.do("GET", "/v1/hello", bearer(h.good(nil)), ""), 503, msgUpstreamReset+"retried and the latest reset reason: connection termination")
			if n := resets.Load(); n != 2 {
				h.t.Errorf("%d connections, want 2 (one retry)", n)
			}
		}})
	var flaky atomic.Int64
	cs = append(cs, conformanceCase{group: "backend", name: "one reset: the retry succeeds with the body", source: retry,
		backend: func(h *harness) string { return resettingBackend(h.t, &flaky, 1) },
		run: func(h *harness) {
			flaky.Store(0)
			res := h.do("POST", "/v1/items", bearer(h.good(nil)), "payload")
			if res.status != 200 || !strings.Contains(res.text, "POST payload") {
				h.t.Errorf("after one reset: %d %s, want the retried request served", res.status, res.text)
			}
		}})
	cs = append(cs, conformanceCase{group: "backend", name: "deadline: 504", source: "envoy router timeout; docs x-google-backend deadline",
		backend: func(h *harness) string { return slowBackend(h.t) },
		run: func(h *harness) {
			h.want(h.do("GET", "/v1/hello", bearer(h.good(nil)), ""), 504, msgUpstreamTime)
		}})
	add("backend", "the backend's own errors pass through", "envoy router (upstream responses are proxied)", func(h *harness) {
		res := h.do("GET", "/v1/items/boom", bearer(h.good(nil)), "")
		if res.status != 502 || res.text != "backend says no\n" {
			h.t.Errorf("%d %s", res.status, res.text)
		}
	})

	// --- CORS -------------------------------------------------------------
	add("cors", "preflight reaches the backend without a JWT", "docs oasv2-extensions allowCors; esp-v2 route_generator.go (OPTIONS operations route like any other)", func(h *harness) {
		s := h.reached(h.do("OPTIONS", "/v1/hello", map[string]string{"Origin": "https://app.test", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}, ""))
		if s.method != "OPTIONS" || s.header.Get("Origin") != "https://app.test" {
			h.t.Errorf("backend got %s, Origin %q", s.method, s.header.Get("Origin"))
		}
	})
	add("cors", "preflight to every declared path", "docs oasv2-extensions allowCors", func(h *harness) {
		h.reached(h.do("OPTIONS", "/v1/me", map[string]string{"Origin": "https://app.test", "Access-Control-Request-Method": "GET"}, ""))
	})
	add("cors", "the gateway's own replies carry no CORS headers", "esp-v2 src/go/configgenerator/route_generator.go makeRouteCors (CORS policy only with cors_preset)", func(h *harness) {
		res := h.do("GET", "/v1/hello", map[string]string{"Origin": "https://app.test"}, "")
		h.want(res, 401, msgMissing)
		for k := range res.header {
			if strings.HasPrefix(k, "Access-Control-") {
				h.t.Errorf("gateway 401 carries %s", k)
			}
		}
	})
	add("cors", "a preflight needs no token even if one is bad", "docs oasv2-extensions allowCors; "+sanitize, func(h *harness) {
		h.reached(h.do("OPTIONS", "/v1/hello", map[string]string{"Origin": "https://app.test", "Access-Control-Request-Method": "GET", "Authorization": "Bearer garbage"}, ""))
	})

	const proxyCORS = "esp-v2 src/go/configinfo/service_info.go processHttpRule (OPTIONS added to every path under allowCors); src/go/configgenerator/routegen/proxy_cors.go (proxied to the path's backend, no requirement)"
	allowCors := func(d *spec.Document) { d.CORS = true }
	add("cors", "allowCors: a preflight to a path without an OPTIONS operation reaches its backend", proxyCORS, func(h *harness) {
		h.rebuild(allowCors)
		s := h.reached(h.do("OPTIONS", "/v1/items/7", map[string]string{"Origin": "https://app.test", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}, ""))
		if s.method != "OPTIONS" || s.rawPath != "/base/v1/items/7" || s.header.Get("Origin") != "https://app.test" {
			h.t.Errorf("backend got %s %s, Origin %q", s.method, s.rawPath, s.header.Get("Origin"))
		}
	})
	add("cors", "allowCors: the preflight follows the operation's backend and path translation", proxyCORS+"; "+translate, func(h *harness) {
		h.rebuild(allowCors)
		if s := h.reached(h.do("OPTIONS", "/v1/fixed/42", map[string]string{"Origin": "https://app.test"}, "")); s.rawPath != "/const" || s.rawQuery != "id=42" {
			h.t.Errorf("backend got %s?%s, want /const?id=42", s.rawPath, s.rawQuery)
		}
	})
	add("cors", "allowCors: a bad token does not stop the preflight, a client's userinfo passes", proxyCORS+"; "+sanitize, func(h *harness) {
		h.rebuild(allowCors)
		forged := seg(`{"sub":"admin"}`)
		s := h.reached(h.do("OPTIONS", "/v1/items", map[string]string{"Authorization": "Bearer garbage", userinfoHeader: forged}, ""))
		if s.header.Get(userinfoHeader) != forged {
			h.t.Errorf("userinfo %q", s.header.Get(userinfoHeader))
		}
	})
	add("cors", "allowCors: a declared OPTIONS operation is used as declared", proxyCORS+" (declared routes first)", func(h *harness) {
		h.rebuild(func(d *spec.Document) {
			d.CORS = true
			d.Operations = append(d.Operations, spec.Operation{ID: "cors_item", Method: "OPTIONS", Path: "/v1/items/{x}", Security: [][]string{{"firebase"}}})
		})
		h.want(h.do("OPTIONS", "/v1/items/7", nil, ""), 401, msgMissing)
	})
	add("cors", "allowCors: an undeclared path is still 404", proxyCORS+"; "+routes, func(h *harness) {
		h.rebuild(allowCors)
		h.want(h.do("OPTIONS", "/v1/admin", map[string]string{"Origin": "https://app.test"}, ""), 404, msgNotDefined)
	})
	add("cors", "allowCors: other undeclared methods are still 405", proxyCORS+"; "+routes, func(h *harness) {
		h.rebuild(allowCors)
		h.want(h.do("DELETE", "/v1/items/7", nil, ""), 405, msgMethodNotAllowed("/v1/items/{id}"))
	})

	// --- emulator mode (the listed deviation, both ways) -----------------
	emu := func(name string, emulator bool, run func(h *harness)) {
		o := Options{}
		if emulator {
			o.EmulatorProject = fbAudience // the project of fbIssuer
		}
		cs = append(cs, conformanceCase{group: "emulator", name: name, source: "Deviations: unsigned emulator tokens", opts: o, run: run})
	}
	unsigned := seg(`{"alg":"none","typ":"JWT"}`) + "." + seg(validPayload) + "."
	emu("unsigned token accepted in emulator mode", true, func(h *harness) { h.reached(h.do("GET", "/v1/hello", bearer(unsigned), "")) })
	emu("unsigned token refused otherwise", false, func(h *harness) { h.want(h.do("GET", "/v1/hello", bearer(unsigned), ""), 401, msgBadFormat) })
	emu("emulator mode still checks claims", true, func(h *harness) {
		h.want(h.do("GET", "/v1/hello", bearer(seg(`{"alg":"none"}`)+"."+seg(`{"iss":"`+fbIssuer+`","aud":"x"}`)+"."), ""), 403, msgAudience)
	})
	machineUnsigned := seg(`{"alg":"none"}`) + "." + seg(`{"iss":"`+mIssuer+`","aud":"`+mAudience+`","sub":"user-1","exp":1800003600}`) + "."
	emu("emulator mode: another issuer's unsigned token is refused", true, func(h *harness) {
		// /v1/me accepts firebase (the emulator's issuer) and machine: the
		// machine provider parses it as ESPv2 does, two sections.
		h.want(h.do("GET", "/v1/me", bearer(machineUnsigned), ""), 401, msgBadFormat)
	})
	emu("emulator mode: a signed token of another issuer still verifies", true, func(h *harness) {
		tok := h.sign(jwt.SigningMethodRS256, h.kr.k1, "m1", jwt.MapClaims{"iss": mIssuer, "aud": mAudience, "sub": "m", "exp": conformNow + 60})
		h.reached(h.do("GET", "/v1/me", bearer(tok), ""))
	})
	return cs
}

// closedAddress is a loopback address nothing listens on.
func closedAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}

// resettingBackend closes the first n connections without answering and
// serves the rest, counting connections.
func resettingBackend(t *testing.T, conns *atomic.Int64, n int64) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) <= n {
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_ = c.Close()
				continue
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				body, _ := io.ReadAll(req.Body)
				msg := `{"from":"backend","got":"` + req.Method + " " + string(body) + `"}`
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(msg), msg)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// slowBackend answers after the 2 s deadline of the suite's document.
func slowBackend(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNewRejectsUnknownIssuer(t *testing.T) {
	doc := &spec.Document{Operations: []spec.Operation{{Method: "GET", Path: "/x", Security: [][]string{{"nope"}}}}}
	if _, err := New(doc, Options{}); err == nil || !strings.Contains(err.Error(), `unknown issuer "nope"`) {
		t.Errorf("New = %v, want an unknown-issuer error", err)
	}
}
