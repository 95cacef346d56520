// Package webpage serves the built browser client (client/web, built by
// `make web` into .cache/web/dist) the way both of its servers do, the
// twin's and `make web-deployed`'s: only the built files, never a
// directory listing or a dotfile, and every answer with a
// Content-Security-Policy that lets the page talk to its gateway and to
// Firebase Authentication and to nothing else, and that no other site may
// frame (frame-ancestors 'none').
package webpage

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/gatehouse/gatehouse/local/internal/loopback"
)

// Config is the page's config.json.
type Config struct {
	APIKey           string `json:"apiKey"`
	ProjectID        string `json:"projectId"`
	AuthDomain       string `json:"authDomain"`
	GatewayURL       string `json:"gatewayUrl"`
	AuthEmulatorHost string `json:"authEmulatorHost,omitempty"`
}

// Check applies the page's own rules (client/web/app.js) on the server
// side: the gateway over https (plain http only on this machine), and the
// Auth emulator, which speaks plain HTTP, only on this machine.
func (c Config) Check() error {
	if err := loopback.CheckURL(c.GatewayURL); err != nil {
		return fmt.Errorf("gatewayUrl: %w", err)
	}
	if c.AuthEmulatorHost != "" {
		if err := loopback.CheckHostPort(c.AuthEmulatorHost); err != nil {
			return fmt.Errorf("authEmulatorHost: %w", err)
		}
	}
	return nil
}

// Firebase Authentication's REST endpoints, which the JS SDK calls for
// email/password accounts and token refreshes
// (https://firebase.google.com/docs/reference/rest/auth).
var firebaseAuthOrigins = []string{"https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com"}

// CSP is the page's Content-Security-Policy for c: scripts and styles from
// its own origin only (no inline code), fetches to its own origin (for
// config.json), its gateway's origin and Firebase Authentication (the
// emulator instead, when set), nothing framed, framed by no one, and no
// form or base URL elsewhere.
func (c Config) CSP() (string, error) {
	if err := c.Check(); err != nil {
		return "", err
	}
	u, _ := url.Parse(c.GatewayURL)
	connect := []string{"'self'", u.Scheme + "://" + u.Host}
	if c.AuthEmulatorHost != "" {
		connect = append(connect, "http://"+c.AuthEmulatorHost)
	} else {
		connect = append(connect, firebaseAuthOrigins...)
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + strings.Join(connect, " "),
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; "), nil
}

// Secure sets the headers every answer of the page's servers carries.
func Secure(csp string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY") // frame-ancestors for browsers without CSP 2
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Files serves the regular files of the built client in dir: "/" is
// index.html; a name with a segment starting with "." (a dotfile or a
// dot-directory), a directory, a symbolic link, anything outside dir, and
// any path that is not already clean get a JSON 404; methods other than
// GET and HEAD a JSON 405.
func Files(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, "only GET and HEAD")
			return
		}
		name, ok := fileName(r.URL.Path)
		if !ok {
			writeJSON(w, http.StatusNotFound, "not found")
			return
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			writeJSON(w, http.StatusNotFound, "not found")
			return
		}
		defer root.Close()
		info, err := root.Lstat(name)
		if err != nil || !info.Mode().IsRegular() {
			writeJSON(w, http.StatusNotFound, "not found")
			return
		}
		f, err := root.Open(name)
		if err != nil {
			writeJSON(w, http.StatusNotFound, "not found")
			return
		}
		defer f.Close()
		http.ServeContent(w, r, name, info.ModTime(), f)
	})
}

// fileName maps a request path to a file name under the client's
// directory, or says there is none.
func fileName(p string) (string, bool) {
	if p == "/" {
		return "index.html", true
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return "", false
	}
	name := p[1:]
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return "", false
		}
	}
	return name, fs.ValidPath(name)
}

// ServeConfig answers with c as config.json.
func ServeConfig(c Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	})
}

// ReadConfig reads and checks dir's config.json (written by `make
// web-deployed` from a stack's outputs).
func ReadConfig(dir string) (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("config.json: %w", err)
	}
	if err := c.Check(); err != nil {
		return c, fmt.Errorf("config.json: %w", err)
	}
	return c, nil
}

func writeJSON(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg})
}
