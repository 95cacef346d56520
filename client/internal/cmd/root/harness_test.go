package root

// The end-to-end tier of the CLI's tests: each runs Main, the whole CLI as
// the binary runs it (flags, factory, commands, error printing, exit codes),
// against fake Firebase Auth and gateway servers. The commands' own
// packages test their flags (through runF) and run functions (without
// cobra); the session package tests the custody rules directly; local/
// runs the built binary against the real emulator and gateway.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

// harness runs the CLI in-process with a controlled environment.
type harness struct {
	t         *testing.T
	env       map[string]string
	credPath  string
	stdin     string
	terminal  bool
	stdoutTTY bool
	passwords []string
	lookPath  func(string) (string, error)
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, credPath: filepath.Join(dir, "gatehouse", "credentials.json"),
		env:      map[string]string{},
		lookPath: func(string) (string, error) { return "", errors.New("not found") }}
}

func (h *harness) run(args ...string) (int, string, string) {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"GATEHOUSE_CREDENTIALS": h.credPath}
	for k, v := range h.env {
		env[k] = v
	}
	pw := append([]string(nil), h.passwords...)
	code := Main(cmdutil.Env{
		Args: args, Stdin: strings.NewReader(h.stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] },
		Environ: func() []string {
			var out []string
			for k, v := range env {
				out = append(out, k+"="+v)
			}
			return append(out, "PATH="+os.Getenv("PATH"))
		},
		LookPath:         h.lookPath,
		IsTerminal:       func() bool { return h.terminal },
		StdoutIsTerminal: func() bool { return h.stdoutTTY },
		ReadPassword: func() ([]byte, error) {
			if len(pw) == 0 {
				return nil, io.EOF
			}
			p := pw[0]
			pw = pw[1:]
			return []byte(p), nil
		},
		Now: time.Now,
	})
	return code, stdout.String(), stderr.String()
}

func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(b) + ".c2ln"
}

// fakeFirebase serves the Identity Toolkit and Secure Token endpoints as
// the emulator does, with tokens the fake gateway understands.
type fakeFirebase struct {
	*httptest.Server
	mu        sync.Mutex
	users     map[string]string // email -> password
	refreshes int
	ttl       time.Duration
	onRefresh func() // called while a refresh is being answered
	// The admin API (accounts:lookup and accounts:update, as the
	// emulator's admin): each user's custom claims, which their next
	// token carries, and every admin request's path and Authorization.
	claims map[string]string
	admin  []string
}

func newFakeFirebase(t *testing.T) *fakeFirebase {
	f := &fakeFirebase{users: map[string]string{}, ttl: time.Hour, claims: map[string]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeFirebase) token(email string) string {
	claims := map[string]any{}
	_ = json.Unmarshal([]byte(f.claims[email]), &claims)
	for k, v := range map[string]any{"aud": "demo-p", "sub": "uid-" + email, "email": email, "exp": time.Now().Add(f.ttl).Unix(), "jti": time.Now().UnixNano()} {
		claims[k] = v
	}
	return fakeJWT(claims)
}

// serveAdmin answers the admin API as the emulator does for its admin
// ("Authorization: Bearer owner"); false if r is not an admin call.
func (f *fakeFirebase) serveAdmin(w http.ResponseWriter, r *http.Request) bool {
	method := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	if method != "accounts:lookup" && method != "accounts:update" || !strings.HasPrefix(r.URL.Path, "/identitytoolkit.googleapis.com/v1/") {
		return false
	}
	f.admin = append(f.admin, r.URL.Path+" "+r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer owner" {
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":{"code":401,"message":"UNAUTHENTICATED"}}`)
		return true
	}
	var in struct {
		Email            []string
		LocalID          string
		CustomAttributes string
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	if method == "accounts:update" {
		f.claims[strings.TrimPrefix(in.LocalID, "uid-")] = in.CustomAttributes
		fmt.Fprintf(w, `{"localId":%q}`, in.LocalID)
		return true
	}
	var users []any
	for _, e := range in.Email {
		if _, ok := f.users[e]; ok {
			users = append(users, map[string]string{"localId": "uid-" + e, "email": e, "customAttributes": f.claims[e]})
		}
	}
	b, _ := json.Marshal(map[string]any{"users": users})
	_, _ = w.Write(b)
	return true
}

func (f *fakeFirebase) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(code string) {
		w.WriteHeader(400)
		fmt.Fprintf(w, `{"error":{"code":400,"message":%q}}`, code)
	}
	if f.serveAdmin(w, r) {
		return
	}
	switch r.URL.Path {
	case "/identitytoolkit.googleapis.com/v1/accounts:signUp", "/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword":
		var in struct{ Email, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if strings.HasSuffix(r.URL.Path, "signUp") {
			if _, ok := f.users[in.Email]; ok {
				fail("EMAIL_EXISTS")
				return
			}
			f.users[in.Email] = in.Password
		} else if pw, ok := f.users[in.Email]; !ok || pw != in.Password {
			fail("INVALID_LOGIN_CREDENTIALS")
			return
		}
		fmt.Fprintf(w, `{"idToken":%q,"refreshToken":"refresh-%s","expiresIn":"%d","localId":"uid-%s","email":%q}`,
			f.token(in.Email), in.Email, int(f.ttl.Seconds()), in.Email, in.Email)
	case "/securetoken.googleapis.com/v1/token":
		_ = r.ParseForm()
		email := strings.TrimPrefix(r.Form.Get("refresh_token"), "refresh-")
		if _, ok := f.users[email]; !ok {
			fail("INVALID_REFRESH_TOKEN")
			return
		}
		f.refreshes++
		if f.onRefresh != nil {
			f.onRefresh()
		}
		fmt.Fprintf(w, `{"id_token":%q,"refresh_token":"refresh-%s","expires_in":"%d","user_id":"uid-%s"}`, f.token(email), email, int(f.ttl.Seconds()), email)
	default:
		http.NotFound(w, r)
	}
}

// fakeGateway answers like API Gateway: 401 "Jwt is expired" for an expired
// token, 401 "Jwt is missing" without one, else the path and caller.
func fakeGateway(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":401,"message":"Jwt is missing"}`)
			return
		}
		claims, err := firebase.Claims(tok)
		if err != nil {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":401,"message":"Jwt verification fails"}`)
			return
		}
		if exp, _ := claims["exp"].(float64); int64(exp) < time.Now().Unix() {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code":401,"message":"Jwt is expired"}`)
			return
		}
		if r.URL.Path == "/v1/missing" {
			w.WriteHeader(404)
			fmt.Fprint(w, `{"code":404,"message":"The current request is not defined by this API."}`)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"method":%q,"path":%q,"email":%q,"body":%q}`, r.Method, r.URL.Path, claims["email"], body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (h *harness) useFakes(fb *fakeFirebase, gw *httptest.Server) {
	h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
	h.env["GATEHOUSE_GATEWAY_URL"] = gw.URL
}

// signedUp is a harness against fake Firebase and gateway servers, with
// ada@example.com signed up.
func signedUp(t *testing.T) (*harness, *fakeFirebase, *httptest.Server) {
	t.Helper()
	h := newHarness(t)
	fb, gw := newFakeFirebase(t), fakeGateway(t)
	h.useFakes(fb, gw)
	h.signup("ada@example.com", "secret123")
	return h, fb, gw
}

func (h *harness) signup(email, pw string) {
	h.t.Helper()
	h.stdin = pw + "\n"
	if code, _, stderr := h.run("signup", "--email", email, "--password-stdin"); code != 0 {
		h.t.Fatalf("signup = %d: %s", code, stderr)
	}
}
