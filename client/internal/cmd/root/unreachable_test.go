package root

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// #27 item 7: a "cannot reach" error names the variable that pointed the
// CLI there (after a deploy, a leftover export from the twin).
func TestCannotReachNamesTheVariable(t *testing.T) {
	closed := func() string {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		return srv.URL
	}
	t.Run("gateway from GATEHOUSE_GATEWAY_URL", func(t *testing.T) {
		h := newHarness(t)
		fb := newFakeFirebase(t)
		h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
		h.signup("ada@example.com", "secret123")
		down := closed()
		h.env["GATEHOUSE_GATEWAY_URL"] = down
		code, _, stderr := h.run("call", "/v1/hello")
		if code != 1 || !strings.Contains(stderr, "cannot reach the gateway at "+down+"/v1/hello (GATEHOUSE_GATEWAY_URL is set: unset it") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("call = %d %q", code, stderr)
		}
	})
	t.Run("gateway from the flag", func(t *testing.T) {
		h := newHarness(t)
		fb := newFakeFirebase(t)
		h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
		h.signup("ada@example.com", "secret123")
		down := closed()
		code, _, stderr := h.run("call", "/v1/hello", "--gateway-url", down)
		if code != 1 || !strings.Contains(stderr, "(from --gateway-url)") || strings.Contains(stderr, "GATEHOUSE_GATEWAY_URL") {
			t.Errorf("call = %d %q", code, stderr)
		}
	})
	t.Run("emulator from FIREBASE_AUTH_EMULATOR_HOST", func(t *testing.T) {
		h := newHarness(t)
		host := strings.TrimPrefix(closed(), "http://")
		h.env["FIREBASE_AUTH_EMULATOR_HOST"] = host
		h.stdin = "secret123\n"
		code, _, stderr := h.run("login", "--email", "ada@example.com", "--password-stdin")
		if code != 1 || !strings.Contains(stderr, "cannot reach the Firebase Auth emulator at http://"+host) || !strings.Contains(stderr, "unset FIREBASE_AUTH_EMULATOR_HOST") {
			t.Errorf("login = %d %q", code, stderr)
		}
	})
}
