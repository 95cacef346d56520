package whoami

import (
	"context"
	"encoding/base64"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

func TestNewCmdWhoami(t *testing.T) {
	streams, _, _ := cmdutil.TestIO("")
	var got *Options
	cmd := NewCmdWhoami(&cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--profile", "p"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err != nil || got == nil || got.Flags.Profile != "p" {
		t.Errorf("whoami flags = %+v, %v", got, err)
	}
}

// whoami reads the store only: no Firebase client is ever made.
func TestRun(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	m := &session.Manager{Store: store, Now: func() time.Time { return now },
		Firebase: func(string, string) (session.Refresher, error) { t.Error("Firebase contacted"); return nil, nil }}
	whoami := func() (string, error) {
		streams, stdout, _ := cmdutil.TestIO("")
		err := run(t.Context(), &Options{IO: streams, Sessions: func() (*session.Manager, error) { return m, nil },
			Profile: func(target.ProfileFlags) string { return "p" }, Now: func() time.Time { return now }})
		return stdout.String(), err
	}
	if _, err := whoami(); err == nil || !strings.Contains(err.Error(), "not logged in (profile p)") {
		t.Errorf("logged out: %v", err)
	}
	for expiry, want := range map[time.Time]string{
		now.Add(90 * time.Minute): "(in 1h30m0s)",
		now.Add(-time.Minute):     "(refreshed on next use)",
	} {
		_ = store.Put("p", &creds.Entry{Session: firebase.Session{Email: "ada@example.com", UID: "u1", ProjectID: "demo-p", Expiry: expiry}})
		out, err := whoami()
		if err != nil || !strings.Contains(out, "\nprofile: p\ntoken:   ") || !strings.HasPrefix(out, "email:   ada@example.com\nuid:     u1\nproject: demo-p\nroles:   ") || !strings.Contains(out, want) {
			t.Errorf("whoami = %q, %v; want %q", out, err, want)
		}
	}
}

// whoami shows the roles claim of the stored token, which is what backends
// saw on its last use, and says how to see a change.
func TestRoles(t *testing.T) {
	jwt := func(payload string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "."
	}
	for payload, want := range map[string]string{
		`{"sub":"u1"}`:                             "none (in the stored token: `gatehouse token --refresh` shows a change at once)",
		`{"sub":"u1","roles":[]}`:                  "none (in the stored token",
		`{"sub":"u1","roles":["admin","support"]}`: "admin, support (in the stored token",
		`{"sub":"u1","roles":"admin"}`:             "not a list of role names (backends refuse such a token)",
		`{"sub":"u1","roles":["a\u001b[2Jb"]}`:     `a\x1b[2Jb (in the stored token`,
		`{"sub":"u1","roles":[1]}`:                 "not a list of role names",
	} {
		if got := roles(jwt(payload)); !strings.HasPrefix(got, want) {
			t.Errorf("roles of %s = %q, want %q", payload, got, want)
		}
	}
	if got := roles("not a token"); !strings.HasPrefix(got, "unknown") {
		t.Errorf("roles of a non-JWT = %q", got)
	}
}
