package auth

import (
	"context"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Flags become options, with no network (runF); signup and login differ
// only in Signup.
func TestNewCmd(t *testing.T) {
	tests := []struct {
		signup bool
		args   []string
		want   Options
	}{
		{true, []string{"--email", "ada@example.com", "--password-stdin"}, Options{Signup: true, Email: "ada@example.com", PasswordStdin: true}},
		{false, []string{"--email=ada@example.com", "--api-key", "AIza", "--stack", "prod", "--profile", "p"},
			Options{Email: "ada@example.com", Target: target.Flags{APIKey: "AIza", ProfileFlags: target.ProfileFlags{Stack: "prod", Profile: "p"}}}},
		{false, nil, Options{}},
	}
	for _, tt := range tests {
		streams, _, _ := cmdutil.TestIO("")
		f := &cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}, Getenv: func(string) string { return "" }}
		var got *Options
		runF := func(_ context.Context, o *Options) error { got = o; return nil }
		cmd := NewCmdLogin(f, runF)
		if tt.signup {
			cmd = NewCmdSignup(f, runF)
		}
		cmd.SetArgs(tt.args)
		cmd.SetOut(io.Discard)
		if err := cmd.Execute(); err != nil || got == nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		got.IO, got.EmulatorHost, got.Firebase, got.Store, got.Resolve = nil, nil, nil, nil, nil
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
		}
	}
	for _, args := range [][]string{{"extra"}, {"--gateway-url", "https://x"}} {
		streams, _, _ := cmdutil.TestIO("")
		cmd := NewCmdLogin(&cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}, func(context.Context, *Options) error { t.Error("ran"); return nil })
		cmd.SetArgs(args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		if err := cmd.Execute(); err == nil {
			t.Errorf("login %q: no error", args)
		}
	}
}

// fakeAuth answers like Firebase Auth for one account.
type fakeAuth struct {
	calls    []string
	password string
}

func (f *fakeAuth) SignUp(_ context.Context, email, pw string) (*firebase.Session, error) {
	f.calls = append(f.calls, "signup "+email)
	f.password = pw
	return &firebase.Session{Email: email, UID: "u1", IDToken: "id", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}, nil
}

func (f *fakeAuth) SignIn(_ context.Context, email, pw string) (*firebase.Session, error) {
	f.calls = append(f.calls, "login "+email)
	if pw != f.password {
		return nil, &firebase.Error{Code: "INVALID_LOGIN_CREDENTIALS", Message: "wrong email or password"}
	}
	return &firebase.Session{Email: email, UID: "u1", IDToken: "id", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}, nil
}

func options(t *testing.T, stdin, emulator string, fb *fakeAuth) (*Options, *creds.Store, *strings.Builder) {
	t.Helper()
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	streams, _, _ := cmdutil.TestIO(stdin)
	var hosts strings.Builder
	return &Options{
		IO:           streams,
		EmulatorHost: func() string { return emulator },
		Firebase: func(apiKey, host string) (Authenticator, error) {
			hosts.WriteString(apiKey + "@" + host + ";")
			return fb, nil
		},
		Store: func() (*creds.Store, error) { return store, nil },
		Resolve: func(context.Context, *target.Flags, target.Need) (target.Target, error) {
			return target.Target{APIKey: "AIza", GatewayURL: "http://127.0.0.1:8080", Profile: "local"}, nil
		},
	}, store, &hosts
}

// The run function, without cobra: the session it stores and what it says.
func TestRun(t *testing.T) {
	fb := &fakeAuth{}
	opts, store, hosts := options(t, "secret123\n", "127.0.0.1:9099", fb)
	opts.Signup, opts.Email, opts.PasswordStdin = true, "ada@example.com", true
	if err := run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	e, err := store.Get("local")
	if err != nil || e.Emulator != "127.0.0.1:9099" || e.Gateway != "http://127.0.0.1:8080" || e.APIKey != "AIza" || e.Email != "ada@example.com" {
		t.Errorf("stored %+v, %v", e, err)
	}
	if hosts.String() != "AIza@127.0.0.1:9099;" || fb.password != "secret123" {
		t.Errorf("Firebase clients %q, password %q", hosts, fb.password)
	}

	// A wrong password against the emulator suggests signup.
	opts, _, _ = options(t, "wrong\n", "127.0.0.1:9099", fb)
	opts.Email, opts.PasswordStdin = "ada@example.com", true
	if err := run(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "`gatehouse signup` creates one") {
		t.Errorf("wrong password = %v", err)
	}
}

// Where the password would go is checked before it is read: an emulator
// host that is not loopback HOST:PORT stops the command with stdin unread
// and no Firebase client made.
func TestRunRefusesEmulatorHostFirst(t *testing.T) {
	for _, host := range []string{"127.0.0.1:@evil.example", "emulator.example.com:9099"} {
		fb := &fakeAuth{}
		opts, _, hosts := options(t, "secret123\n", host, fb)
		opts.Email, opts.PasswordStdin = "ada@example.com", true
		err := run(t.Context(), opts)
		if err == nil || !strings.Contains(err.Error(), "FIREBASE_AUTH_EMULATOR_HOST="+host) {
			t.Errorf("%s: %v", host, err)
		}
		if rest, _ := io.ReadAll(opts.IO.In); string(rest) != "secret123\n" || hosts.Len() != 0 || len(fb.calls) != 0 {
			t.Errorf("%s: password read (%q left) or Firebase contacted (%q, %v)", host, rest, hosts, fb.calls)
		}
	}
}

func TestReadEmailAndPassword(t *testing.T) {
	fb := &fakeAuth{}
	opts, _, _ := options(t, "ada@example.com\n", "", fb)
	opts.IO.InIsTerminal = func() bool { return true }
	pws := [][]byte{[]byte("secret123"), []byte("secret124")}
	opts.IO.ReadPassword = func() ([]byte, error) { p := pws[0]; pws = pws[1:]; return p, nil }
	opts.Signup = true
	if err := run(t.Context(), opts); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "passwords do not match") {
		t.Errorf("mismatched passwords = %v", err)
	}
	opts, _, _ = options(t, "", "", fb)
	opts.Email = "not-an-email"
	if err := run(t.Context(), opts); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "is not an email address") {
		t.Errorf("bad email = %v", err)
	}
	opts, _, _ = options(t, "", "", fb)
	opts.Email = "ada@example.com"
	if err := run(t.Context(), opts); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("no terminal = %v", err)
	}
}
