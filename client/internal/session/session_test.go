package session

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

// The emulator speaks plain HTTP: only a loopback one is used (login and
// every refresh check it). Tested on the check itself, so that a regression
// can never send anything off this machine. The value is HOST:PORT and
// nothing else: "127.0.0.1:@evil.example" passed the old check and, as a
// URL, sent the password to evil.example.
func TestEmulatorHostMustBeLoopback(t *testing.T) {
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{"", true}, // not set: production Firebase Auth
		{"127.0.0.1:9099", true},
		{"localhost:9099", true},
		{"LOCALHOST:9099", true},
		{"[::1]:9099", true},
		{"127.1.2.3:9099", true},
		{"192.0.2.10:9099", false},
		{"emulator.example.com:9099", false},
		{"[2001:db8::1]:9099", false},
		// Not HOST:PORT: a URL would read part of it as another host.
		{"127.0.0.1:@evil.example", false},
		{"localhost:@evil.example", false},
		{"127.0.0.1:9099@evil.example", false},
		{"127.0.0.1:9099/@evil.example", false},
		{"127.0.0.1:9099#@evil.example", false},
		{"127.0.0.1:x", false},
		{"127.0.0.1:", false},
		{"127.0.0.1:0", false},
		{"127.0.0.1:65536", false},
		{"127.0.0.1:+9099", false},
		{"127.0.0.1", false},
		{":9099", false},
		{"http://127.0.0.1:9099", false},
		{"[::1%lo]:9099", false},
	} {
		err := CheckEmulatorHost(tt.host)
		if (err == nil) != tt.ok {
			t.Errorf("CheckEmulatorHost(%q) = %v, want ok=%v", tt.host, err, tt.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), EmulatorVar) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("CheckEmulatorHost(%q) = %q, want one line naming %s", tt.host, err, EmulatorVar)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.9.9.9": true, "::1": true,
		"localhost.example": false, "10.0.0.1": false, "::": false, "": false, "example.com": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestCheckGatewayURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://gw-abc.ew.gateway.dev": true,
		"http://127.0.0.1:8080":         true,
		"http://localhost:8080":         true,
		"http://[::1]:8080":             true,
		"http://example.com":            false,
		"http://10.0.0.8:8080":          false,
		"ftp://127.0.0.1":               false,
		"127.0.0.1:8080":                false,
		"/v1/hello":                     false,
	} {
		if err := CheckGatewayURL(raw); (err == nil) != ok {
			t.Errorf("CheckGatewayURL(%q) = %v, want ok=%v", raw, err, ok)
		}
	}
}

// fakeRefresher counts refreshes and answers with a new token.
type fakeRefresher struct {
	n      atomic.Int32
	err    error
	during func()
}

func (f *fakeRefresher) Refresh(_ context.Context, s *firebase.Session) (*firebase.Session, error) {
	f.n.Add(1)
	if f.during != nil {
		f.during()
	}
	if f.err != nil {
		return nil, f.err
	}
	next := *s
	next.IDToken, next.RefreshToken = s.IDToken+"+", s.RefreshToken+"+"
	next.Expiry = time.Now().Add(time.Hour)
	return &next, nil
}

// manager is a Manager over a fresh store; issuers records the (apiKey,
// emulator host) of every Firebase client asked for.
func manager(t *testing.T, emulatorHost string, fb *fakeRefresher) (*Manager, *[]string) {
	t.Helper()
	var issuers []string
	m := &Manager{
		Store:        &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")},
		EmulatorHost: emulatorHost,
		Now:          time.Now,
		Firebase: func(apiKey, host string) (Refresher, error) {
			issuers = append(issuers, apiKey+"@"+host)
			return fb, nil
		},
	}
	return m, &issuers
}

func entry(emulator string, expiry time.Time) *creds.Entry {
	return &creds.Entry{Session: firebase.Session{Email: "ada@example.com", IDToken: "id", RefreshToken: "refresh", Expiry: expiry}, APIKey: "AIza", Emulator: emulator}
}

// A session is refreshed only where it was issued: a production session's
// refresh token never goes to an emulator and the reverse; a matching one
// is refreshed, by its own issuer, only when near expiry or forced.
func TestFreshRefreshesOnlyWhereIssued(t *testing.T) {
	soon, later := time.Now().Add(30*time.Second), time.Now().Add(time.Hour)
	tests := []struct {
		name          string
		env, issuedBy string
		expiry        time.Time
		force         bool
		refreshes     int32
		wantErr       string
	}{
		{"production session, emulator variable set", "127.0.0.1:9099", "", soon, false, 0, "production Firebase Auth"},
		{"emulator session, variable unset", "", "127.0.0.1:9099", soon, false, 0, "FIREBASE_AUTH_EMULATOR_HOST is not set"},
		{"emulator session, another emulator", "127.0.0.1:9100", "127.0.0.1:9099", soon, false, 0, "log in again against that emulator"},
		{"emulator session, bad variable", "127.0.0.1:@evil.example", "127.0.0.1:@evil.example", soon, false, 0, "is not HOST:PORT"},
		{"production, fresh token", "", "", later, false, 0, ""},
		{"production, near expiry", "", "", soon, false, 1, ""},
		{"production, forced", "", "", later, true, 1, ""},
		{"emulator, near expiry", "127.0.0.1:9099", "127.0.0.1:9099", soon, false, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fb := &fakeRefresher{}
			m, issuers := manager(t, tt.env, fb)
			if err := m.Store.Put("p", entry(tt.issuedBy, tt.expiry)); err != nil {
				t.Fatal(err)
			}
			e, err := m.Fresh(t.Context(), "p", tt.force)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Fresh = %v, want an error containing %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("Fresh = %v", err)
			}
			if n := fb.n.Load(); n != tt.refreshes {
				t.Errorf("%d refreshes, want %d", n, tt.refreshes)
			}
			for _, iss := range *issuers {
				if iss != "AIza@"+tt.issuedBy {
					t.Errorf("refreshed by %q, want the issuer %q", iss, "AIza@"+tt.issuedBy)
				}
			}
			if tt.refreshes == 1 {
				stored, _ := m.Store.Get("p")
				if e.IDToken != "id+" || stored.IDToken != "id+" || stored.RefreshToken != "refresh+" {
					t.Errorf("refreshed session not returned and stored: %+v, stored %+v", e, stored)
				}
			}
		})
	}
}

// A logout while a refresh runs is not undone by it.
func TestFreshDoesNotUndoLogout(t *testing.T) {
	fb := &fakeRefresher{}
	m, _ := manager(t, "", fb)
	if err := m.Store.Put("p", entry("", time.Now())); err != nil {
		t.Fatal(err)
	}
	fb.during = func() {
		if _, err := m.Store.Delete("p"); err != nil {
			t.Error(err)
		}
	}
	if _, err := m.Fresh(t.Context(), "p", false); err == nil || !strings.Contains(err.Error(), "logged out of profile p") {
		t.Errorf("Fresh racing a logout = %v", err)
	}
	if _, err := m.Store.Get("p"); !errors.Is(err, creds.ErrNotLoggedIn) {
		t.Errorf("the refresh brought the session back: %v", err)
	}
}

// An emulator that forgot the account says so and suggests signup.
func TestFreshEmulatorForgotAccount(t *testing.T) {
	fb := &fakeRefresher{err: &firebase.Error{Code: "USER_NOT_FOUND", Message: "gone"}}
	m, _ := manager(t, "127.0.0.1:9099", fb)
	_ = m.Store.Put("local", entry("127.0.0.1:9099", time.Now()))
	if _, err := m.Fresh(t.Context(), "local", false); err == nil || !strings.Contains(err.Error(), "no longer knows ada@example.com") {
		t.Errorf("Fresh = %v", err)
	}
	if _, err := m.Fresh(t.Context(), "nobody", false); err == nil || !strings.Contains(err.Error(), "not logged in (profile nobody)") {
		t.Errorf("Fresh of an unknown profile = %v", err)
	}
}

// A session is bound to the first gateway it is used with, and its token
// is not for any other.
func TestBind(t *testing.T) {
	m, _ := manager(t, "", &fakeRefresher{})
	_ = m.Store.Put("p", entry("", time.Now().Add(time.Hour)))
	e, _ := m.Store.Get("p")
	if err := m.Bind("p", e, "https://a.example"); err != nil {
		t.Fatal(err)
	}
	e, _ = m.Store.Get("p")
	if e.Gateway != "https://a.example" {
		t.Fatalf("first use did not bind: %+v", e)
	}
	if err := m.Bind("p", e, "https://a.example"); err != nil {
		t.Errorf("its own gateway: %v", err)
	}
	if err := m.Bind("p", e, "https://b.example"); err == nil || !strings.Contains(err.Error(), "is for the gateway https://a.example, not https://b.example") {
		t.Errorf("another gateway: %v", err)
	}
}

// A request with a token never follows a redirect. The negative: Go's own
// client carries Authorization to the same host on another port.
func TestClientNeverFollowsRedirects(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
	}))
	defer target.Close()
	for _, code := range []int{301, 302, 303, 307, 308} {
		redirecting := httptest.NewServer(http.RedirectHandler(target.URL+"/steal", code))
		req, _ := http.NewRequest(http.MethodGet, redirecting.URL, nil)
		req.Header.Set("Authorization", "Bearer TOKEN")
		res, err := Client(5 * time.Second).Do(req)
		var re *RedirectError
		if !errors.As(err, &re) || re.Location != target.URL+"/steal" || !strings.HasPrefix(re.Status, "3") || res == nil {
			t.Errorf("%d: Do = %v, %v; want a RedirectError with the response", code, res, err)
		}
		if v := leaked.Load().(string); v != "" {
			t.Errorf("%d: the redirect target got Authorization %q", code, v)
		}

		// The check is what protects: Go's default client follows and
		// keeps Authorization (same host name, another port).
		req, _ = http.NewRequest(http.MethodGet, redirecting.URL, nil)
		req.Header.Set("Authorization", "Bearer TOKEN")
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
		if v := leaked.Load().(string); v != "Bearer TOKEN" {
			t.Errorf("%d: Go's default client did not carry the token (%q): the negative proves nothing", code, v)
		}
		leaked.Store("")
		redirecting.Close()
	}
}
