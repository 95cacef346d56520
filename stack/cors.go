package stack

import (
	"fmt"
	"net/url"
	"strings"
)

// CORSOrigin checks one entry of gatehouse:corsOrigins and returns it as the
// backend compares it (no trailing slash): "*", or a scheme (http or https)
// and host with no path, query or user info. The backend applies its own
// copy of this rule to CORS_ALLOW_ORIGINS (the service module depends on
// nothing of the stack's); a test in local/ starts the backend with every
// origin this rule accepts.
func CORSOrigin(o string) (string, error) {
	if o == "*" {
		return o, nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not * or an origin such as https://app.example.com", o)
	}
	return strings.TrimSuffix(o, "/"), nil
}
