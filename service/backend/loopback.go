package backend

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// loopbackHostsOnly serves next only requests whose Host names this
// machine (localhost, or a loopback IP, with any port or none), and
// answers any other with a 421 Misdirected Request (RFC 9110 section
// 15.5.20), through the error handler as every error. Run puts it before
// the routes (echo's Pre) of a backend listening on a loopback
// address, as the local twin runs it: there the gateway's stand-in token is
// unsigned, so a web page that rebinds its own name to 127.0.0.1 (DNS
// rebinding: the browser then treats the backend's port as the page's own
// origin) could otherwise send it with a forged identity. Such a page's
// requests carry its own name as Host. The twin's gateway sends
// Host: 127.0.0.1 (the backend URL's host, without its port, as Envoy's
// host rewrite does). On Cloud Run the backend listens on every interface
// and Cloud Run's front end verifies the invoker: no check is added.
func loopbackHostsOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if host := c.Request().Host; !isLoopbackHost(host) {
			return echo.NewHTTPError(http.StatusMisdirectedRequest,
				fmt.Sprintf("this backend listens on loopback and answers only loopback Host names (127.0.0.1, localhost, [::1]), not %q", host))
		}
		return next(c)
	}
}

// isLoopbackHost reports whether a Host value (name or IP, with or without
// a port) is this machine.
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// listensOnLoopback reports whether the listen address host (LISTEN_HOST)
// is a loopback IP.
func listensOnLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
