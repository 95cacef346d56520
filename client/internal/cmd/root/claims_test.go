package root

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

const operatorSecret = "ya29.operator-secret-token"

// The operator's flow against the emulator, through Main: claims set, the
// user's token shows nothing new until refreshed, token --refresh gets the
// roles at once, get and clear. The emulator gets its admin token, never
// the operator's Google token, even when one is in the environment.
func TestClaimsAgainstEmulator(t *testing.T) {
	h, fb, _ := signedUp(t)
	h.env["GOOGLE_OAUTH_ACCESS_TOKEN"] = operatorSecret

	code, out, stderr := h.run("claims", "set", "ada@example.com", `{"roles":["admin"]}`)
	if code != 0 || !strings.Contains(out, `set the custom claims of ada@example.com to {"roles":["admin"]} (the Auth emulator at `) ||
		!strings.Contains(out, "gatehouse token --refresh") {
		t.Fatalf("claims set = %d %q %q", code, out, stderr)
	}
	if code, out, _ := h.run("claims", "get", "ada@example.com"); code != 0 || out != `{"roles":["admin"]}`+"\n" {
		t.Errorf("claims get = %d %q", code, out)
	}
	for _, req := range fb.admin {
		if !strings.HasSuffix(req, " Bearer owner") || strings.Contains(req, operatorSecret) {
			t.Errorf("admin request %q: want the emulator's admin token only", req)
		}
	}
	if len(fb.admin) != 3 { // lookup, update, lookup
		t.Errorf("admin requests %q, want 3", fb.admin)
	}

	roles := func() string {
		t.Helper()
		e, err := (&creds.Store{Path: h.credPath}).Get("local")
		if err != nil {
			t.Fatal(err)
		}
		c, _ := firebase.Claims(e.IDToken)
		b, _ := json.Marshal(c["roles"])
		return string(b)
	}
	if code, _, _ := h.run("token"); code != 0 || roles() != "null" || fb.refreshes != 0 {
		t.Errorf("token before a refresh: roles %s after %d refreshes, want none and no refresh (the stored token is still valid)", roles(), fb.refreshes)
	}
	if code, tok, _ := h.run("token", "--refresh"); code != 0 || roles() != `["admin"]` || fb.refreshes != 1 || strings.Count(tok, ".") != 2 {
		t.Errorf("token --refresh = %d: roles %s after %d refreshes, want [\"admin\"] after 1", code, roles(), fb.refreshes)
	}
	if _, out, _ := h.run("whoami"); !strings.Contains(out, "roles:   admin (in the stored token") {
		t.Errorf("whoami after the refresh: %q", out)
	}

	if code, out, _ := h.run("claims", "clear", "ada@example.com"); code != 0 || !strings.Contains(out, "cleared the custom claims of ada@example.com") || !strings.Contains(out, "now holds no roles") {
		t.Errorf("claims clear = %d %q", code, out)
	}
	h.run("token", "--refresh")
	if roles() != "null" || fb.claims["ada@example.com"] != "{}" {
		t.Errorf("after clear and a refresh: roles %s, stored %q", roles(), fb.claims["ada@example.com"])
	}
}

// Refused input: exit 2, one line naming the command, and not one request.
func TestClaimsRefusedNothingSent(t *testing.T) {
	h, fb, _ := signedUp(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"claims", "set", "ada@example.com", `{"notes":"` + strings.Repeat("x", 1000) + `"}`}, "gatehouse claims set: the claims are 1012 bytes as JSON; Firebase takes at most 1000"},
		{[]string{"claims", "set", "ada@example.com", `{"firebase":{"sign_in_provider":"custom"}}`}, `gatehouse claims set: claim "firebase" is reserved by Firebase`},
		{[]string{"claims", "set", "ada@example.com", `{"roles":"admin"}`}, "gatehouse claims set: claim roles must be a list of role names"},
		{[]string{"claims", "get", "not-an-email"}, `gatehouse claims get: "not-an-email" is not an email address`},
		{[]string{"claims"}, "gatehouse claims: claims needs a subcommand: set, get or clear"},
		{[]string{"claims", "set", "ada@example.com"}, "gatehouse claims set: claims set takes EMAIL CLAIMS"},
		{[]string{"claims", "bogus"}, "gatehouse claims: unexpected argument \"bogus\""},
	} {
		code, out, stderr := h.run(tt.args...)
		if code != 2 || out != "" || !strings.HasPrefix(stderr, tt.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v = %d %q %q, want exit 2 and one line %q", tt.args[:min(len(tt.args), 3)], code, out, stderr, tt.want)
		}
	}
	if len(fb.admin) != 0 {
		t.Errorf("refused input still sent %q", fb.admin)
	}
}

// Without the emulator and without a project, the command says how to name
// one, before any credential is looked for.
func TestClaimsNeedsAProject(t *testing.T) {
	h := newHarness(t)
	code, _, stderr := h.run("claims", "get", "ada@example.com")
	if code != 1 || !strings.Contains(stderr, "no Firebase project: pass --project") {
		t.Errorf("claims get without a project = %d %q", code, stderr)
	}
	h.env["GOOGLE_OAUTH_ACCESS_TOKEN"] = "two words"
	code, _, stderr = h.run("claims", "get", "ada@example.com", "--project", "my-project")
	if code != 1 || !strings.Contains(stderr, "GOOGLE_OAUTH_ACCESS_TOKEN: the access token holds characters no access token has") || strings.Contains(stderr, "two words") {
		t.Errorf("claims get with a bad token = %d %q", code, stderr)
	}
}
