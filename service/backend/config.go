package backend

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
)

// config is what Run reads from the environment.
type config struct {
	// host is the address to listen on: empty means every interface, as
	// Cloud Run needs; the local twin sets LISTEN_HOST=127.0.0.1 so nothing
	// but the local gateway on this machine can reach the backend.
	host           string
	port           int
	logLevel       slog.Level
	service        string
	revision       string
	projectID      string
	corsOrigins    []string
	accessLog      bool          // ACCESS_LOG=all: log every request (local debugging)
	slowRequest    time.Duration // SLOW_REQUEST: successes this slow are logged
	gatewayAccount string        // GATEWAY_SERVICE_ACCOUNT, see invoker.go
	// REQUIRE_EMAIL_VERIFIED=true: identity routes refuse (403) a caller
	// whose token lacks email_verified: true.
	requireEmailVerified bool
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		port:      8080,
		service:   getenv("K_SERVICE"),
		revision:  getenv("K_REVISION"),
		projectID: getenv("GOOGLE_CLOUD_PROJECT"),
	}
	// Required by backends with identity routes (NewServer says so); a
	// value given is checked here, whatever the backend.
	if v := getenv(GatewayAccountEnv); v != "" {
		if err := checkGatewayAccount(v); err != nil {
			return config{}, err
		}
		c.gatewayAccount = v
	}
	if h := getenv("LISTEN_HOST"); h != "" {
		if ip := net.ParseIP(h); ip == nil {
			return config{}, fmt.Errorf("invalid LISTEN_HOST %q: want an IP address such as 127.0.0.1 (unset: every interface)", h)
		}
		c.host = h
	}
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return config{}, fmt.Errorf("invalid PORT %q: want a number from 1 to 65535", p)
		}
		c.port = n
	}
	lvl, err := cloudlog.ParseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		return config{}, fmt.Errorf("invalid LOG_LEVEL: %w", err)
	}
	c.logLevel = lvl
	switch v := getenv("ACCESS_LOG"); v {
	case "", "errors":
	case "all":
		c.accessLog = true
	default:
		return config{}, fmt.Errorf("invalid ACCESS_LOG %q: want errors (the default: 4xx, 5xx and slow requests) or all", v)
	}
	if v := getenv("SLOW_REQUEST"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return config{}, fmt.Errorf("invalid SLOW_REQUEST %q: want a positive duration such as 1s", v)
		}
		c.slowRequest = d
	}
	switch v := getenv("REQUIRE_EMAIL_VERIFIED"); v {
	case "", "false":
	case "true":
		c.requireEmailVerified = true
	default:
		return config{}, fmt.Errorf("invalid REQUIRE_EMAIL_VERIFIED %q: want true (callers need a verified email) or false (the default)", v)
	}
	for _, o := range strings.Split(getenv("CORS_ALLOW_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return config{}, fmt.Errorf("invalid CORS_ALLOW_ORIGINS entry %q: want * or an origin such as https://app.example.com", o)
			}
			o = strings.TrimSuffix(o, "/")
		}
		c.corsOrigins = append(c.corsOrigins, o)
	}
	return c, nil
}
