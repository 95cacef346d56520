package root

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

// counting is a server that records every request it gets.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// A production session's refresh token never goes to an emulator: with
// FIREBASE_AUTH_EMULATOR_HOST exported (as the twin's banner says), `token`
// for the production profile refuses, and says which is which.
func TestRefreshStaysWithIssuer(t *testing.T) {
	h := newHarness(t)
	emu, hits := counting(t, nil)
	store := creds.Store{Path: h.credPath}
	prod := &creds.Entry{Session: firebase.Session{Email: "ada@example.com", RefreshToken: "prod-refresh", IDToken: "x", Expiry: time.Now()}, APIKey: "AIzaProd"}
	if err := store.Put("default", prod); err != nil {
		t.Fatal(err)
	}
	h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(emu.URL, "http://")
	code, out, stderr := h.run("token", "--profile", "default")
	if code != 1 || !strings.Contains(stderr, "production Firebase Auth") || !strings.Contains(stderr, "FIREBASE_AUTH_EMULATOR_HOST") {
		t.Errorf("token of a production session with the emulator variable = %d %q %q", code, out, stderr)
	}
	if hits.Load() != 0 {
		t.Errorf("the emulator got %d requests: the production refresh token left for it", hits.Load())
	}
	if e, _ := store.Get("default"); e == nil || e.RefreshToken != "prod-refresh" {
		t.Errorf("the production session was overwritten: %+v", e)
	}

	// The other way round: an emulator session without the variable.
	if err := store.Put("local", &creds.Entry{Session: firebase.Session{Email: "a@b.co", RefreshToken: "r"}, Emulator: "127.0.0.1:9099"}); err != nil {
		t.Fatal(err)
	}
	delete(h.env, "FIREBASE_AUTH_EMULATOR_HOST")
	if code, _, stderr := h.run("token", "--profile", "local"); code != 1 || !strings.Contains(stderr, "emulator at 127.0.0.1:9099") {
		t.Errorf("token of an emulator session without the variable = %d %q", code, stderr)
	}
}

// A session's token goes only to its own gateway, even when another one
// resolves (another checkout's stack outputs, a stray variable).
func TestTokenBoundToGateway(t *testing.T) {
	h, _, gw := signedUp(t)
	other, hits := counting(t, nil)
	code, _, stderr := h.run("call", "/v1/hello", "--gateway-url", other.URL)
	if code != 1 || !strings.Contains(stderr, "is for the gateway "+gw.URL) {
		t.Errorf("call to another gateway = %d %q", code, stderr)
	}
	if hits.Load() != 0 {
		t.Errorf("the other gateway got %d requests with the token", hits.Load())
	}
	if code, out, stderr := h.run("call", "/v1/hello"); code != 0 || !strings.Contains(out, "ada@example.com") {
		t.Errorf("call to its own gateway = %d %q %q", code, out, stderr)
	}
}

// Redirects are not followed with the token (Go's default keeps
// Authorization across a scheme or port change on the same host).
func TestNoRedirectWithToken(t *testing.T) {
	h := newHarness(t)
	fb := newFakeFirebase(t)
	target, hits := counting(t, nil)
	redirecting := httptest.NewServer(http.RedirectHandler(target.URL+"/steal", http.StatusFound))
	t.Cleanup(redirecting.Close)
	h.useFakes(fb, redirecting)
	h.signup("ada@example.com", "secret123")
	code, _, stderr := h.run("call", "/v1/hello")
	if code != 1 || !strings.Contains(stderr, "redirect") || !strings.Contains(stderr, "not followed") {
		t.Errorf("call answered with a redirect = %d %q", code, stderr)
	}
	if hits.Load() != 0 {
		t.Errorf("the redirect target got %d requests", hits.Load())
	}
}

// Plain http only to this machine.
func TestPlainHTTPGatewayRefused(t *testing.T) {
	h := newHarness(t)
	for _, u := range []string{"http://example.com", "http://10.0.0.8:8080"} {
		code, _, stderr := h.run("call", "/v1/hello", "--gateway-url", u)
		if code != 2 || !strings.Contains(stderr, "must use https") {
			t.Errorf("call --gateway-url %s = %d %q", u, code, stderr)
		}
	}
}

// `-v` redacts cookies whole: names can say what they hold.
func TestVerboseRedactsCookies(t *testing.T) {
	h := newHarness(t)
	fb := newFakeFirebase(t)
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "sid=SECRET-SESSION; HttpOnly")
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(gw.Close)
	h.useFakes(fb, gw)
	h.signup("ada@example.com", "secret123")
	code, _, stderr := h.run("call", "/v1/hello", "-v")
	if code != 0 || strings.Contains(stderr, "SECRET-SESSION") || strings.Contains(stderr, "sid") || !strings.Contains(stderr, "Set-Cookie: REDACTED") {
		t.Errorf("call -v = %d, stderr:\n%s", code, stderr)
	}
}

// A logout while `token` refreshes is not undone by the refresh.
func TestLogoutDuringRefreshSticks(t *testing.T) {
	h, fb, _ := signedUp(t)
	store := creds.Store{Path: h.credPath}
	e, _ := store.Get("local")
	e.Expiry = time.Now()
	_ = store.Put("local", e)
	// The Secure Token call is where the race window is: log out there.
	fb.onRefresh = func() {
		if _, err := store.Delete("local"); err != nil {
			t.Error(err)
		}
	}
	code, _, stderr := h.run("token")
	if code != 1 || !strings.Contains(stderr, "logged out") {
		t.Errorf("token racing a logout = %d %q", code, stderr)
	}
	if _, err := store.Get("local"); err == nil {
		t.Error("the refresh brought the logged-out session back")
	}
}

// A session made without knowing its gateway (no GATEHOUSE_GATEWAY_URL at
// login) is bound by its first call: later, another gateway is refused.
func TestTokenBoundOnFirstUse(t *testing.T) {
	h := newHarness(t)
	fb, gw := newFakeFirebase(t), fakeGateway(t)
	h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
	h.signup("ada@example.com", "secret123")
	if e, _ := (creds.Store{Path: h.credPath}).Get("local"); e == nil || e.Gateway != "" {
		t.Fatalf("session bound at login without a gateway: %+v", e)
	}
	if code, _, stderr := h.run("call", "/v1/hello", "--gateway-url", gw.URL); code != 0 {
		t.Fatalf("first call = %d %q", code, stderr)
	}
	other, hits := counting(t, nil)
	code, _, stderr := h.run("call", "/v1/hello", "--gateway-url", other.URL)
	if code != 1 || !strings.Contains(stderr, "is for the gateway "+gw.URL) || hits.Load() != 0 {
		t.Errorf("call to a second gateway = %d %q, %d requests there", code, stderr, hits.Load())
	}
}
