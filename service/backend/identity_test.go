package backend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/identity"
)

// TestSeveralIdentities: a request with more than one
// X-Apigateway-Api-Userinfo value is refused, whatever the values: the
// backend cannot tell which one the gateway set (#28 item 10). It once took
// the first.
func TestSeveralIdentities(t *testing.T) {
	e, logs := newTestServer(t)
	for _, tt := range []struct {
		name   string
		values []string
		want   int
	}{
		{"one", []string{userinfo(`{"sub":"ada"}`)}, http.StatusOK},
		{"two", []string{userinfo(`{"sub":"ada"}`), userinfo(`{"sub":"admin"}`)}, http.StatusUnauthorized},
		{"the same twice", []string{userinfo(`{"sub":"ada"}`), userinfo(`{"sub":"ada"}`)}, http.StatusUnauthorized},
		{"a valid one and an empty one", []string{userinfo(`{"sub":"ada"}`), ""}, http.StatusUnauthorized},
	} {
		req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
		req.Header.Set("Authorization", gatewaytest.InvokerToken(gatewaytest.Account))
		for _, v := range tt.values {
			req.Header.Add(identity.Header, v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var got ErrorBody
		if tt.want != http.StatusOK {
			decodeJSON(t, rec, &got)
		}
		if rec.Code != tt.want || (tt.want != http.StatusOK && got.Message != "invalid gateway identity: several identities in one request") {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, strings.TrimSpace(rec.Body.String()), tt.want)
		}
	}
	if strings.Contains(logs.String(), userinfo(`{"sub":"admin"}`)) {
		t.Error("a userinfo value reached the log")
	}
}

// TestRequireEmailVerified: with REQUIRE_EMAIL_VERIFIED=true (Options.
// RequireEmailVerified) an identity route refuses a caller whose token does
// not say email_verified: true, with a 403 that says why; without it, the
// same caller is served (#27 item 2).
func TestRequireEmailVerified(t *testing.T) {
	verified := userinfo(`{"sub":"ada","email":"ada@example.com","email_verified":true}`)
	unverified := userinfo(`{"sub":"eve","email":"eve@example.com","email_verified":false}`)
	noClaim := userinfo(`{"sub":"eve","email":"eve@example.com"}`)
	noEmail := userinfo(`{"sub":"machine-7","email_verified":true}`)
	for _, tt := range []struct {
		name     string
		require  bool
		header   string
		wantCode int
	}{
		{"required, verified", true, verified, 200},
		{"required, unverified", true, unverified, 403},
		{"required, no email_verified claim", true, noClaim, 403},
		{"required, verified but no email", true, noEmail, 403},
		{"not required, unverified", false, unverified, 200},
		{"not required, no claim", false, noClaim, 200},
	} {
		e, _ := newTestServerWith(t, Options{RequireEmailVerified: tt.require})
		rec := do(e, http.MethodGet, "/whoami", map[string]string{identity.Header: tt.header}, "")
		if rec.Code != tt.wantCode {
			t.Errorf("%s: %d %s, want %d", tt.name, rec.Code, rec.Body.String(), tt.wantCode)
			continue
		}
		if tt.wantCode == 403 {
			var got ErrorBody
			decodeJSON(t, rec, &got)
			if got != (ErrorBody{403, EmailNotVerified}) || !strings.Contains(got.Message, "verified email") {
				t.Errorf("%s: %+v, want 403 %q", tt.name, got, EmailNotVerified)
			}
		}
	}
	// Routes that do not read the identity are not affected.
	e, _ := newTestServerWith(t, Options{RequireEmailVerified: true})
	if rec := do(e, http.MethodGet, "/healthz", nil, ""); rec.Code != 200 {
		t.Errorf("/healthz with the requirement on: %d", rec.Code)
	}
}
