package root

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// rawServer answers every request with the bytes of respond, so that a
// test can send what net/http's server would not (control characters in
// the status line).
func rawServer(t *testing.T, respond string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				_, _ = c.Read(buf)
				_, _ = c.Write([]byte(respond))
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// raw reports whether s holds a control character a terminal acts on:
// ESC, BEL, or CSI (U+009B, or the lone byte 0x9b).
func raw(s string) bool {
	return strings.ContainsAny(s, "\x1b\x07\u009b") || strings.IndexByte(s, 0x9b) >= 0
}

// #28 item 6: server text reaches the terminal escaped: Firebase Auth's
// error messages, the gateway's status line (in -v and in the error), the
// identity Firebase answered (signup's line, whoami), and a response body
// printed on a terminal. A body written to a pipe or file stays exact.
func TestServerTextEscaped(t *testing.T) {
	t.Run("Firebase Auth message", func(t *testing.T) {
		h := newHarness(t)
		fb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"error":{"code":400,"message":"NEW_CODE \u001b]0;pwned\u0007\u001b[2J\u009b31m"}}`)
		}))
		t.Cleanup(fb.Close)
		h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
		h.stdin = "pw\n"
		code, out, stderr := h.run("login", "--email", "ada@example.com", "--password-stdin")
		if code != 1 || raw(out+stderr) || !strings.Contains(stderr, `NEW_CODE \x1b]0;pwned\x07\x1b[2J\u009b31m`) {
			t.Errorf("login = %d %q %q, want the message with its escapes visible", code, out, stderr)
		}
	})

	t.Run("identity from Firebase Auth", func(t *testing.T) {
		h := newHarness(t)
		evil := "ada\x1b[2J@example.com"
		fb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok := fakeJWT(map[string]any{"aud": "demo-\u009b31m", "sub": "uid-1", "email": evil})
			b, _ := json.Marshal(map[string]string{"idToken": tok, "refreshToken": "r", "expiresIn": "3600", "localId": "uid\x07-1", "email": evil})
			w.Write(b)
		}))
		t.Cleanup(fb.Close)
		h.env["FIREBASE_AUTH_EMULATOR_HOST"] = strings.TrimPrefix(fb.URL, "http://")
		h.stdin = "secret123\n"
		code, out, stderr := h.run("signup", "--email", "ada@example.com", "--password-stdin")
		if code != 0 || raw(out+stderr) || !strings.Contains(out, `as ada\x1b[2J@example.com (uid uid\x07-1`) {
			t.Errorf("signup = %d %q %q", code, out, stderr)
		}
		code, out, _ = h.run("whoami")
		if code != 0 || raw(out) || !strings.Contains(out, `email:   ada\x1b[2J@example.com`) || !strings.Contains(out, `project: demo-\u009b31m`) {
			t.Errorf("whoami = %d %q", code, out)
		}
	})

	t.Run("gateway status line and body", func(t *testing.T) {
		h := newHarness(t)
		fb := newFakeFirebase(t)
		h.useFakes(fb, fakeGateway(t))
		body := "{\"message\":\"\x1b]52;c;cHduZWQ=\x07\"}\n"
		h.env["GATEHOUSE_GATEWAY_URL"] = rawServer(t, fmt.Sprintf("HTTP/1.1 418 I'm \x1b[2Ja teapot\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
		h.signup("ada@example.com", "secret123")

		h.stdoutTTY = true
		code, out, stderr := h.run("call", "/v1/hello", "-v")
		if code != 1 || raw(out+stderr) {
			t.Errorf("call on a terminal = %d\nstdout %q\nstderr %q\nwant no raw control characters", code, out, stderr)
		}
		if !strings.Contains(stderr, `< HTTP/1.1 418 I'm \x1b[2Ja teapot`) || !strings.Contains(stderr, `answered 418 I'm \x1b[2Ja teapot`) || out != `{"message":"\x1b]52;c;cHduZWQ=\x07"}`+"\n" {
			t.Errorf("call on a terminal: stdout %q stderr %q, want the escapes visible", out, stderr)
		}

		// To a pipe or file, the body is data and stays exact (the status
		// line, on stderr, is still escaped).
		h.stdoutTTY = false
		code, out, stderr = h.run("call", "/v1/hello")
		if code != 1 || out != body || raw(stderr) {
			t.Errorf("call to a pipe = %d stdout %q stderr %q, want the body byte for byte", code, out, stderr)
		}
	})
}
