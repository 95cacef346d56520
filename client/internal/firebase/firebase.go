// Package firebase calls Firebase Authentication's REST API (Identity
// Toolkit and Secure Token) to sign users up and in and to refresh ID
// tokens, and turns its error codes into plain messages.
package firebase

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Production endpoints.
const (
	identityToolkitURL = "https://identitytoolkit.googleapis.com"
	secureTokenURL     = "https://securetoken.googleapis.com"
)

// Client talks to Firebase Auth for one web API key.
type Client struct {
	APIKey string
	HTTP   *http.Client
	// Base URLs, without trailing slash. New sets them for production or
	// for the emulator.
	identityToolkit, secureToken string
	emulatorHost                 string
	now                          func() time.Time
}

// New returns a client for production, or for the Auth emulator when
// emulatorHost (FIREBASE_AUTH_EMULATOR_HOST, HOST:PORT) is set. The caller
// checks that the host is one to send passwords to (session.CheckEmulatorHost);
// New only makes sure the value is used as the URL's host and nothing else.
func New(apiKey, emulatorHost string) *Client {
	c := &Client{APIKey: apiKey, HTTP: &http.Client{Timeout: 30 * time.Second}, now: time.Now,
		identityToolkit: identityToolkitURL, secureToken: secureTokenURL, emulatorHost: emulatorHost}
	if emulatorHost != "" {
		// As the URL's host, escaped: a "@" in the value cannot turn what
		// precedes it into user info and what follows into the host.
		base := (&url.URL{Scheme: "http", Host: emulatorHost}).String()
		c.identityToolkit = base + "/identitytoolkit.googleapis.com"
		c.secureToken = base + "/securetoken.googleapis.com"
	}
	return c
}

// jwtChars are the characters of a JWT in compact form (base64url and dots).
const jwtChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="

// Session is a signed-in user's tokens.
type Session struct {
	Email        string    `json:"email"`
	UID          string    `json:"uid"`
	ProjectID    string    `json:"project_id"`
	IDToken      string    `json:"id_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

// Error is a Firebase Auth failure with a message fit for a user.
type Error struct {
	Code    string // Firebase's code, e.g. EMAIL_EXISTS
	Message string
}

func (e *Error) Error() string { return e.Message }

// Codes with their plain-language messages.
var messages = map[string]string{
	"EMAIL_EXISTS":                "an account with this email already exists: use `gatehouse login`",
	"EMAIL_NOT_FOUND":             "wrong email or password",
	"INVALID_PASSWORD":            "wrong email or password",
	"INVALID_LOGIN_CREDENTIALS":   "wrong email or password",
	"WEAK_PASSWORD":               "password too weak: use at least 6 characters",
	"INVALID_EMAIL":               "that is not a valid email address",
	"MISSING_PASSWORD":            "a password is required",
	"TOO_MANY_ATTEMPTS_TRY_LATER": "too many attempts: access is blocked for a while, try again later",
	"USER_DISABLED":               "this account has been disabled by an administrator",
	"USER_NOT_FOUND":              "this account no longer exists: sign up again",
	"TOKEN_EXPIRED":               "your session has expired: run `gatehouse login`",
	"INVALID_REFRESH_TOKEN":       "your session is no longer valid: run `gatehouse login`",
	"OPERATION_NOT_ALLOWED":       "email/password sign-in is not enabled for this Firebase project",
	"INVALID_API_KEY":             "the Firebase API key is not valid: check --api-key / GATEHOUSE_API_KEY or the stack's firebaseApiKey output",
	"API_KEY_INVALID":             "the Firebase API key is not valid: check --api-key / GATEHOUSE_API_KEY or the stack's firebaseApiKey output",
	// Identity Platform's answer to an end user's sign-up with
	// client.permissions.disabledUserSignup (gatehouse:allowSignUp false).
	"ADMIN_ONLY_OPERATION": "sign-up is closed for this project: its administrator creates accounts (Firebase console, Authentication, Add user), then `gatehouse login`",
}

// SignUp creates an email/password account and signs it in.
func (c *Client) SignUp(ctx context.Context, email, password string) (*Session, error) {
	return c.passwordCall(ctx, "accounts:signUp", email, password)
}

// SignIn signs in with email and password.
func (c *Client) SignIn(ctx context.Context, email, password string) (*Session, error) {
	return c.passwordCall(ctx, "accounts:signInWithPassword", email, password)
}

func (c *Client) passwordCall(ctx context.Context, method, email, password string) (*Session, error) {
	body, _ := json.Marshal(map[string]any{"email": email, "password": password, "returnSecureToken": true})
	u := c.identityToolkit + "/v1/" + method + "?key=" + url.QueryEscape(c.APIKey)
	var out struct {
		IDToken      string `json:"idToken"`
		RefreshToken string `json:"refreshToken"`
		ExpiresIn    string `json:"expiresIn"`
		LocalID      string `json:"localId"`
		Email        string `json:"email"`
	}
	if err := c.post(ctx, u, "application/json", strings.NewReader(string(body)), &out); err != nil {
		return nil, err
	}
	return c.session(out.Email, out.LocalID, out.IDToken, out.RefreshToken, out.ExpiresIn)
}

// SendVerifyEmail has Firebase Auth email the account of idToken a link
// that verifies its address (accounts:sendOobCode, requestType
// VERIFY_EMAIL). The emulator sends no email: it keeps the link (its
// /emulator/v1/projects/PROJECT/oobCodes lists it).
func (c *Client) SendVerifyEmail(ctx context.Context, idToken string) error {
	body, _ := json.Marshal(map[string]string{"requestType": "VERIFY_EMAIL", "idToken": idToken})
	u := c.identityToolkit + "/v1/accounts:sendOobCode?key=" + url.QueryEscape(c.APIKey)
	var out struct {
		Email string `json:"email"`
	}
	return c.post(ctx, u, "application/json", strings.NewReader(string(body)), &out)
}

// Refresh exchanges a refresh token for a new ID token.
func (c *Client) Refresh(ctx context.Context, s *Session) (*Session, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}}
	u := c.secureToken + "/v1/token?key=" + url.QueryEscape(c.APIKey)
	var out struct {
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    string `json:"expires_in"`
		UserID       string `json:"user_id"`
	}
	if err := c.post(ctx, u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()), &out); err != nil {
		return nil, err
	}
	return c.session(s.Email, out.UserID, out.IDToken, out.RefreshToken, out.ExpiresIn)
}

func (c *Client) session(email, uid, idToken, refresh, expiresIn string) (*Session, error) {
	secs, err := strconv.Atoi(expiresIn)
	if err != nil || idToken == "" || refresh == "" {
		return nil, errors.New("unexpected answer from Firebase Auth (no token)")
	}
	// `gatehouse token` prints the ID token for shells to use, so it must be
	// what a JWT is made of and nothing a terminal would act on.
	if strings.Trim(idToken, jwtChars) != "" {
		return nil, errors.New("unexpected answer from Firebase Auth (the ID token is not a JWT)")
	}
	s := &Session{Email: email, UID: uid, IDToken: idToken, RefreshToken: refresh,
		Expiry: c.now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Second)}
	if claims, err := Claims(idToken); err == nil {
		s.ProjectID, _ = claims["aud"].(string)
		if e, ok := claims["email"].(string); ok && s.Email == "" {
			s.Email = e
		}
		if sub, ok := claims["sub"].(string); ok && s.UID == "" {
			s.UID = sub
		}
	}
	return s, nil
}

func (c *Client) post(ctx context.Context, u, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	res, err := c.HTTP.Do(req)
	if err != nil {
		// The URL without the key: where we tried, not what we sent. For the
		// emulator, the variable that pointed there: after a deploy, a
		// FIREBASE_AUTH_EMULATOR_HOST left over from the twin is the usual cause.
		if c.emulatorHost != "" {
			return fmt.Errorf("cannot reach the Firebase Auth emulator at %s (FIREBASE_AUTH_EMULATOR_HOST=%s; start the twin with `make local`, or unset FIREBASE_AUTH_EMULATOR_HOST to use Firebase Auth in Google Cloud): %w", redact(u), c.emulatorHost, unwrapURLError(err))
		}
		return fmt.Errorf("cannot reach Firebase Auth at %s: %w", redact(u), unwrapURLError(err))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read Firebase Auth answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return apiError(res.StatusCode, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("unexpected answer from Firebase Auth: %w", err)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact drops the query (which holds the API key) from u.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// apiError maps Firebase's {"error":{"message":"CODE : detail"}} to Error.
func apiError(status int, body []byte) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Reason string `json:"reason"`
			} `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return &Error{Code: strconv.Itoa(status), Message: fmt.Sprintf("Firebase Auth answered %d %s", status, http.StatusText(status))}
	}
	code, _, _ := strings.Cut(e.Error.Message, " ")
	code = strings.TrimSpace(strings.TrimSuffix(code, ":"))
	for _, d := range e.Error.Details {
		if d.Reason == "API_KEY_INVALID" {
			code = d.Reason
		}
	}
	if strings.HasPrefix(e.Error.Message, "API key not valid") {
		code = "API_KEY_INVALID"
	}
	if msg, ok := messages[code]; ok {
		return &Error{Code: code, Message: msg}
	}
	return &Error{Code: code, Message: "Firebase Auth: " + e.Error.Message}
}

// Claims decodes a JWT's payload without verifying it: for reading our own
// token's expiry and identity, never for trusting someone else's.
func Claims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, errors.New("JWT payload is not base64url")
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, errors.New("JWT payload is not JSON")
	}
	return claims, nil
}
