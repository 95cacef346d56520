package backend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
