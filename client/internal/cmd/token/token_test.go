package token

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

func TestNewCmdToken(t *testing.T) {
	streams, _, _ := cmdutil.TestIO("")
	var got *Options
	cmd := NewCmdToken(&cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--stack", "prod"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err != nil || got == nil || got.Flags.Stack != "prod" {
		t.Errorf("token flags = %+v, %v", got, err)
	}
}

type refresher struct{ n atomic.Int32 }

func (r *refresher) Refresh(_ context.Context, s *firebase.Session) (*firebase.Session, error) {
	r.n.Add(1)
	next := *s
	next.IDToken, next.Expiry = "refreshed", time.Now().Add(time.Hour)
	return &next, nil
}

// token prints the stored ID token, refreshed within a minute of expiry.
func TestRun(t *testing.T) {
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	r := &refresher{}
	m := &session.Manager{Store: store, Now: time.Now, Firebase: func(string, string) (session.Refresher, error) { return r, nil }}
	token := func() string {
		t.Helper()
		streams, stdout, _ := cmdutil.TestIO("")
		if err := run(t.Context(), &Options{IO: streams, Sessions: func() (*session.Manager, error) { return m, nil }, Profile: func(target.ProfileFlags) string { return "p" }}); err != nil {
			t.Fatal(err)
		}
		return stdout.String()
	}
	_ = store.Put("p", &creds.Entry{Session: firebase.Session{IDToken: "stored", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}})
	if out := token(); out != "stored\n" || r.n.Load() != 0 {
		t.Errorf("token = %q after %d refreshes", out, r.n.Load())
	}
	_ = store.Put("p", &creds.Entry{Session: firebase.Session{IDToken: "stored", RefreshToken: "r", Expiry: time.Now().Add(30 * time.Second)}})
	if out := token(); out != "refreshed\n" || r.n.Load() != 1 {
		t.Errorf("token near expiry = %q after %d refreshes", out, r.n.Load())
	}
	if !strings.Contains(token(), "refreshed") {
		t.Error("the refreshed token was not stored")
	}
}

// --refresh gets a new token even when the stored one is valid for an
// hour: the way to see claims an operator just set.
func TestRunRefresh(t *testing.T) {
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	r := &refresher{}
	m := &session.Manager{Store: store, Now: time.Now, Firebase: func(string, string) (session.Refresher, error) { return r, nil }}
	_ = store.Put("p", &creds.Entry{Session: firebase.Session{IDToken: "stored", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}})
	streams, stdout, _ := cmdutil.TestIO("")
	opts := &Options{IO: streams, Sessions: func() (*session.Manager, error) { return m, nil }, Profile: func(target.ProfileFlags) string { return "p" }, Refresh: true}
	if err := run(t.Context(), opts); err != nil || stdout.String() != "refreshed\n" || r.n.Load() != 1 {
		t.Errorf("token --refresh = %q, %v after %d refreshes", stdout.String(), err, r.n.Load())
	}
	var got *Options
	cmd := NewCmdToken(&cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--refresh"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err != nil || got == nil || !got.Refresh {
		t.Errorf("--refresh not parsed: %+v %v", got, err)
	}
}
