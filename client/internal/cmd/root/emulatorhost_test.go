package root

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// #28 item 4: FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:@evil.example passed the
// loopback check, and the login sent the email and password over plain
// http to evil.example. It is refused before a password is read, and
// nothing is sent.
func TestEmulatorHostNotHostPortRefused(t *testing.T) {
	h := newHarness(t)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, v := range []string{"127.0.0.1:@evil.example", "127.0.0.1:" + port + "@evil.example", "127.0.0.1:" + port + "/x@evil.example", "http://127.0.0.1:" + port} {
		h.env["FIREBASE_AUTH_EMULATOR_HOST"] = v
		h.env["GATEHOUSE_API_KEY"] = "k"
		h.stdin = "pw-SECRET-1\n"
		code, out, stderr := h.run("login", "--email", "ada@example.com", "--password-stdin")
		if code != 1 || !strings.Contains(stderr, "FIREBASE_AUTH_EMULATOR_HOST="+v+" is not HOST:PORT") || strings.Count(stderr, "\n") != 1 || strings.Contains(out+stderr, "pw-SECRET") {
			t.Errorf("login with %s = %d %q %q, want a one-line refusal", v, code, out, stderr)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests were sent", n)
	}
}
