package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse/gatehouse/spec"
)

// TestVerifiedTokenCache shows that a cached verification still expires,
// and is not reused for an operation whose issuers differ.
func TestVerifiedTokenCache(t *testing.T) {
	k := rsaKey(t)
	keysBody, _ := json.Marshal(map[string]string{"k1": certPEM(t, k)})
	var fetches atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fetches.Add(1); _, _ = w.Write(keysBody) }))
	defer jwks.Close()
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()

	now := time.Now()
	doc := &spec.Document{
		Backend: spec.Backend{Address: backend.URL, PathTranslation: spec.AppendPathToAddress},
		Issuers: map[string]spec.Issuer{
			"a": {Name: "a", Issuer: "https://a.test", JWKSURI: jwks.URL, Audiences: []string{"aud"}},
			"b": {Name: "b", Issuer: "https://b.test", JWKSURI: jwks.URL, Audiences: []string{"aud"}},
		},
		Operations: []spec.Operation{
			{Method: "GET", Path: "/a", Security: [][]string{{"a"}}},
			{Method: "GET", Path: "/b", Security: [][]string{{"b"}}},
		},
	}
	g, err := New(doc, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": "https://a.test", "aud": "aud", "sub": "s",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()})
	tok.Header["kid"] = "k1"
	raw, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	call := func(path string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for range 3 {
		if code, body := call("/a"); code != 200 {
			t.Fatalf("GET /a = %d %s", code, body)
		}
	}
	if _, ok := g.cache.get("a", raw); !ok {
		t.Fatal("a verified token is not cached")
	}
	if code, body := call("/b"); code != 401 || !strings.Contains(body, msgUnknownIssuer) {
		t.Errorf("cached token on an operation of another issuer = %d %s, want 401 %q", code, body, msgUnknownIssuer)
	}
	now = now.Add(10*time.Minute + clockSkew + time.Second)
	if code, body := call("/a"); code != 401 || !strings.Contains(body, msgExpired) {
		t.Errorf("cached token after expiry = %d %s, want 401 %q", code, body, msgExpired)
	}

	c := newTokenCache(2)
	c.put("a", "x", verified{})
	c.put("a", "y", verified{})
	c.put("a", "z", verified{})
	if len(c.m) != 2 {
		t.Errorf("cache holds %d entries, want at most 2", len(c.m))
	}
	if _, ok := c.get("a", "z"); !ok {
		t.Error("the newest entry was evicted")
	}
}
