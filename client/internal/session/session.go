// Package session keeps custody of a signed-in session's tokens. Its rules
// decide where a token may go, so every command goes through them:
//
//   - a session is refreshed only by the Firebase Auth that issued it: a
//     production session's refresh token never goes to an emulator, nor an
//     emulator session's to Google (Manager.Fresh);
//   - the Auth emulator speaks plain HTTP, so it is used only on this
//     machine: FIREBASE_AUTH_EMULATOR_HOST must be a loopback HOST:PORT
//     (CheckEmulatorHost);
//   - a session's ID token goes only to the gateway it is for, the one known
//     at login or else its first (Manager.Bind), over https except on
//     loopback (CheckGatewayURL);
//   - a request carrying a token never follows a redirect (Client).
package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

// EmulatorVar is the variable that sends Firebase Auth calls to the emulator.
const EmulatorVar = "FIREBASE_AUTH_EMULATOR_HOST"

// RefreshMargin: a token this close to expiry is refreshed before use.
const RefreshMargin = time.Minute

// Refresher exchanges a session's refresh token for a new ID token.
type Refresher interface {
	Refresh(ctx context.Context, s *firebase.Session) (*firebase.Session, error)
}

// Manager applies the rules to the sessions in a credentials store.
type Manager struct {
	Store *creds.Store
	// EmulatorHost is FIREBASE_AUTH_EMULATOR_HOST as the command sees it.
	EmulatorHost string
	// Firebase returns the client that refreshes a session of apiKey issued
	// by the emulator at emulatorHost ("" for Google's Firebase Auth).
	Firebase func(apiKey, emulatorHost string) (Refresher, error)
	Now      func() time.Time
}

// Entry returns the profile's stored session.
func (m *Manager) Entry(profile string) (*creds.Entry, error) {
	e, err := m.Store.Get(profile)
	if errors.Is(err, creds.ErrNotLoggedIn) {
		return nil, fmt.Errorf("not logged in (profile %s): run `gatehouse login` or `gatehouse signup`", profile)
	}
	return e, err
}

// Fresh returns the profile's session with an ID token valid for at least
// RefreshMargin, refreshing and storing it when needed (or always, with
// force). The session is refreshed only where it was issued (SameIssuer).
func (m *Manager) Fresh(ctx context.Context, profile string, force bool) (*creds.Entry, error) {
	e, err := m.Entry(profile)
	if err != nil {
		return nil, err
	}
	if err := m.SameIssuer(profile, e); err != nil {
		return nil, err
	}
	if !force && e.Expiry.Sub(m.Now()) > RefreshMargin {
		return e, nil
	}
	fb, err := m.Firebase(e.APIKey, e.Emulator)
	if err != nil {
		return nil, err
	}
	s, err := fb.Refresh(ctx, &e.Session)
	var fe *firebase.Error
	if err != nil && e.Emulator != "" && errors.As(err, &fe) && (fe.Code == "USER_NOT_FOUND" || fe.Code == "INVALID_REFRESH_TOKEN") {
		return nil, fmt.Errorf("the emulator at %s no longer knows %s (profile %s; it was restarted without its data?): run `gatehouse signup --email %s`", e.Emulator, e.Email, profile, e.Email)
	}
	if err != nil {
		return nil, err
	}
	updated := *e
	updated.Session = *s
	// Written back only if nobody logged out or in meanwhile.
	ok, err := m.Store.Replace(profile, e, &updated)
	if err != nil {
		return nil, err
	}
	if !ok {
		cur, err := m.Store.Get(profile)
		if errors.Is(err, creds.ErrNotLoggedIn) {
			return nil, fmt.Errorf("logged out of profile %s while its token was being refreshed", profile)
		}
		return cur, err
	}
	return &updated, nil
}

// SameIssuer refuses a session whose issuer differs from the environment's:
// FIREBASE_AUTH_EMULATOR_HOST set for a production session, unset (or
// another host) for an emulator session.
func (m *Manager) SameIssuer(profile string, e *creds.Entry) error {
	env := m.EmulatorHost
	switch {
	case env == e.Emulator:
		return CheckEmulatorHost(env)
	case e.Emulator == "":
		return fmt.Errorf("profile %s holds a session of production Firebase Auth, but %s is set (%s): unset it to use this session (its tokens never go to an emulator), or use the emulator's profile (--profile local)", profile, EmulatorVar, env)
	case env == "":
		return fmt.Errorf("profile %s holds a session of the Firebase Auth emulator at %s, but %s is not set: export %s=%s to use it", profile, e.Emulator, EmulatorVar, EmulatorVar, e.Emulator)
	default:
		return fmt.Errorf("profile %s holds a session of the Firebase Auth emulator at %s, but %s is %s: log in again against that emulator", profile, e.Emulator, EmulatorVar, env)
	}
}

// Bind makes sure the session's token goes only to the gateway it is for:
// the one known at login, or else the first one it is used with (then
// recorded). Another checkout's stack outputs or a stray
// GATEHOUSE_GATEWAY_URL never receive it.
func (m *Manager) Bind(profile string, e *creds.Entry, gatewayURL string) error {
	if e.Gateway == "" {
		bound := *e
		bound.Gateway = gatewayURL
		_, err := m.Store.Replace(profile, e, &bound)
		return err
	}
	if e.Gateway != gatewayURL {
		return fmt.Errorf("the session of profile %s is for the gateway %s, not %s: its token is not sent there; log in with another --profile for that gateway", profile, e.Gateway, gatewayURL)
	}
	return nil
}

// CheckEmulatorHost allows only a loopback emulator: the emulator speaks
// plain HTTP, and what is sent there includes passwords and refresh tokens.
// The value is parsed as HOST:PORT, as the Firebase SDKs read it; anything
// else is refused, so that no part of it can name another host (as the
// user-info part of "127.0.0.1:@evil.example" does in a URL).
func CheckEmulatorHost(hostport string) error {
	if hostport == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" || !numericPort(port) {
		return fmt.Errorf("%s=%s is not HOST:PORT on this machine (such as 127.0.0.1:9099, with no scheme or path)", EmulatorVar, hostport)
	}
	if !IsLoopback(host) {
		return fmt.Errorf("%s=%s is not on this machine: the emulator speaks plain HTTP, so gatehouse only talks to one on a loopback address (127.0.0.1:9099)", EmulatorVar, hostport)
	}
	return nil
}

func numericPort(p string) bool {
	if p == "" || strings.TrimLeft(p, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535
}

// IsLoopback reports whether host (a name or an IP, without port or
// brackets) is this machine: "localhost" or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckGatewayURL requires https, except for a gateway on this machine (the
// local twin): an ID token never crosses a network in clear.
func CheckGatewayURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("gateway URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("gateway URL %q must use https (plain http only on this machine, for the local twin)", raw)
}

// RedirectError is a redirect answered to a request that carried a token.
type RedirectError struct{ Status, Location string }

func (e *RedirectError) Error() string {
	return fmt.Sprintf("the gateway answered %s with a redirect to %q: not followed with your token", e.Status, e.Location)
}

// Client returns the HTTP client for requests that carry an ID token. It
// never follows a redirect: Go's client would carry Authorization to the
// same host on another scheme or port (https://h:A to http://h:B). A
// redirect comes back as a *RedirectError (wrapped in a *url.Error), with
// the response (its body closed).
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(next *http.Request, _ []*http.Request) error {
		re := &RedirectError{Location: next.URL.String()}
		if next.Response != nil {
			re.Status, re.Location = next.Response.Status, next.Response.Header.Get("Location")
		}
		return re
	}}
}
