package loopback

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOnlyHosts(t *testing.T) {
	h := OnlyHosts(8080, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("served")) }))
	for _, c := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"localhost:8080", true},
		{"LocalHost:8080", true},
		{"[::1]:8080", true},
		// DNS rebinding: another site's name, resolved to 127.0.0.1.
		{"evil.example:8080", false},
		{"127.0.0.1.nip.io:8080", false},
		{"localhost.evil.example:8080", false},
		// The right name on another port, or without one.
		{"127.0.0.1:80", false},
		{"localhost", false},
		{"127.0.0.1", false},
		{"", false},
		{"127.0.0.2:8080", false},
	} {
		req := httptest.NewRequest("GET", "/v1/hello", nil)
		req.Host = c.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if c.ok != (rec.Code == 200 && rec.Body.String() == "served") {
			t.Errorf("Host %q: %d %s, want served=%v", c.host, rec.Code, rec.Body, c.ok)
		}
		if !c.ok && (rec.Code != http.StatusMisdirectedRequest || rec.Header().Get("Content-Type") != "application/json" || !strings.Contains(rec.Body.String(), `"code":421`)) {
			t.Errorf("Host %q refused with %d %q %s, want a JSON 421", c.host, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://gw.example.com", true},
		{"https://gw.example.com/base", true},
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080", true},
		{"http://[::1]:8080", true},
		{"http://127.0.0.5:8080", true},
		{"http://gw.example.com", false},
		{"http://127.0.0.1.nip.io:8080", false},
		{"http://localhost.evil.example", false},
		{"ftp://127.0.0.1", false},
		{"https://user:pw@gw.example.com", false},
		{"https://gw.example.com?x=1", false},
		{"https://gw.example.com#x", false},
		{"//gw.example.com", false},
		{"gw.example.com", false},
		{"", false},
	} {
		if err := CheckURL(c.url); (err == nil) != c.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
}

func TestCheckHostPort(t *testing.T) {
	for _, c := range []struct {
		hostport string
		ok       bool
	}{
		{"127.0.0.1:9099", true},
		{"localhost:9099", true},
		{"[::1]:9099", true},
		{"evil.example:9099", false},
		{"127.0.0.1:@evil.example", false},
		{"127.0.0.1", false},
		{"127.0.0.1:0", false},
		{"127.0.0.1:99999", false},
		{"http://127.0.0.1:9099", false},
	} {
		if err := CheckHostPort(c.hostport); (err == nil) != c.ok {
			t.Errorf("CheckHostPort(%q) = %v, want ok=%v", c.hostport, err, c.ok)
		}
	}
}
