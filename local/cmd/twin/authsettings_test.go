package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// post sends a JSON body (with an Authorization when auth is set) and
// decodes the JSON answer into out; it returns the status.
func post(t *testing.T, url, auth, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return send(t, req, out)
}

func send(t *testing.T, req *http.Request, out any) int {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// TestStackAuthSettings: the twin honours a stack file's
// gatehouse:allowSignUp false and gatehouse:requireVerifiedEmail true, as
// a deployment of it does: an end user's sign-up is refused as Identity
// Platform refuses it (ADMIN_ONLY_OPERATION), an account an administrator
// creates signs in, and every backend refuses its token (403) until the
// address is verified through the emulator's verification email (its
// out-of-band link), after which a fresh token is served: on the wire, and
// as a user sees it with the CLI (signup refused in plain words, login, the
// 403, verify-email, verify-email --check, the call answered).
func TestStackAuthSettings(t *testing.T) {
	bin := binary(t)
	p := freePorts(t)
	root, _ := filepath.Abs("../../..")
	v2, err := os.ReadFile(filepath.Join(root, "Pulumi.v2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "Pulumi.closed.yaml")
	if err := os.WriteFile(file, append(v2, "  gatehouse:allowSignUp: false\n  gatehouse:requireVerifiedEmail: true\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, out, done := start(t, fmt.Sprintf("%s %s --stack-file %s; exit $?", bin, p.args(), file))
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = waitDone(t, done, out)
		assertAllGone(t, p, out)
	}()
	auth := fmt.Sprintf("http://127.0.0.1:%d", p.auth)
	// The banner says how to get an account the backends accept.
	for _, want := range []string{
		"sign-up is closed (gatehouse:allowSignUp false)", "-H 'Authorization: Bearer owner'",
		fmt.Sprintf("127.0.0.1:%d/identitytoolkit.googleapis.com/v1/projects/demo-gatehouse/accounts", p.auth),
		"gatehouse login --email you@example.com", "gatehouse verify-email\n  gatehouse verify-email --check",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "gatehouse signup") {
		t.Errorf("banner offers sign-up, which is closed:\n%s", out.String())
	}
	gateway := fmt.Sprintf("http://127.0.0.1:%d", p.gateway)
	toolkit := auth + "/identitytoolkit.googleapis.com/v1/"
	account := `{"email":"ada@example.com","password":"correct-horse","returnSecureToken":true}`

	// Sign-up is closed to end users.
	var refused struct{ Error struct{ Message string } }
	if code := post(t, toolkit+"accounts:signUp?key=any", "", account, &refused); code != 400 || refused.Error.Message != "ADMIN_ONLY_OPERATION" {
		t.Fatalf("end user sign-up = %d %q, want 400 ADMIN_ONLY_OPERATION", code, refused.Error.Message)
	}
	// An administrator creates the account.
	if code := post(t, toolkit+"projects/demo-gatehouse/accounts", "Bearer owner", account, nil); code != 200 {
		t.Fatalf("admin account creation = %d", code)
	}
	// The rest as a user does it, with the CLI.
	cli := gatehouseCLI(t, root, auth, gateway)
	if code, stdout := cli("correct-horse\n", "signup", "--email", "eve@example.com", "--password-stdin"); code == 0 || !strings.Contains(stdout, "sign-up is closed for this project") {
		t.Errorf("gatehouse signup with sign-up closed = %d %q, want a refusal that says so", code, stdout)
	}
	if code, stdout := cli("correct-horse\n", "login", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("gatehouse login = %d %q", code, stdout)
	}
	for _, path := range []string{"/v1/hello", "/v2/notes"} {
		if code, stdout := cli("", "call", path); code == 0 || !strings.Contains(stdout, "403") || !strings.Contains(stdout, "verified email") {
			t.Errorf("gatehouse call %s with an unverified email = %d %q, want 403 naming the verified email", path, code, stdout)
		}
	}
	if code, stdout := cli("", "verify-email", "--check"); code == 0 || !strings.Contains(stdout, "not verified yet") {
		t.Errorf("verify-email --check before = %d %q", code, stdout)
	}
	if code, stdout := cli("", "verify-email"); code != 0 || !strings.Contains(stdout, "/emulator/v1/projects/demo-gatehouse/oobCodes") {
		t.Fatalf("gatehouse verify-email = %d %q", code, stdout)
	}
	// The emulator keeps the email's link instead of sending it: open it.
	var codes struct {
		OOBCodes []struct{ Email, OOBLink, RequestType string } `json:"oobCodes"`
	}
	req, _ := http.NewRequest(http.MethodGet, auth+"/emulator/v1/projects/demo-gatehouse/oobCodes", nil)
	if code := send(t, req, &codes); code != 200 || len(codes.OOBCodes) == 0 {
		t.Fatalf("oobCodes = %d %+v", code, codes)
	}
	oob := codes.OOBCodes[len(codes.OOBCodes)-1]
	if oob.RequestType != "VERIFY_EMAIL" || oob.Email != "ada@example.com" {
		t.Fatalf("out-of-band code = %+v, want ada's VERIFY_EMAIL", oob)
	}
	req, _ = http.NewRequest(http.MethodGet, oob.OOBLink, nil)
	if code := send(t, req, nil); code != 200 {
		t.Fatalf("opening the verification link = %d", code)
	}
	if code, stdout := cli("", "verify-email", "--check"); code != 0 || !strings.Contains(stdout, "ada@example.com is verified") {
		t.Errorf("verify-email --check after = %d %q", code, stdout)
	}
	for _, path := range []string{"/v1/hello", "/v2/notes"} {
		if code, stdout := cli("", "call", path); code != 0 {
			t.Errorf("gatehouse call %s with a verified email = %d %q, want 200", path, code, stdout)
		}
	}
}

// gatehouseCLI builds the CLI and returns a runner of it against the twin
// at auth and gateway, with credentials of its own; it returns the exit
// code and everything printed.
func gatehouseCLI(t *testing.T, root, auth, gateway string) func(stdin string, args ...string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = filepath.Join(root, "client")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build CLI: %v\n%s", err, out)
	}
	return func(stdin string, args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"FIREBASE_AUTH_EMULATOR_HOST=" + strings.TrimPrefix(auth, "http://"), "GATEHOUSE_GATEWAY_URL=" + gateway,
			"GATEHOUSE_CREDENTIALS=" + filepath.Join(dir, "credentials.json"), "PATH=/usr/bin:/bin"}
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
}
