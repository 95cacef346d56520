package root

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/creds"
)

func TestCallWithToken(t *testing.T) {
	h, _, _ := signedUp(t)

	code, out, _ := h.run("call", "/v1/hello")
	if code != 0 || !strings.Contains(out, `"email":"ada@example.com"`) || !strings.Contains(out, `"method":"GET"`) {
		t.Errorf("call /v1/hello = %d %q", code, out)
	}
	code, out, _ = h.run("call", "post", "/v1/items", "-d", `{"a":1}`)
	if code != 0 || !strings.Contains(out, `"method":"POST"`) || !strings.Contains(out, `"body":"{\"a\":1}"`) {
		t.Errorf("call post = %d %q", code, out)
	}
	code, out, stderr := h.run("call", "/v1/missing")
	if code != 1 || !strings.Contains(out, "not defined by this API") || !strings.Contains(stderr, "404") {
		t.Errorf("call /v1/missing = %d %q %q, want exit 1 with the body", code, out, stderr)
	}
}

func TestCallRefreshesOnExpired401(t *testing.T) {
	h, fb, _ := signedUp(t)

	// The stored expiry says the token is fine, but the gateway says it is
	// expired (clock skew): the CLI refreshes once and retries.
	store := creds.Store{Path: h.credPath}
	e, err := store.Get("local")
	if err != nil {
		t.Fatal(err)
	}
	e.IDToken = fakeJWT(map[string]any{"email": "ada@example.com", "exp": time.Now().Add(-time.Minute).Unix()})
	if err := store.Put("local", e); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := h.run("call", "/v1/hello")
	if code != 0 || !strings.Contains(out, "ada@example.com") || fb.refreshes != 1 {
		t.Errorf("call with expired token = %d %q %q, refreshes %d, want 200 after one refresh", code, out, stderr, fb.refreshes)
	}
	// A 401 that is not about expiry is not retried.
	e, _ = store.Get("local")
	e.IDToken = "not-a-jwt"
	_ = store.Put("local", e)
	code, out, _ = h.run("call", "/v1/hello")
	if code != 1 || !strings.Contains(out, "Jwt verification fails") || fb.refreshes != 1 {
		t.Errorf("call with bad token = %d %q, refreshes %d, want exit 1 and no refresh", code, out, fb.refreshes)
	}
}

func TestTokenRefreshesNearExpiry(t *testing.T) {
	h, fb, _ := signedUp(t)
	code, first, _ := h.run("token")
	if code != 0 || fb.refreshes != 0 {
		t.Fatalf("token = %d, refreshes %d", code, fb.refreshes)
	}
	store := creds.Store{Path: h.credPath}
	e, _ := store.Get("local")
	e.Expiry = time.Now().Add(30 * time.Second) // within the refresh margin
	_ = store.Put("local", e)
	code, second, _ := h.run("token")
	if code != 0 || fb.refreshes != 1 || second == first {
		t.Errorf("token near expiry = %d, refreshes %d, same token %v", code, fb.refreshes, second == first)
	}
	if e, _ := store.Get("local"); time.Until(e.Expiry) < 50*time.Minute {
		t.Errorf("stored expiry not updated: %v", e.Expiry)
	}
}

func TestVerboseRedactsAuthorization(t *testing.T) {
	h, _, _ := signedUp(t)
	e, _ := creds.Store{Path: h.credPath}.Get("local")
	code, out, stderr := h.run("call", "/v1/hello", "-v")
	if code != 0 || !strings.Contains(stderr, "> Authorization: Bearer REDACTED") || !strings.Contains(stderr, "< HTTP/1.1 200 OK") {
		t.Errorf("call -v = %d, stderr %q", code, stderr)
	}
	if strings.Contains(stderr+out, e.IDToken) || strings.Contains(stderr+out, e.RefreshToken) {
		t.Error("call -v printed the token")
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	h := newHarness(t)
	fb, gw := newFakeFirebase(t), fakeGateway(t)
	h.useFakes(fb, gw)
	h.stdin = "pw-SECRET-1\n"
	_, out1, err1 := h.run("signup", "--email", "ada@example.com", "--password-stdin")
	h.stdin = "pw-SECRET-1\n"
	_, out2, err2 := h.run("login", "--email", "ada@example.com", "--password-stdin")
	_, out3, err3 := h.run("whoami")
	all := out1 + err1 + out2 + err2 + out3 + err3
	e, _ := creds.Store{Path: h.credPath}.Get("local")
	for _, secret := range []string{"pw-SECRET-1", e.IDToken, e.RefreshToken} {
		if strings.Contains(all, secret) {
			t.Errorf("output contains a secret %q:\n%s", secret, all)
		}
	}
	if !strings.Contains(out3, "email:   ada@example.com") || !strings.Contains(out3, "uid:     uid-ada@example.com") {
		t.Errorf("whoami = %q", out3)
	}
	// Only token prints the token.
	if _, out, _ := h.run("token"); strings.TrimSpace(out) != e.IDToken {
		t.Errorf("token printed %q, want the ID token", out)
	}
}

func TestPasswordPrompt(t *testing.T) {
	h := newHarness(t)
	fb, gw := newFakeFirebase(t), fakeGateway(t)
	h.useFakes(fb, gw)
	h.terminal = true
	h.stdin = "ada@example.com\n"
	h.passwords = []string{"secret123", "secret123"}
	if code, out, stderr := h.run("signup"); code != 0 || !strings.Contains(out, "signed up") || !strings.Contains(stderr, "Repeat password: ") {
		t.Fatalf("signup via prompt = %d %q %q", code, out, stderr)
	}
	h.stdin = "bob@example.com\n"
	h.passwords = []string{"secret123", "different"}
	if code, _, stderr := h.run("signup"); code != 2 || !strings.Contains(stderr, "passwords do not match") {
		t.Errorf("mismatched passwords = %d %q", code, stderr)
	}
	h.terminal = false
	if code, _, stderr := h.run("login", "--email", "ada@example.com"); code != 2 || !strings.Contains(stderr, "--password-stdin") {
		t.Errorf("login without terminal = %d %q", code, stderr)
	}
}

func TestCredentialsFileMode(t *testing.T) {
	h, _, _ := signedUp(t)
	info, err := os.Stat(h.credPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode = %v, %v, want 0600", info.Mode().Perm(), err)
	}
	// A file others can read is refused, not used.
	if err := os.Chmod(h.credPath, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := h.run("token"); code != 1 || !strings.Contains(stderr, "chmod 600") {
		t.Errorf("token with a 0644 file = %d %q", code, stderr)
	}
	if err := os.WriteFile(h.credPath, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(h.credPath, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := h.run("whoami"); code != 1 || !strings.Contains(stderr, "corrupt") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("whoami with a corrupt file = %d %q", code, stderr)
	}
}

// fakePulumi puts a `pulumi` script on the lookup path that prints outputs
// and records its arguments.
func fakePulumi(t *testing.T, h *harness, outputs string, exit int) string {
	dir := t.TempDir()
	argsFile := filepath.Join(dir, "args")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" > %q\necho 'error: no stack selected' >&2\n", argsFile)
	if exit == 0 {
		script = fmt.Sprintf("#!/bin/sh\necho \"$@\" > %q\ncat <<'EOF'\n%s\nEOF\n", argsFile, outputs)
	} else {
		script += fmt.Sprintf("exit %d\n", exit)
	}
	bin := filepath.Join(dir, "pulumi")
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h.lookPath = func(name string) (string, error) {
		if name == "pulumi" {
			return bin, nil
		}
		return "", errors.New("not found")
	}
	return argsFile
}

func TestStackOutputDiscovery(t *testing.T) {
	h := newHarness(t)
	fb, gw := newFakeFirebase(t), fakeGateway(t)
	h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
	argsFile := fakePulumi(t, h, fmt.Sprintf(`{"gatewayUrl":%q,"firebaseApiKey":"AIzaFromStack"}`, gw.URL), 0)
	h.stdin = "secret123\n"
	if code, out, stderr := h.run("signup", "--email", "ada@example.com", "--password-stdin", "--stack", "prod"); code != 0 || !strings.Contains(out, "profile prod") {
		t.Fatalf("signup --stack prod = %d %q %q", code, out, stderr)
	}
	code, out, stderr := h.run("call", "/v1/hello", "--stack", "prod")
	if code != 0 || !strings.Contains(out, "ada@example.com") {
		t.Errorf("call via stack outputs = %d %q %q", code, out, stderr)
	}
	if args, _ := os.ReadFile(argsFile); strings.TrimSpace(string(args)) != "stack output --json --stack prod" {
		t.Errorf("pulumi args = %q", args)
	}
	if e, _ := (creds.Store{Path: h.credPath}).Get("prod"); e == nil || e.APIKey != "emulator-api-key" {
		t.Errorf("stored entry = %+v", e)
	}

	// Flags win over the stack: the fake pulumi is not consulted.
	os.Remove(argsFile)
	if code, _, _ := h.run("call", "/v1/hello", "--stack", "prod", "--gateway-url", gw.URL); code != 0 {
		t.Errorf("call --gateway-url = %d", code)
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("pulumi was run although --gateway-url was given")
	}

	// A failing pulumi gives a one-line error saying what to do.
	fakePulumi(t, h, "", 255)
	code, _, stderr = h.run("call", "/v1/hello", "--profile", "prod")
	if code != 1 || !strings.Contains(stderr, "pass --gateway-url or set GATEHOUSE_GATEWAY_URL") || !strings.Contains(stderr, "no stack selected") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("call with failing pulumi = %d %q", code, stderr)
	}
	// No pulumi at all.
	h.lookPath = func(string) (string, error) { return "", errors.New("not found") }
	code, _, stderr = h.run("call", "/v1/hello")
	if code != 1 || !strings.Contains(stderr, "Pulumi CLI is not installed") {
		t.Errorf("call without pulumi = %d %q", code, stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"call"}, "want [METHOD] PATH"},
		{[]string{"call", "v1/hello"}, "PATH must start with /"},
		{[]string{"call", "FETCH", "/v1/hello"}, `unknown method "FETCH"`},
		{[]string{"call", "/a", "/b", "/c"}, "want [METHOD] PATH"},
		// A flag that needs a value and has none, wherever it stands.
		{[]string{"call", "/v1/hello", "-d"}, "flag needs an argument"},
		{[]string{"call", "-d"}, "flag needs an argument"},
		{[]string{"call", "/v1/hello", "-d", "--gateway-url", "http://127.0.0.1:1"}, "flag needs an argument: --data (got the flag --gateway-url instead)"},
		{[]string{"call", "/v1/hello", "-d", "-v"}, "flag needs an argument: --data (got the flag -v instead)"},
		{[]string{"call", "/v1/hello", "--gateway-url"}, "flag needs an argument"},
		{[]string{"login", "--email"}, "flag needs an argument"},
		{[]string{"login", "--email", "--password-stdin"}, "flag needs an argument: --email"},
		{[]string{"login", "--password", "x"}, "unknown flag: --password"},
		{[]string{"login", "--password-stdin"}, "--email is required"},
		{[]string{"login", "--email", "nope", "--password-stdin"}, "is not an email address"},
		{[]string{"token", "extra"}, `unexpected argument "extra"`},
		{[]string{"token", "--gateway-url", "http://x"}, "unknown flag: --gateway-url"},
		{[]string{"whoami", "--bogus"}, "unknown flag: --bogus"},
	}
	for _, tt := range tests {
		code, stdout, stderr := h.run(tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || (len(tt.args) > 0 && strings.Count(stderr, "\n") != 1) || stdout != "" {
			t.Errorf("gatehouse %q = %d %q %q, want exit 2 and one line containing %q", tt.args, code, stdout, stderr, tt.want)
		}
	}
	h.stdin = ""
	if code, _, stderr := h.run("login", "--email", "a@b.co", "--password-stdin"); code != 2 || !strings.Contains(stderr, "stdin is empty") {
		t.Errorf("empty stdin password = %d %q", code, stderr)
	}
	if code, _, stderr := h.run("token"); code != 1 || !strings.Contains(stderr, "not logged in (profile default)") {
		t.Errorf("token when logged out = %d %q", code, stderr)
	}
	// The body may still start with a dash when given with =.
	fb, gw := newFakeFirebase(t), fakeGateway(t)
	h.useFakes(fb, gw)
	h.signup("ada@example.com", "secret123")
	if code, out, stderr := h.run("call", "POST", "/v1/echo", "-d=-1"); code != 0 || !strings.Contains(out, `"body":"-1"`) {
		t.Errorf("call -d=-1 = %d %q %q", code, out, stderr)
	}
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		args          []string
		want, notWant []string
	}{
		{[]string{"--help"}, []string{"signup", "login", "logout", "token", "call", "whoami", "claims", "GATEHOUSE_GATEWAY_URL"}, nil},
		{[]string{"claims", "--help"}, []string{"set", "get", "clear", "roles/firebaseauth.admin", "gatehouse token --refresh"}, nil},
		{[]string{"claims", "set", "--help"}, []string{"--project", "--stack", "firebaseauth.users.update", "at most 1000 bytes", "nonce, sub)", "picture, provider_id, user_id)", "gatehouse claims set ada@example.com"}, []string{"--gateway-url", "--api-key"}},
		{[]string{"help", "claims", "get"}, []string{"--project", "roles/firebaseauth.viewer"}, []string{"--gateway-url"}},
		{[]string{"help"}, []string{"signup", "call", "GATEHOUSE_GATEWAY_URL"}, nil},
		{[]string{"signup", "--help"}, []string{"--email", "--password-stdin", "--api-key", "--profile"}, []string{"--gateway-url", "--data"}},
		{[]string{"login", "-h"}, []string{"--email", "--password-stdin"}, []string{"--gateway-url"}},
		{[]string{"call", "--help"}, []string{"--data", "--verbose", "--gateway-url", "GATEHOUSE_GATEWAY_URL"}, []string{"--email"}},
		{[]string{"help", "call"}, []string{"--data", "--verbose", "--gateway-url"}, []string{"--email"}},
		{[]string{"help", "whoami"}, []string{"--profile", "--stack"}, []string{"--gateway-url", "--api-key", "--email"}},
		{[]string{"logout", "--help"}, []string{"--profile", "--stack"}, []string{"--gateway-url", "--api-key"}},
		{[]string{"token", "--help"}, []string{"--profile", "--stack", "--refresh"}, []string{"--gateway-url", "--api-key"}},
		{[]string{"whoami", "--help"}, []string{"--profile", "--stack"}, []string{"--gateway-url", "--api-key"}},
	}
	for _, tt := range tests {
		code, out, stderr := h.run(tt.args...)
		if code != 0 || stderr != "" {
			t.Errorf("gatehouse %v = %d, stderr %q", tt.args, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("gatehouse %v: help lacks %q:\n%s", tt.args, w, out)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(out, w) {
				t.Errorf("gatehouse %v: help shows %q, a flag the command does not read:\n%s", tt.args, w, out)
			}
		}
	}
	// help CMD is CMD --help.
	_, viaHelp, _ := h.run("help", "call")
	_, viaFlag, _ := h.run("call", "--help")
	if viaHelp != viaFlag {
		t.Errorf("help call and call --help differ:\n%s\n---\n%s", viaHelp, viaFlag)
	}
	code, out, _ := h.run("--version")
	if code != 0 || !strings.HasPrefix(out, "gatehouse ") || strings.Count(out, "\n") != 1 || len(strings.TrimSpace(out)) <= len("gatehouse ") {
		t.Errorf("--version = %d %q, want one line \"gatehouse VERSION\"", code, out)
	}
}

func TestLogoutAlwaysWorks(t *testing.T) {
	h := newHarness(t)
	if err := os.MkdirAll(filepath.Dir(h.credPath), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.credPath, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Other commands refuse the corrupt file and point at logout.
	if code, _, stderr := h.run("whoami"); code != 1 || !strings.Contains(stderr, "corrupt") || !strings.Contains(stderr, "gatehouse logout") {
		t.Errorf("whoami on a corrupt file = %d %q", code, stderr)
	}
	code, out, stderr := h.run("logout")
	if code != 0 || !strings.Contains(out, "logged out") || !strings.Contains(out, h.credPath+".corrupt") {
		t.Fatalf("logout on a corrupt file = %d %q %q", code, out, stderr)
	}
	if _, err := os.Stat(h.credPath); !os.IsNotExist(err) {
		t.Errorf("corrupt file still in place: %v", err)
	}
	if b, err := os.ReadFile(h.credPath + ".corrupt"); err != nil || string(b) != "{not json" {
		t.Errorf("corrupt file not kept aside: %q %v", b, err)
	}
	// And from a clean state everything works again.
	if code, out, _ := h.run("logout"); code != 0 || !strings.Contains(out, "not logged in") {
		t.Errorf("second logout = %d %q", code, out)
	}
}

func TestEmulatorSessions(t *testing.T) {
	h, fb, _ := signedUp(t)

	// Sessions against the emulator get their own profile.
	if code, out, _ := h.run("whoami"); code != 0 || !strings.Contains(out, "profile: local") {
		t.Errorf("whoami with the emulator = %d %q, want profile local", code, out)
	}
	emu := h.env["FIREBASE_AUTH_EMULATOR_HOST"]
	delete(h.env, "FIREBASE_AUTH_EMULATOR_HOST")
	if code, _, stderr := h.run("whoami"); code != 1 || !strings.Contains(stderr, "not logged in (profile default)") {
		t.Errorf("whoami without the emulator = %d %q, want the cloud profile untouched", code, stderr)
	}
	// Without the emulator variable and no stack, the error says how to
	// point at the local twin.
	if code, _, stderr := h.run("login", "--email", "ada@example.com", "--password-stdin"); code != 1 || !strings.Contains(stderr, "FIREBASE_AUTH_EMULATOR_HOST") {
		t.Errorf("login with nothing configured = %d %q, want a hint about the emulator", code, stderr)
	}
	h.env["FIREBASE_AUTH_EMULATOR_HOST"] = emu

	// The emulator forgot the account (restarted without its data): the
	// session cannot be refreshed, and the CLI says so and suggests signup.
	fb.mu.Lock()
	delete(fb.users, "ada@example.com")
	fb.mu.Unlock()
	store := creds.Store{Path: h.credPath}
	e, _ := store.Get("local")
	e.Expiry = time.Now()
	_ = store.Put("local", e)
	code, _, stderr := h.run("call", "/v1/hello")
	if code != 1 || !strings.Contains(stderr, "no longer knows ada@example.com") || !strings.Contains(stderr, "gatehouse signup") {
		t.Errorf("call after the emulator forgot the account = %d %q", code, stderr)
	}
	h.stdin = "secret123\n"
	code, _, stderr = h.run("login", "--email", "ada@example.com", "--password-stdin")
	if code != 1 || !strings.Contains(stderr, "gatehouse signup") {
		t.Errorf("login to an account the emulator lacks = %d %q, want a hint to sign up", code, stderr)
	}
}
