package local

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/local/emulator"
	"github.com/gatehouse/gatehouse/spec"
)

// The CLI's account lifecycle against the real Firebase Auth emulator, with
// the built binary (moved here from the client module, which no longer
// depends on the emulator): signup, the emulator's refusals in plain words,
// login, a refresh through the Secure Token API, logout.
func TestE2ECLIAccountLifecycle(t *testing.T) {
	freshAuth(t)
	creds := filepath.Join(t.TempDir(), "credentials.json")
	signup := func(email, pw string) (int, string, string) {
		return cli(t, creds, pw+"\n", "signup", "--email", email, "--password-stdin")
	}
	login := func(email, pw string) (int, string, string) {
		return cli(t, creds, pw+"\n", "login", "--email", email, "--password-stdin")
	}

	code, out, stderr := signup("ada@example.com", "correct-horse")
	if code != 0 || !strings.Contains(out, "signed up and logged in as ada@example.com") {
		t.Fatalf("signup = %d %q %q", code, out, stderr)
	}
	e := storedSession(t, creds, "local")
	if e.ProjectID != emulator.DefaultProject || e.UID == "" || e.IDToken == "" {
		t.Fatalf("stored session = %+v", e)
	}

	if code, _, stderr := signup("ada@example.com", "another-pass"); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("duplicate signup = %d %q", code, stderr)
	}
	if code, _, stderr := signup("weak@example.com", "123"); code != 1 || !strings.Contains(stderr, "password too weak") {
		t.Errorf("weak password = %d %q", code, stderr)
	}
	if code, _, stderr := login("ada@example.com", "wrong-password"); code != 1 || !strings.Contains(stderr, "wrong email or password") {
		t.Errorf("login with wrong password = %d %q", code, stderr)
	}
	if code, _, stderr := login("nobody@example.com", "whatever1"); code != 1 || !strings.Contains(stderr, "wrong email or password") {
		t.Errorf("login of unknown user = %d %q", code, stderr)
	}
	code, out, stderr = login("ada@example.com", "correct-horse")
	if code != 0 || !strings.Contains(out, "logged in as ada@example.com") {
		t.Fatalf("login = %d %q %q", code, out, stderr)
	}

	// Force a refresh: mark the stored token as expired.
	oldRefresh := storedSession(t, creds, "local").RefreshToken
	editSession(t, creds, "local", func(s map[string]any) { s["expiry"] = time.Now().Add(-time.Second).UTC().Format(time.RFC3339) })
	code, tok, stderr := cli(t, creds, "", "token")
	if code != 0 || strings.Count(strings.TrimSpace(tok), ".") != 2 {
		t.Fatalf("token after expiry = %d %q %q", code, tok, stderr)
	}
	e = storedSession(t, creds, "local")
	if time.Until(e.Expiry) < 30*time.Minute || e.IDToken != strings.TrimSpace(tok) || e.RefreshToken == "" {
		t.Errorf("refresh did not store a fresh session: expiry %v, refresh changed %v", e.Expiry, e.RefreshToken != oldRefresh)
	}

	if code, out, _ := cli(t, creds, "", "logout"); code != 0 || !strings.Contains(out, "logged out") {
		t.Errorf("logout = %d %q", code, out)
	}
	if code, _, stderr := cli(t, creds, "", "token"); code != 1 || !strings.Contains(stderr, "not logged in") {
		t.Errorf("token after logout = %d %q", code, stderr)
	}
}

// `gatehouse help call` shows calls that work: each example, run as a
// shell would run it, against the twin's /v1 backend, answers 2xx.
func TestE2EHelpCallExamplesWork(t *testing.T) {
	creds := signedUp(t)
	_, help, _ := cli(t, creds, "", "help", "call")
	_, examples, found := strings.Cut(help, "Examples:\n")
	examples, _, _ = strings.Cut(examples, "\n\n")
	if !found || strings.TrimSpace(examples) == "" {
		t.Fatalf("help call has no examples:\n%s", help)
	}
	for _, example := range strings.Split(examples, "\n") {
		example = strings.TrimSpace(example)
		if !strings.HasPrefix(example, "gatehouse call ") {
			t.Errorf("example %q is not a gatehouse call", example)
			continue
		}
		out, err := shellLine(creds, example)
		if err != nil {
			t.Errorf("example %q failed (%v):\n%s", example, err, out)
		}
	}
}

// shellLine runs line with sh, as a user pastes it, with the CLI on PATH
// and pointed at the emulator twin, signed in as creds says.
func shellLine(creds, line string) ([]byte, error) {
	sh := exec.Command("sh", "-c", line)
	sh.Env = []string{
		"PATH=" + filepath.Dir(cliBin) + ":/usr/bin:/bin",
		"FIREBASE_AUTH_EMULATOR_HOST=" + emuTwin.AuthHost,
		"GATEHOUSE_GATEWAY_URL=" + emuTwin.GatewayURL,
		"GATEHOUSE_CREDENTIALS=" + creds,
	}
	return sh.CombinedOutput()
}

// session is the part of the CLI's credentials file the tests read.
type session struct {
	Email        string    `json:"email"`
	UID          string    `json:"uid"`
	ProjectID    string    `json:"project_id"`
	IDToken      string    `json:"id_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

func storedSession(t *testing.T, path, profile string) session {
	t.Helper()
	var f struct{ Profiles map[string]session }
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &f) != nil {
		t.Fatalf("read credentials %s: %v %s", path, err, b)
	}
	return f.Profiles[profile]
}

// editSession changes a stored session in place (mode 0600 kept).
func editSession(t *testing.T, path, profile string, edit func(map[string]any)) {
	t.Helper()
	var f map[string]any
	b, err := os.ReadFile(path)
	if err != nil || json.Unmarshal(b, &f) != nil {
		t.Fatalf("read credentials %s: %v", path, err)
	}
	edit(f["profiles"].(map[string]any)[profile].(map[string]any))
	if b, err = json.Marshal(f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestE2EExampleCallsWork: the calls the twin's banner and the README
// print for each backend, derived from its fragment (spec.ExampleLines),
// work as a shell runs them: every gatehouse call against the twin of
// Pulumi.v2.yaml answers 2xx, the notes POST with its JSON body included,
// except those that say they need a role, which answer 403.
func TestE2EExampleCallsWork(t *testing.T) {
	creds := signedUp(t)
	ran := map[string]int{}
	for _, b := range emuBackends {
		lines, err := spec.ExampleLines(b.Fragment, emuTwin.GatewayURL)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range lines {
			if !strings.HasPrefix(line, "gatehouse call ") {
				continue // curl: the same request (TestExampleCalls in spec pins its form)
			}
			out, err := shellLine(creds, line)
			switch {
			case strings.Contains(line, "# 403 without the role "):
				// A call that needs a role says so, and the new account
				// has none: the backend refuses it, as the line says.
				if err == nil || !strings.Contains(string(out), `"code":403`) {
					t.Errorf("backend %s: %q = %v, want the 403 its comment promises:\n%s", b.Name, line, err, out)
				}
			case err != nil:
				t.Errorf("backend %s: %q failed (%v):\n%s", b.Name, line, err, out)
			}
			ran[b.Name]++
		}
	}
	if ran["v1"] != 3 || ran["notes"] != 3 {
		t.Errorf("ran %v example calls, want /v1's three and notes' three", ran)
	}
	// The POST stored its note: the list shows it.
	if code, out, _ := cli(t, creds, "", "call", "/v2/notes"); code != 0 || !strings.Contains(out, "buy milk") {
		t.Errorf("GET /v2/notes after the example POST = %d %s", code, out)
	}
}
