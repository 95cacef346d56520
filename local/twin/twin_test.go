package twin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, base, host, path string) answer {
	t.Helper()
	req, err := http.NewRequest("GET", base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, string(b)}
}

// TestTwinServers checks what the twin's own servers (the gateway and the
// browser client's) answer, beyond the gateway's ESPv2 behaviour: only
// loopback Host names (a page elsewhere cannot rebind its name to reach
// them), and for the page only the built files, with its
// Content-Security-Policy.
func TestTwinServers(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "backend") }))
	defer backend.Close()
	dist := t.TempDir()
	for name, body := range map[string]string{"index.html": "<!doctype html>page", "app.js": "app", ".env": "SECRET=1", "assets/x.txt": "x"} {
		p := filepath.Join(dist, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	def, err := stack.Defaults(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	tw, err := Start(t.Context(), Config{Backends: []Backend{{Backend: def.Backends[0], URL: backend.URL}}, Web: &Web{Dir: dist},
		Issuers: []spec.Issuer{{Name: "machine", Issuer: "https://machine.test", JWKSURI: "http://127.0.0.1:1/keys", Audiences: []string{"aud"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer tw.Stop()
	gw, _ := url.Parse(tw.GatewayURL)
	web, _ := url.Parse(tw.WebURL)
	_, gwPort, _ := strings.Cut(gw.Host, ":")
	_, webPort, _ := strings.Cut(web.Host, ":")

	for _, c := range []struct {
		server, base, host string
		ok                 bool
	}{
		{"gateway", tw.GatewayURL, gw.Host, true},
		{"gateway", tw.GatewayURL, "localhost:" + gwPort, true},
		{"gateway", tw.GatewayURL, "[::1]:" + gwPort, true},
		{"gateway", tw.GatewayURL, "rebound.example:" + gwPort, false},
		{"gateway", tw.GatewayURL, "localhost:" + webPort, false},
		{"web", tw.WebURL, web.Host, true},
		{"web", tw.WebURL, "localhost:" + webPort, true},
		{"web", tw.WebURL, "rebound.example:" + webPort, false},
	} {
		path := "/v1/hello"
		if c.server == "web" {
			path = "/config.json"
		}
		a := get(t, c.base, c.host, path)
		switch {
		case c.ok && c.server == "gateway" && (a.status != 401 || !strings.Contains(a.body, "Jwt is missing")):
			t.Errorf("gateway, Host %s: %d %s, want the gateway's own 401", c.host, a.status, a.body)
		case c.ok && c.server == "web" && a.status != 200:
			t.Errorf("web, Host %s: %d %s", c.host, a.status, a.body)
		case !c.ok && (a.status != http.StatusMisdirectedRequest || !strings.Contains(a.body, `"code":421`)):
			t.Errorf("%s, Host %s: %d %s, want a JSON 421", c.server, c.host, a.status, a.body)
		}
	}

	cfg := get(t, tw.WebURL, web.Host, "/config.json")
	var c struct{ GatewayURL string }
	if err := json.Unmarshal([]byte(cfg.body), &c); err != nil || c.GatewayURL != tw.GatewayURL {
		t.Errorf("config.json %q: gatewayUrl %q, want %q", cfg.body, c.GatewayURL, tw.GatewayURL)
	}
	page := get(t, tw.WebURL, web.Host, "/")
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'", "connect-src 'self' " + tw.GatewayURL} {
		if !strings.Contains(csp, want) {
			t.Errorf("page's Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if cfg.header.Get("Content-Security-Policy") != csp || page.status != 200 || page.body != "<!doctype html>page" {
		t.Errorf("/ = %d %q; config.json's CSP %q", page.status, page.body, cfg.header.Get("Content-Security-Policy"))
	}
	for _, p := range []string{"/.env", "/assets/", "/assets"} {
		if a := get(t, tw.WebURL, web.Host, p); a.status != 404 || !strings.Contains(a.body, `"code":404`) {
			t.Errorf("web %s = %d %q, want a JSON 404 (only the built files)", p, a.status, a.body)
		}
	}
}
