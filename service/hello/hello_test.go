package hello

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
)

const payload = `{"iss":"https://securetoken.google.com/demo-p","aud":"demo-p","sub":"u1","user_id":"u1","email":"ada@example.com","email_verified":true,"iat":1700000000,"exp":1700003600,"firebase":{"sign_in_provider":"password"}}`

// newHello is the /v1 backend as Run builds it, with the test gateway account.
func newHello(t *testing.T) *echo.Echo {
	t.Helper()
	e, err := New(backend.Options{GatewayServiceAccount: gatewaytest.Account})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func do(e *echo.Echo, method, target string, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; body %q", ct, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
}

func TestHello(t *testing.T) {
	e := newHello(t)
	tests := []struct {
		payload, want string
	}{
		{payload, "Hello, ada@example.com!"},
		{`{"sub":"machine-1"}`, "Hello, machine-1!"},
	}
	for _, tt := range tests {
		rec := do(e, http.MethodGet, "/v1/hello", gatewaytest.Headers(tt.payload), "")
		var got map[string]string
		decodeJSON(t, rec, &got)
		if rec.Code != http.StatusOK || got["message"] != tt.want {
			t.Errorf("GET /v1/hello with %s = %d %v, want 200 %q", tt.payload, rec.Code, got, tt.want)
		}
	}
}

func TestMe(t *testing.T) {
	e := newHello(t)
	rec := do(e, http.MethodGet, "/v1/me", gatewaytest.Headers(payload), "")
	var got map[string]any
	decodeJSON(t, rec, &got)
	want := map[string]any{
		"uid": "u1", "email": "ada@example.com", "email_verified": true, "sign_in_provider": "password",
		"issuer": "https://securetoken.google.com/demo-p", "audience": []any{"demo-p"},
		"issued_at": "2023-11-14T22:13:20Z", "expires_at": "2023-11-14T23:13:20Z",
	}
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /v1/me = %d, want 200", rec.Code)
	}
	for k, v := range want {
		if gb, _ := json.Marshal(got[k]); string(gb) != mustJSON(v) {
			t.Errorf("GET /v1/me [%s] = %s, want %s", k, gb, mustJSON(v))
		}
	}
}

// TestMeShowsRoles: /v1/me shows the caller's roles ([] when none) and
// their other custom claims.
func TestMeShowsRoles(t *testing.T) {
	e := newHello(t)
	for _, tt := range []struct {
		claims, roles, others string
	}{
		{payload, `[]`, `null`},
		{`{"sub":"u1","roles":["admin","support"],"plan":"pro"}`, `["admin","support"]`, `{"plan":"pro","roles":["admin","support"]}`},
	} {
		rec := do(e, http.MethodGet, "/v1/me", gatewaytest.Headers(tt.claims), "")
		var got map[string]json.RawMessage
		decodeJSON(t, rec, &got)
		claims := got["claims"]
		if claims == nil {
			claims = json.RawMessage("null")
		}
		if rec.Code != http.StatusOK || string(got["roles"]) != tt.roles || string(claims) != tt.others {
			t.Errorf("GET /v1/me with %s = %d roles %s claims %s, want roles %s claims %s", tt.claims, rec.Code, got["roles"], claims, tt.roles, tt.others)
		}
	}
}

// TestAdminHello: /v1/admin/hello greets callers holding the admin role
// and answers 403 JSON to everyone else, machine clients included (their
// roles are the ones their signer wrote).
func TestAdminHello(t *testing.T) {
	e := newHello(t)
	for _, tt := range []struct {
		claims string
		want   int
		msg    string
	}{
		{`{"sub":"u1","email":"ada@example.com","roles":["admin"]}`, 200, "Hello, ada@example.com! You hold the admin role."},
		{`{"sub":"u1","email":"ada@example.com","roles":["support","admin"]}`, 200, "You hold the admin role."},
		{`{"sub":"u1","email":"ada@example.com"}`, 403, "needs the role admin"},
		{`{"sub":"u1","email":"ada@example.com","roles":["support"]}`, 403, "needs the role admin"},
		{`{"iss":"robot@p.iam.gserviceaccount.com","sub":"machine-7","roles":["admin"]}`, 200, "Hello, machine-7! You hold the admin role."},
		{`{"iss":"robot@p.iam.gserviceaccount.com","sub":"machine-7"}`, 403, "needs the role admin"},
	} {
		rec := do(e, http.MethodGet, "/v1/admin/hello", gatewaytest.Headers(tt.claims), "")
		var got map[string]any
		decodeJSON(t, rec, &got)
		if rec.Code != tt.want || !strings.Contains(fmt.Sprint(got["message"]), tt.msg) {
			t.Errorf("GET /v1/admin/hello with %s = %d %v, want %d %q", tt.claims, rec.Code, got, tt.want, tt.msg)
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestRoutesMatchRouter(t *testing.T) {
	e := newHello(t)
	registered := map[string]bool{}
	for _, r := range e.Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	for _, r := range Routes() {
		if !registered[r.Method+" "+r.Path] {
			t.Errorf("Routes() lists %s %s, which New does not register", r.Method, r.Path)
		}
		delete(registered, r.Method+" "+r.Path)
	}
	for r := range registered {
		t.Errorf("New registers %s, which Routes() does not list", r)
	}
}

// TestIdentityOnlyWhereDeclared: a route reads the gateway identity exactly
// when Routes() says so (the flag the spec drift guard checks against the
// spec's security), and a forged identity changes nothing elsewhere.
func TestIdentityOnlyWhereDeclared(t *testing.T) {
	e := newHello(t)
	forged := gatewaytest.Headers(`{"sub":"admin","email":"admin@example.com"}`)
	for _, r := range Routes() {
		without := do(e, r.Method, r.Path, nil, "")
		with := do(e, r.Method, r.Path, forged, "")
		if len(r.Roles) > 0 { // an identity holding the route's roles
			roles, _ := json.Marshal(r.Roles)
			with = do(e, r.Method, r.Path, gatewaytest.Headers(`{"sub":"admin","email":"admin@example.com","roles":`+string(roles)+`}`), "")
		}
		if r.Identity {
			if without.Code != http.StatusUnauthorized || with.Code != http.StatusOK {
				t.Errorf("%s %s (Identity): %d without, %d with an identity; want 401 and 200", r.Method, r.Path, without.Code, with.Code)
			}
			continue
		}
		if without.Code != with.Code || strings.Contains(with.Body.String(), "admin") {
			t.Errorf("%s %s (no Identity): %d without, %d %s with a forged identity; want it ignored", r.Method, r.Path, without.Code, with.Code, with.Body.String())
		}
	}
}
