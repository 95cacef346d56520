package webpage

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// builtClient is a directory like .cache/web/dist, with what must not be
// served beside it: dotfiles, a dot-directory, a subdirectory without an
// index, a symbolic link out of it.
func builtClient(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.html": "<!doctype html>page", "app.js": "console.log(1)", "app.css": "body{}",
		".env": "SECRET=1", ".git/config": "[core]", "sub/.hidden": "x", "sub/file.txt": "in a subdirectory",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFilesServesOnlyBuiltFiles(t *testing.T) {
	h := Files(builtClient(t))
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/", 200, "<!doctype html>page"},
		{"GET", "/index.html", 200, "<!doctype html>page"},
		{"GET", "/app.js", 200, "console.log(1)"},
		{"HEAD", "/app.js", 200, ""},
		{"GET", "/sub/file.txt", 200, "in a subdirectory"},
		// No directory listings.
		{"GET", "/sub/", 404, ""},
		{"GET", "/sub", 404, ""},
		// No dotfiles, in any directory.
		{"GET", "/.env", 404, ""},
		{"GET", "/.git/config", 404, ""},
		{"GET", "/.git/", 404, ""},
		{"GET", "/sub/.hidden", 404, ""},
		// Nothing outside the directory, by link or by path.
		{"GET", "/link.txt", 404, ""},
		{"GET", "/../secret.txt", 404, ""},
		{"GET", "/sub/../app.js", 404, ""},
		{"GET", "//app.js", 404, ""},
		{"GET", "/app.js/", 404, ""},
		{"GET", "/missing.js", 404, ""},
		{"POST", "/app.js", 405, ""},
	} {
		req := httptest.NewRequest(c.method, "http://127.0.0.1/", nil)
		req.URL.Path = c.path // as sent, not cleaned
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("%s %s = %d %q, want %d", c.method, c.path, rec.Code, rec.Body, c.status)
			continue
		}
		if c.status == 200 && rec.Body.String() != c.body {
			t.Errorf("%s %s body %q, want %q", c.method, c.path, rec.Body, c.body)
		}
		if c.status != 200 && (rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"code":`)) {
			t.Errorf("%s %s refused with %q %s, want a JSON error", c.method, c.path, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

func TestCSP(t *testing.T) {
	emu := Config{GatewayURL: "http://127.0.0.1:8080", AuthEmulatorHost: "127.0.0.1:9099"}
	csp, err := emu.CSP()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'",
		"connect-src 'self' http://127.0.0.1:8080 http://127.0.0.1:9099;"} {
		if !strings.Contains(csp+";", want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "*") {
		t.Errorf("CSP %q allows inline code or wildcards", csp)
	}
	deployed := Config{GatewayURL: "https://gw-abc.ew.gateway.dev"}
	csp, err = deployed.CSP()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csp, "connect-src 'self' https://gw-abc.ew.gateway.dev https://identitytoolkit.googleapis.com https://securetoken.googleapis.com;") {
		t.Errorf("deployed CSP %q", csp)
	}
	for _, bad := range []Config{
		{GatewayURL: "http://gw.example.com"},
		{GatewayURL: "https://gw.example.com", AuthEmulatorHost: "evil.example:9099"},
		{GatewayURL: "javascript:alert(1)"},
	} {
		if _, err := bad.CSP(); err == nil {
			t.Errorf("CSP for %+v: no error", bad)
		}
	}
}

func TestSecureHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	Secure("default-src 'none'; frame-ancestors 'none'", Files(builtClient(t))).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for k, v := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
