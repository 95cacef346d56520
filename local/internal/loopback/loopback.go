// Package loopback holds the local servers' rules for loopback names: the
// Host check that keeps a web page from reaching them by DNS rebinding,
// and which URLs count as this machine.
package loopback

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Hosts are the Host values a server listening on 127.0.0.1:port answers:
// the names by which a client on this machine reaches it. A page from
// another site that rebinds its own name to 127.0.0.1 still sends its own
// name as Host, so it is refused (DNS rebinding: the browser's same-origin
// policy treats the rebound name as the page's own origin).
func Hosts(port int) []string {
	p := strconv.Itoa(port)
	return []string{"127.0.0.1:" + p, "localhost:" + p, "[::1]:" + p}
}

// OnlyHosts answers requests whose Host is one of Hosts(port) (localhost in
// any case) with next, and any other with a JSON 421 Misdirected Request
// (RFC 9110 section 15.5.20: the request went to a server that does not
// serve that name).
func OnlyHosts(port int, next http.Handler) http.Handler {
	allowed := map[string]bool{}
	for _, h := range Hosts(port) {
		allowed[h] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[strings.ToLower(r.Host)] {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_ = json.NewEncoder(w).Encode(struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			}{http.StatusMisdirectedRequest, fmt.Sprintf("this server answers only its loopback names (%s), not Host %q", strings.Join(Hosts(port), ", "), r.Host)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsLoopback reports whether host (a host name or IP, without port or
// brackets) is this machine: localhost or a loopback IP.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckURL requires an absolute https URL, or plain http to this machine
// only, with no user info, query or fragment: a URL the browser client may
// send an ID token to. The page applies the same rule (client/web/app.js
// checkGatewayUrl).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return fmt.Errorf("%q has user info, a query or a fragment", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q must use https (plain http only to this machine, for the local twin)", raw)
}

// CheckHostPort requires host:port naming this machine, as an emulator
// address (FIREBASE_AUTH_EMULATOR_HOST) must: the emulator speaks plain
// HTTP and receives passwords.
func CheckHostPort(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port == "" {
		return fmt.Errorf("%q is not host:port", hostport)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no valid port", hostport)
	}
	if !IsLoopback(host) {
		return fmt.Errorf("%q is not on this machine (plain HTTP only to a loopback address)", hostport)
	}
	return nil
}
