package authadmin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/googleauth"
	"github.com/gatehouse/gatehouse/client/internal/session"
)

const secret = "ya29.operator-secret-token"

// fakeToolkit is the Identity Toolkit admin API (accounts:lookup and
// accounts:update), recording what it was sent.
type fakeToolkit struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	bodies   []string
	claims   string // the one account's customAttributes
	fail     func(w http.ResponseWriter) bool
}

func newToolkit(t *testing.T) *fakeToolkit {
	f := &fakeToolkit{claims: `{"plan":"pro"}`}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.requests = append(f.requests, r.Clone(context.Background()))
		f.bodies = append(f.bodies, string(b))
		if f.fail != nil && f.fail(w) {
			return
		}
		switch {
		case strings.HasSuffix(r.URL.Path, "/accounts:lookup"):
			var in struct{ Email []string }
			_ = json.Unmarshal(b, &in)
			if len(in.Email) == 1 && in.Email[0] == "ada@example.com" {
				out, _ := json.Marshal(map[string]any{"users": []any{map[string]any{"localId": "uid-ada", "email": "ada@example.com", "customAttributes": f.claims}}})
				_, _ = w.Write(out)
				return
			}
			_, _ = w.Write([]byte(`{"kind":"identitytoolkit#GetAccountInfoResponse"}`))
		case strings.HasSuffix(r.URL.Path, "/accounts:update"):
			var in struct{ LocalID, CustomAttributes string }
			_ = json.Unmarshal(b, &in)
			f.claims = in.CustomAttributes
			_, _ = w.Write([]byte(`{"localId":"` + in.LocalID + `"}`))
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// production is a client of Google's API with tok, pointed at f.
func production(f *fakeToolkit, tok *googleauth.Token, calls *atomic.Int32) *Client {
	c := New(session.Client(10*time.Second), func(context.Context) (*googleauth.Token, error) {
		calls.Add(1)
		return tok, nil
	})
	c.base = f.URL
	return c
}

// The operator's token goes only to Google's Identity Toolkit API.
func TestProductionURL(t *testing.T) {
	c := New(http.DefaultClient, nil)
	if c.base != "https://identitytoolkit.googleapis.com" || c.Emulator() != "" {
		t.Errorf("production client's base = %q", c.base)
	}
}

// Lookup and update as the Admin SDKs send them, with the operator's token
// (found once per command), billed to the project for user credentials.
func TestLookupAndSet(t *testing.T) {
	f := newToolkit(t)
	var calls atomic.Int32
	c := production(f, &googleauth.Token{Value: secret, Source: "test", User: true}, &calls)
	u, err := c.LookupEmail(t.Context(), "my-project", "ada@example.com")
	if err != nil || u.UID != "uid-ada" || string(u.Claims) != `{"plan":"pro"}` {
		t.Fatalf("LookupEmail = %+v, %v", u, err)
	}
	if err := c.SetClaims(t.Context(), "my-project", u.UID, []byte(`{"roles":["admin"]}`)); err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 2 || calls.Load() != 1 {
		t.Fatalf("%d requests, %d token lookups; want 2 and 1", len(f.requests), calls.Load())
	}
	for i, want := range []struct{ path, body string }{
		{"/v1/projects/my-project/accounts:lookup", `{"email":["ada@example.com"]}`},
		{"/v1/projects/my-project/accounts:update", `{"customAttributes":"{\"roles\":[\"admin\"]}","localId":"uid-ada"}`},
	} {
		r := f.requests[i]
		if r.Method != "POST" || r.URL.Path != want.path || f.bodies[i] != want.body {
			t.Errorf("request %d: %s %s %s, want POST %s %s", i, r.Method, r.URL.Path, f.bodies[i], want.path, want.body)
		}
		if r.Header.Get("Authorization") != "Bearer "+secret || r.Header.Get("X-Goog-User-Project") != "my-project" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d headers: %v", i, r.Header)
		}
	}
	if f.claims != `{"roles":["admin"]}` {
		t.Errorf("stored claims %s", f.claims)
	}
}

// X-Goog-User-Project: the credentials' own quota project, else the
// target project for a person's credentials, else none (service accounts
// bill their own project; naming one would need a permission there).
func TestQuotaProject(t *testing.T) {
	for _, tt := range []struct {
		tok  googleauth.Token
		want string
	}{
		{googleauth.Token{Value: secret, User: true}, "my-project"},
		{googleauth.Token{Value: secret, User: true, QuotaProject: "billing"}, "billing"},
		{googleauth.Token{Value: secret}, ""},
	} {
		f := newToolkit(t)
		var calls atomic.Int32
		_, _ = production(f, &tt.tok, &calls).LookupEmail(t.Context(), "my-project", "ada@example.com")
		if got := f.requests[0].Header.Values("X-Goog-User-Project"); strings.Join(got, ",") != tt.want {
			t.Errorf("%+v: X-Goog-User-Project %q, want %q", tt.tok, got, tt.want)
		}
	}
}

// The emulator gets its admin token, never the operator's, and without a
// project the emulator's own.
func TestEmulator(t *testing.T) {
	f := newToolkit(t)
	host := strings.TrimPrefix(f.URL, "http://")
	c := NewEmulator(session.Client(10*time.Second), host)
	c.base = f.URL // the fake serves the paths without the emulator's prefix
	c.token = func(context.Context) (*googleauth.Token, error) {
		t.Error("the emulator client asked for the operator's token")
		return &googleauth.Token{Value: secret}, nil
	}
	if _, err := c.LookupEmail(t.Context(), "", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.LookupEmail(t.Context(), "demo-other", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	for i, path := range []string{"/v1/accounts:lookup", "/v1/projects/demo-other/accounts:lookup"} {
		r := f.requests[i]
		if r.URL.Path != path || r.Header.Get("Authorization") != "Bearer owner" || r.Header.Get("X-Goog-User-Project") != "" {
			t.Errorf("emulator request %d: %s %v", i, r.URL.Path, r.Header)
		}
	}
	if e := NewEmulator(http.DefaultClient, "127.0.0.1:9099"); e.base != "http://127.0.0.1:9099/identitytoolkit.googleapis.com" || e.Emulator() != "127.0.0.1:9099" {
		t.Errorf("emulator base %q", e.base)
	}
}

// Google's refusals become messages that say what the operator needs.
func TestAPIErrors(t *testing.T) {
	for _, tt := range []struct {
		status int
		body   string
		want   string
	}{
		{403, `{"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}`, "needs firebaseauth.users.get and firebaseauth.users.update there (roles/firebaseauth.admin"},
		{403, `{"error":{"code":403,"message":"Caller does not have required permission to use project my-project. Grant the caller the roles/serviceusage.serviceUsageConsumer role","status":"PERMISSION_DENIED"}}`, "serviceusage.services.use"},
		{401, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`, "expired or revoked"},
		{400, `{"error":{"code":400,"message":"USER_NOT_FOUND"}}`, "no longer exists"},
		{400, `{"error":{"code":400,"message":"CLAIMS_TOO_LARGE"}}`, "more than 1000 bytes"},
		{400, `{"error":{"code":400,"message":"FORBIDDEN_CLAIM : sub"}}`, "refused by Firebase: FORBIDDEN_CLAIM : sub"},
		{400, `{"error":{"code":400,"message":"CONFIGURATION_NOT_FOUND"}}`, "has no Firebase Authentication"},
		{500, `oops`, "answered 500 Internal Server Error: no message"},
	} {
		f := newToolkit(t)
		f.fail = func(w http.ResponseWriter) bool {
			w.WriteHeader(tt.status)
			_, _ = io.WriteString(w, tt.body)
			return true
		}
		var calls atomic.Int32
		_, err := production(f, &googleauth.Token{Value: secret, Source: "gcloud auth print-access-token", User: true}, &calls).LookupEmail(t.Context(), "my-project", "ada@example.com")
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), secret) {
			t.Errorf("%d %s: %v, want %q", tt.status, tt.body, err, tt.want)
		}
	}
}

func TestLookupNotFound(t *testing.T) {
	f := newToolkit(t)
	var calls atomic.Int32
	_, err := production(f, &googleauth.Token{Value: secret}, &calls).LookupEmail(t.Context(), "my-project", "nobody@example.com")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "no account has the email nobody@example.com in project my-project") {
		t.Errorf("unknown email: %v", err)
	}
}

// A redirect is not followed with the operator's token (the client is
// session.Client's): the second server never hears of it.
func TestNoRedirectWithToken(t *testing.T) {
	var stolen atomic.Int32
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	defer thief.Close()
	f := newToolkit(t)
	f.fail = func(w http.ResponseWriter) bool {
		w.Header().Set("Location", thief.URL+"/v1/projects/p/accounts:lookup")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return true
	}
	var calls atomic.Int32
	_, err := production(f, &googleauth.Token{Value: secret}, &calls).LookupEmail(t.Context(), "my-project", "ada@example.com")
	if err == nil || stolen.Load() != 0 {
		t.Errorf("redirect: %v, %d requests reached the other server", err, stolen.Load())
	}
}

func TestCheckProject(t *testing.T) {
	for p, ok := range map[string]bool{
		"my-project": true, "demo-gatehouse": true, "example.com:my-project": true, "abcdef": true,
		"": false, "abc": false, "My-Project": false, "my project": false, "../x/y": false, "p/accounts:update?x": false, "1project": false,
	} {
		if err := CheckProject(p); (err == nil) != ok {
			t.Errorf("CheckProject(%q) = %v, want ok=%v", p, err, ok)
		}
	}
	c := New(http.DefaultClient, nil)
	if _, err := c.path("", "accounts:lookup"); err == nil {
		t.Error("Google's API without a project: no error")
	}
}
