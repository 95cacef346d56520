package logout

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

func TestNewCmdLogout(t *testing.T) {
	streams, _, _ := cmdutil.TestIO("")
	var got *Options
	cmd := NewCmdLogout(&cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}, func(_ context.Context, o *Options) error { got = o; return nil })
	cmd.SetArgs([]string{"--stack", "prod", "--profile", "p"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err != nil || got == nil || got.Flags != (target.ProfileFlags{Stack: "prod", Profile: "p"}) {
		t.Errorf("logout flags = %+v, %v", got, err)
	}
}

func TestRun(t *testing.T) {
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	logout := func() string {
		t.Helper()
		streams, stdout, _ := cmdutil.TestIO("")
		opts := &Options{IO: streams, Store: func() (*creds.Store, error) { return store, nil }, Profile: func(target.ProfileFlags) string { return "p" }}
		if err := run(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
		return stdout.String()
	}
	if err := store.Put("p", &creds.Entry{Session: firebase.Session{Email: "a@b.co"}}); err != nil {
		t.Fatal(err)
	}
	if out := logout(); out != "logged out (profile p)\n" {
		t.Errorf("logout = %q", out)
	}
	if out := logout(); out != "not logged in (profile p)\n" {
		t.Errorf("second logout = %q", out)
	}
	// A corrupt file is moved aside: logging out always works.
	if err := os.WriteFile(store.Path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := logout(); out != "logged out of every profile: the credentials file was corrupt and is moved to "+store.Path+".corrupt\n" {
		t.Errorf("logout of a corrupt file = %q", out)
	}
	if _, err := os.Stat(store.Path); !os.IsNotExist(err) {
		t.Errorf("corrupt file still in place: %v", err)
	}
}
