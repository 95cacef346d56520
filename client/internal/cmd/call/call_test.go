package call

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
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

// Flags and arguments become options, with no network (runF).
func TestNewCmdCall(t *testing.T) {
	tests := []struct {
		args    []string
		want    Options
		wantErr string
	}{
		{args: []string{"/v1/hello"}, want: Options{Method: "GET", Path: "/v1/hello"}},
		{args: []string{"post", "/v2/notes", "-d", `{"text":"hi"}`}, want: Options{Method: "POST", Path: "/v2/notes", Data: `{"text":"hi"}`}},
		{args: []string{"DELETE", "/v2/notes/1", "-v", "--gateway-url", "https://gw.example", "--stack", "prod"},
			want: Options{Method: "DELETE", Path: "/v2/notes/1", Verbose: true, Target: target.Flags{GatewayURL: "https://gw.example", ProfileFlags: target.ProfileFlags{Stack: "prod"}}}},
		{args: []string{"/v1/me", "--data=@body.json", "--api-key", "k", "--profile", "p"},
			want: Options{Method: "GET", Path: "/v1/me", Data: "@body.json", Target: target.Flags{APIKey: "k", ProfileFlags: target.ProfileFlags{Profile: "p"}}}},
		{args: nil, wantErr: "want [METHOD] PATH"},
		{args: []string{"/a", "/b", "/c"}, wantErr: "want [METHOD] PATH"},
		{args: []string{"FETCH", "/v1/hello"}, wantErr: `unknown method "FETCH"`},
		{args: []string{"v1/hello"}, wantErr: "PATH must start with /"},
	}
	for _, tt := range tests {
		streams, _, _ := cmdutil.TestIO("")
		f := &cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}
		var got *Options
		cmd := NewCmdCall(f, func(_ context.Context, o *Options) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if tt.wantErr != "" {
			if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
				t.Errorf("%q: err %v, want a usage error %q and no run", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got == nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		got.IO, got.Sessions, got.Resolve, got.HTTPClient = nil, nil, nil, nil
		if !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.args, *got, tt.want)
		}
	}
}

// The help's examples are calls this command accepts (local/ runs them
// against the twin's /v1 backend).
func TestExamplesParse(t *testing.T) {
	lines := strings.Split(Examples, "\n")
	for _, line := range lines {
		args := strings.Fields(line)
		if len(args) < 3 || args[0] != "gatehouse" || args[1] != "call" {
			t.Fatalf("example %q is not a gatehouse call", line)
		}
		streams, _, _ := cmdutil.TestIO("")
		cmd := NewCmdCall(&cmdutil.Factory{IO: streams, Resolver: &target.Resolver{}}, func(context.Context, *Options) error { return nil })
		cmd.SetArgs(args[2:])
		if err := cmd.Execute(); err != nil {
			t.Errorf("example %q: %v", line, err)
		}
	}
}

type refresher struct{ n atomic.Int32 }

func (r *refresher) Refresh(_ context.Context, s *firebase.Session) (*firebase.Session, error) {
	r.n.Add(1)
	next := *s
	next.IDToken, next.RefreshToken, next.Expiry = "fresh-token", s.RefreshToken+"+", time.Now().Add(time.Hour)
	return &next, nil
}

// options runs against gateway with a stored session for profile "p".
func options(t *testing.T, gateway string, r *refresher) (opts *Options, stdout, stderr *bytes.Buffer) {
	t.Helper()
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	err := store.Put("p", &creds.Entry{Session: firebase.Session{Email: "ada@example.com", IDToken: "stored-token", RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}, APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	streams, stdout, stderr := cmdutil.TestIO("")
	m := &session.Manager{Store: store, Now: time.Now, Firebase: func(string, string) (session.Refresher, error) { return r, nil }}
	return &Options{
		IO:       streams,
		Sessions: func() (*session.Manager, error) { return m, nil },
		Resolve: func(context.Context, *target.Flags, target.Need) (target.Target, error) {
			return target.Target{GatewayURL: gateway, GatewayFrom: target.FromFlag, Profile: "p"}, nil
		},
		HTTPClient: func() *http.Client { return session.Client(5 * time.Second) },
		Method:     "GET", Path: "/v1/hello",
	}, stdout, stderr
}

type seen struct {
	Method, Path, Authorization, ContentType, Body string
}

func recordingGateway(t *testing.T, answer func(w http.ResponseWriter, n int)) (*httptest.Server, *[]seen) {
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		answer(w, len(got))
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// The run function, without cobra: the request it sends and what it prints.
func TestCallRun(t *testing.T) {
	gw, got := recordingGateway(t, func(w http.ResponseWriter, _ int) { w.Write([]byte(`{"ok":true}`)) })
	opts, stdout, _ := options(t, gw.URL, &refresher{})
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, []byte(`{"text":"from a file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.Method, opts.Path, opts.Data = "POST", "/v2/notes", "@"+body
	if err := run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	want := []seen{{"POST", "/v2/notes", "Bearer stored-token", "application/json", `{"text":"from a file"}`}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("gateway saw %+v, want %+v", *got, want)
	}
	if out := stdout.String(); out != "{\"ok\":true}\n" {
		t.Errorf("stdout %q", out)
	}

	opts.Data = "@" + filepath.Join(t.TempDir(), "missing.json")
	if err := run(t.Context(), opts); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "-d:") {
		t.Errorf("missing body file: %v, want a usage error", err)
	}
}

// A 401 about expiry is retried once with a refreshed token; another 401
// is not; a non-2xx answer is exit code 1 with the status.
func TestCallRunRetriesExpiredOnce(t *testing.T) {
	gw, got := recordingGateway(t, func(w http.ResponseWriter, n int) {
		if n == 1 {
			w.WriteHeader(401)
			w.Write([]byte(`{"code":401,"message":"Jwt is expired"}`))
			return
		}
		w.Write([]byte(`{}`))
	})
	r := &refresher{}
	opts, _, _ := options(t, gw.URL, r)
	if err := run(t.Context(), opts); err != nil {
		t.Fatal(err)
	}
	if len(*got) != 2 || (*got)[1].Authorization != "Bearer fresh-token" || r.n.Load() != 1 {
		t.Errorf("requests %+v, %d refreshes; want a retry with the refreshed token", *got, r.n.Load())
	}

	gw2, got2 := recordingGateway(t, func(w http.ResponseWriter, _ int) {
		w.WriteHeader(401)
		w.Write([]byte(`{"code":401,"message":"Jwt verification fails"}`))
	})
	opts, _, _ = options(t, gw2.URL, r)
	err := run(t.Context(), opts)
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 || ee.Msg != "GET /v1/hello answered 401 Unauthorized" || len(*got2) != 1 {
		t.Errorf("other 401 = %v after %d requests, want exit 1 after one", err, len(*got2))
	}
}

// On a terminal the body's control characters are escaped; to a pipe the
// body is written byte for byte.
func TestCallRunBodyOnTerminal(t *testing.T) {
	raw := "{\"m\":\"\x1b[2J\"}\n"
	gw, _ := recordingGateway(t, func(w http.ResponseWriter, _ int) { w.Write([]byte(raw)) })
	for _, tty := range []bool{false, true} {
		opts, stdout, _ := options(t, gw.URL, &refresher{})
		opts.IO.OutIsTerminal = func() bool { return tty }
		if err := run(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
		out := stdout.String()
		want := raw
		if tty {
			want = `{"m":"\x1b[2J"}` + "\n"
		}
		if out != want {
			t.Errorf("terminal=%v: stdout %q, want %q", tty, out, want)
		}
	}
}

// The token is not sent to a gateway the session is not bound to, nor
// after a redirect.
func TestCallRunCustody(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(other.Close)
	gw, _ := recordingGateway(t, func(w http.ResponseWriter, _ int) {
		http.Redirect(w, &http.Request{Method: "GET"}, other.URL+"/steal", http.StatusTemporaryRedirect)
	})
	opts, _, stderr := options(t, gw.URL, &refresher{})
	opts.Verbose = true
	var re *session.RedirectError
	if err := run(t.Context(), opts); !errors.As(err, &re) {
		t.Errorf("redirect = %v, want a RedirectError", err)
	}
	if e := stderr.String(); !strings.Contains(e, "< HTTP/1.1 307 Temporary Redirect") || !strings.Contains(e, "> Authorization: Bearer REDACTED") || strings.Contains(e, "stored-token") {
		t.Errorf("verbose output %q", e)
	}
	// The session is now bound to gw: another gateway is refused.
	opts.Resolve = func(context.Context, *target.Flags, target.Need) (target.Target, error) {
		return target.Target{GatewayURL: other.URL, Profile: "p"}, nil
	}
	if err := run(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "is for the gateway "+gw.URL) {
		t.Errorf("another gateway = %v", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the other server got %d requests", hits.Load())
	}
}

func TestWriteHeadersRedacts(t *testing.T) {
	var b strings.Builder
	writeHeaders(&b, "< ", http.Header{"Set-Cookie": {"sid=SECRET"}, "Authorization": {"Bearer SECRET"}, "X-Ok": {"yes"}})
	if s := b.String(); strings.Contains(s, "SECRET") || strings.Contains(s, "sid") || !strings.Contains(s, "< Authorization: Bearer REDACTED") || !strings.Contains(s, "< X-Ok: yes") {
		t.Errorf("headers:\n%s", s)
	}
}
