package local

import (
	"encoding/base64"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/local/emulator"
)

// operatorCanary stands for an operator's Google access token in the
// environment: the emulator path never prints it (cliWith checks every
// run), nor sends it (client/internal/cmd/root's claims tests, against a
// server that records every header).
const operatorCanary = "ya29.operator-canary-token"

// cliWith runs the gatehouse binary with env added to the emulator twin's;
// a run that prints operatorCanary fails the test.
func cliWith(t *testing.T, creds string, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(cliBin, args...)
	cmd.Env = append([]string{
		"FIREBASE_AUTH_EMULATOR_HOST=" + emuTwin.AuthHost,
		"GATEHOUSE_GATEWAY_URL=" + emuTwin.GatewayURL,
		"GATEHOUSE_CREDENTIALS=" + creds,
		"GOOGLE_OAUTH_ACCESS_TOKEN=" + operatorCanary,
		"PATH=/usr/bin:/bin",
	}, env...)
	code, stdout, stderr := runCLI(t, cmd)
	if strings.Contains(stdout+stderr, operatorCanary) {
		t.Errorf("gatehouse %v printed the operator's Google token:\n%s%s", args, stdout, stderr)
	}
	return code, stdout, stderr
}

// TestE2ERoles: roles from Firebase custom claims, end to end through the
// twin with the real Auth emulator and the CLI binary. A new user gets 403
// on the admin route; the operator sets the claim; the user's token shows
// it only once refreshed, then 200; /v1/me shows the roles; clearing the
// claims and refreshing gives 403 again; a client-sent userinfo header
// claiming admin changes nothing.
func TestE2ERoles(t *testing.T) {
	user := signedUp(t)                                     // the user's sessions
	operator := filepath.Join(t.TempDir(), "operator.json") // the operator has none
	admin := func() (int, string) {
		t.Helper()
		code, out, _ := cli(t, user, "", "call", "/v1/admin/hello")
		return code, out
	}
	me := func() (roles []string, claims map[string]any) {
		t.Helper()
		_, out, _ := cli(t, user, "", "call", "/v1/me")
		var got struct {
			Roles  []string       `json:"roles"`
			Claims map[string]any `json:"claims"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || got.Roles == nil {
			t.Fatalf("/v1/me = %q: %v", out, err)
		}
		return got.Roles, got.Claims
	}

	if code, out := admin(); code != 1 || !strings.Contains(out, `"code":403`) || !strings.Contains(out, "needs the role admin") {
		t.Fatalf("new user on the admin route = %d %q, want 403", code, out)
	}
	if roles, claims := me(); len(roles) != 0 || claims != nil {
		t.Errorf("new user's /v1/me: roles %q claims %v, want none", roles, claims)
	}

	code, out, stderr := cliWith(t, operator, nil, "claims", "set", "ada@example.com", `{"roles":["admin"],"plan":"pro"}`)
	if code != 0 || !strings.Contains(out, "set the custom claims of ada@example.com") || !strings.Contains(out, "gatehouse token --refresh") {
		t.Fatalf("claims set = %d %q %q", code, out, stderr)
	}
	if code, out, _ := cliWith(t, operator, nil, "claims", "get", "ada@example.com"); code != 0 || out != `{"plan":"pro","roles":["admin"]}`+"\n" {
		t.Errorf("claims get = %d %q", code, out)
	}
	// The user's token predates the claims: still 403 until it is refreshed.
	if code, out := admin(); code != 1 || !strings.Contains(out, `"code":403`) {
		t.Errorf("admin route before a refresh = %d %q, want 403 (the token carries its claims from when it was issued)", code, out)
	}
	if code, _, stderr := cli(t, user, "", "token", "--refresh"); code != 0 {
		t.Fatalf("token --refresh = %d %q", code, stderr)
	}
	if code, out := admin(); code != 0 || !strings.Contains(out, "Hello, ada@example.com! You hold the admin role.") {
		t.Errorf("admin route after claims set and a refresh = %d %q, want 200", code, out)
	}
	roles, claims := me()
	if strings.Join(roles, ",") != "admin" || claims["plan"] != "pro" {
		t.Errorf("/v1/me after the refresh: roles %q claims %v", roles, claims)
	}
	if _, out, _ := cli(t, user, "", "whoami"); !strings.Contains(out, "roles:   admin") {
		t.Errorf("whoami: %q", out)
	}

	// A forged identity header from the client, claiming admin: the
	// gateway replaces it with the token's payload on secured operations,
	// so it changes nothing, with or without roles in the token.
	_, tok, _ := cli(t, user, "", "token")
	tok = strings.TrimSpace(tok)
	uid := subject(t, tok)
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + uid + `","iss":"https://securetoken.google.com/` + emulator.DefaultProject + `","aud":"` + emulator.DefaultProject + `","roles":["admin","root"]}`))

	if code, out, _ := cliWith(t, operator, nil, "claims", "clear", "ada@example.com"); code != 0 || !strings.Contains(out, "cleared the custom claims of ada@example.com") {
		t.Fatalf("claims clear = %d %q", code, out)
	}
	if code, out, _ := cliWith(t, operator, nil, "claims", "get", "ada@example.com"); code != 0 || out != "{}\n" {
		t.Errorf("claims get after clear = %d %q", code, out)
	}
	if code, out := admin(); code != 0 {
		t.Errorf("admin route after clear, before a refresh = %d %q: the token still carries admin until it is refreshed (at most an hour)", code, out)
	}
	cli(t, user, "", "token", "--refresh")
	if code, out := admin(); code != 1 || !strings.Contains(out, `"code":403`) {
		t.Errorf("admin route after clear and a refresh = %d %q, want 403", code, out)
	}
	_, tok, _ = cli(t, user, "", "token")
	bearer := "Bearer " + strings.TrimSpace(tok)
	status, body := get(t, emuTwin.GatewayURL+"/v1/admin/hello", map[string]string{"Authorization": bearer, "X-Apigateway-Api-Userinfo": forged})
	if status != 403 || !strings.Contains(body, "needs the role admin") {
		t.Errorf("forged userinfo claiming admin, with the user's token = %d %s, want 403", status, body)
	}
	status, body = get(t, emuTwin.GatewayURL+"/v1/me", map[string]string{"Authorization": bearer, "X-Apigateway-Api-Userinfo": forged})
	if status != 200 || strings.Contains(body, "root") || !strings.Contains(body, `"roles":[]`) {
		t.Errorf("forged userinfo on /v1/me = %d %s, want the token's identity (no roles)", status, body)
	}
	if status, body := get(t, emuTwin.GatewayURL+"/v1/admin/hello", map[string]string{"X-Apigateway-Api-Userinfo": forged}); status != 401 {
		t.Errorf("forged userinfo alone = %d %s, want 401", status, body)
	}
}

// subject is a token's sub, read without verifying it.
func subject(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct{ Sub string }
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Sub == "" {
		t.Fatalf("token without a subject: %v", err)
	}
	return c.Sub
}

// TestE2EClaimsRefusedNothingSent: claims Firebase refuses (too large, a
// reserved name) and claims gatehouse refuses are refused by the CLI with a
// clear one-line error and exit 2, and nothing is sent: pointed at a
// listener that counts connections, the CLI never connects; and the real
// emulator's account keeps its claims.
func TestE2EClaimsRefusedNothingSent(t *testing.T) {
	signedUp(t) // the account the operator sets claims on
	operator := filepath.Join(t.TempDir(), "operator.json")
	if code, _, stderr := cliWith(t, operator, nil, "claims", "set", "ada@example.com", `{"roles":["support"]}`); code != 0 {
		t.Fatalf("claims set: %s", stderr)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var connections atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			c.Close()
		}
	}()
	big := `{"roles":["admin"],"notes":"` + strings.Repeat("x", 1000) + `"}`
	for _, tt := range []struct {
		name, claims, want string
	}{
		{"over 1,000 bytes", big, "gatehouse claims set: the claims are 1030 bytes as JSON; Firebase takes at most 1000"},
		{"reserved sub", `{"roles":["admin"],"sub":"someone-else"}`, `gatehouse claims set: claim "sub" is reserved by Firebase`},
		{"reserved firebase", `{"firebase":{"sign_in_provider":"custom"}}`, `claim "firebase" is reserved by Firebase`},
		{"email, set by Firebase", `{"email":"boss@example.com"}`, `claim "email" is set by Firebase in every ID token`},
		{"roles not a list", `{"roles":"admin"}`, "claim roles must be a list of role names"},
	} {
		for where, host := range map[string]string{"the counting listener": ln.Addr().String(), "the emulator": emuTwin.AuthHost} {
			code, out, stderr := cliWith(t, operator, []string{"FIREBASE_AUTH_EMULATOR_HOST=" + host}, "claims", "set", "ada@example.com", tt.claims)
			if code != 2 || out != "" || !strings.Contains(stderr, tt.want) || !strings.HasSuffix(stderr, "nothing was sent (see gatehouse claims set --help)\n") || strings.Count(stderr, "\n") != 1 {
				t.Errorf("%s against %s = %d %q %q, want exit 2 and one line %q", tt.name, where, code, out, stderr, tt.want)
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // a late connection would show up
	if n := connections.Load(); n != 0 {
		t.Errorf("refused claims opened %d connections", n)
	}
	// The same listener does see a valid command's connection: the count
	// above can fail.
	cliWith(t, operator, []string{"FIREBASE_AUTH_EMULATOR_HOST=" + ln.Addr().String()}, "claims", "get", "ada@example.com")
	for deadline := time.Now().Add(2 * time.Second); connections.Load() == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	if connections.Load() == 0 {
		t.Error("the counting listener saw no connection from a valid command: it proves nothing")
	}
	if code, out, _ := cliWith(t, operator, nil, "claims", "get", "ada@example.com"); code != 0 || out != `{"roles":["support"]}`+"\n" {
		t.Errorf("the account's claims after the refusals = %d %q, want unchanged", code, out)
	}
}

// TestE2EMachineClientRoles: a service-account issuer's token carries the
// roles its signer wrote, and backends read them as they read a Firebase
// user's (the same roles claim of the verified payload): its signer decides
// its roles. Through the two-backend stack: /v1/admin/hello and
// /v2/admin/stats admit a machine token with roles ["admin"] and refuse
// one without (403) or with a malformed roles claim (401).
func TestE2EMachineClientRoles(t *testing.T) {
	is := newIssuer(t)
	tw := startTwoBackendTwin(t, is, &childLog)
	bearer := func(change map[string]any) map[string]string {
		return map[string]string{"Authorization": "Bearer " + is.sign(t, is.key, "key-1", claims(change))}
	}
	for _, tt := range []struct {
		name   string
		change map[string]any
		status int
		want   string
	}{
		{"admin", map[string]any{"roles": []string{"admin"}}, 200, ""},
		{"no roles", nil, 403, "needs the role admin"},
		{"another role", map[string]any{"roles": []string{"support"}}, 403, "needs the role admin"},
		{"roles as a string", map[string]any{"roles": "admin"}, 401, "roles claim must be an array of strings"},
	} {
		for _, path := range []string{"/v1/admin/hello", "/v2/admin/stats"} {
			status, body := get(t, tw.GatewayURL+path, bearer(tt.change))
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("%s on %s = %d %s, want %d %q", tt.name, path, status, body, tt.status, tt.want)
			}
		}
	}
	status, body := get(t, tw.GatewayURL+"/v2/admin/stats", bearer(map[string]any{"roles": []string{"admin"}}))
	var st struct{ Callers, Notes int }
	if status != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Errorf("stats = %d %s", status, body)
	}
	// Its roles are in /v1/me too, as for a Firebase user.
	if status, body := get(t, tw.GatewayURL+"/v1/me", bearer(map[string]any{"roles": []string{"admin", "support"}})); status != 200 || !strings.Contains(body, `"roles":["admin","support"]`) {
		t.Errorf("machine /v1/me = %d %s", status, body)
	}
}
