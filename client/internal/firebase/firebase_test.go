package firebase

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		body     string
		code     string
		contains string
	}{
		{`{"error":{"code":400,"message":"EMAIL_EXISTS"}}`, "EMAIL_EXISTS", "already exists"},
		{`{"error":{"code":400,"message":"EMAIL_NOT_FOUND"}}`, "EMAIL_NOT_FOUND", "wrong email or password"},
		{`{"error":{"code":400,"message":"INVALID_PASSWORD"}}`, "INVALID_PASSWORD", "wrong email or password"},
		{`{"error":{"code":400,"message":"INVALID_LOGIN_CREDENTIALS"}}`, "INVALID_LOGIN_CREDENTIALS", "wrong email or password"},
		{`{"error":{"code":400,"message":"WEAK_PASSWORD : Password should be at least 6 characters"}}`, "WEAK_PASSWORD", "at least 6"},
		{`{"error":{"code":400,"message":"TOO_MANY_ATTEMPTS_TRY_LATER : Access disabled"}}`, "TOO_MANY_ATTEMPTS_TRY_LATER", "try again later"},
		{`{"error":{"code":400,"message":"USER_DISABLED"}}`, "USER_DISABLED", "disabled"},
		{`{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}`, "API_KEY_INVALID", "API key is not valid"},
		{`{"error":{"code":400,"message":"ADMIN_ONLY_OPERATION"}}`, "ADMIN_ONLY_OPERATION", "sign-up is closed for this project"},
		{`{"error":{"code":400,"message":"SOMETHING_NEW"}}`, "SOMETHING_NEW", "Firebase Auth: SOMETHING_NEW"},
		{`<html>bad gateway</html>`, "502", "answered 502"},
	}
	for _, tt := range tests {
		status := 400
		if strings.HasPrefix(tt.body, "<") {
			status = 502
		}
		err := apiError(status, []byte(tt.body))
		var fe *Error
		if !errors.As(err, &fe) || fe.Code != tt.code || !strings.Contains(fe.Message, tt.contains) {
			t.Errorf("apiError(%s) = %#v, want code %s and message containing %q", tt.body, err, tt.code, tt.contains)
		}
	}
}

func jwt(claims map[string]any) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, _ := json.Marshal(claims)
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

func TestClaims(t *testing.T) {
	c, err := Claims(jwt(map[string]any{"aud": "p", "sub": "u"}))
	if err != nil || c["aud"] != "p" {
		t.Errorf("Claims = %v, %v", c, err)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c"} {
		if _, err := Claims(bad); err == nil {
			t.Errorf("Claims(%q) succeeded", bad)
		}
	}
}

func TestSignInAndRefresh(t *testing.T) {
	var gotKey, gotGrant string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.URL.Query().Get("key")
		switch r.URL.Path {
		case "/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword":
			var in map[string]any
			_ = json.NewDecoder(r.Body).Decode(&in)
			if in["password"] != "pw123456" || in["returnSecureToken"] != true {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":{"message":"INVALID_LOGIN_CREDENTIALS"}}`)
				return
			}
			fmt.Fprintf(w, `{"idToken":%q,"refreshToken":"r1","expiresIn":"3600","localId":"u1","email":"a@b.co"}`,
				jwt(map[string]any{"aud": "demo-p", "sub": "u1"}))
		case "/securetoken.googleapis.com/v1/token":
			_ = r.ParseForm()
			gotGrant = r.Form.Get("grant_type") + ":" + r.Form.Get("refresh_token")
			fmt.Fprintf(w, `{"id_token":%q,"refresh_token":"r2","expires_in":"3600","user_id":"u1"}`, jwt(map[string]any{"aud": "demo-p", "sub": "u1", "n": 2}))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := New("key-123", strings.TrimPrefix(srv.URL, "http://"))
	c.now = func() time.Time { return now }

	s, err := c.SignIn(t.Context(), "a@b.co", "pw123456")
	if err != nil {
		t.Fatal(err)
	}
	if s.Email != "a@b.co" || s.UID != "u1" || s.ProjectID != "demo-p" || s.RefreshToken != "r1" || !s.Expiry.Equal(now.Add(time.Hour)) || gotKey != "key-123" {
		t.Errorf("SignIn = %+v (key %q)", s, gotKey)
	}
	if _, err := c.SignIn(t.Context(), "a@b.co", "wrong"); err == nil || err.Error() != "wrong email or password" {
		t.Errorf("SignIn(wrong) = %v", err)
	}
	r, err := c.Refresh(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if gotGrant != "refresh_token:r1" || r.RefreshToken != "r2" || r.Email != "a@b.co" || r.IDToken == s.IDToken {
		t.Errorf("Refresh = %+v (grant %q)", r, gotGrant)
	}
}

func TestNetworkErrorNamesURLNotKey(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close() // nothing listens there now
	_, err := New("secret-key", host).SignUp(t.Context(), "a@b.co", "pw")
	if err == nil || !strings.Contains(err.Error(), "http://"+host+"/identitytoolkit.googleapis.com/v1/accounts:signUp") || strings.Contains(err.Error(), "secret-key") {
		t.Errorf("error = %v, want the URL tried without the key", err)
	}
}

func TestProductionURLs(t *testing.T) {
	c := New("k", "")
	if c.identityToolkit != "https://identitytoolkit.googleapis.com" || c.secureToken != "https://securetoken.googleapis.com" {
		t.Errorf("production URLs = %s, %s", c.identityToolkit, c.secureToken)
	}
}

// recorder answers every request with 500 and records where it went.
type recorder struct{ hosts, bodies []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	r.hosts = append(r.hosts, req.URL.Host)
	r.bodies = append(r.bodies, string(b))
	return &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// The emulator host is the URL's host and nothing else: "127.0.0.1:@evil"
// once made "127.0.0.1:" the user info and sent the password to evil.example
// (the CLI refuses such a value before; this is the second line).
func TestEmulatorHostIsOnlyTheHost(t *testing.T) {
	for _, host := range []string{"127.0.0.1:@evil.example", "127.0.0.1:9099@evil.example", "127.0.0.1:9099/@evil.example"} {
		rec := &recorder{}
		c := New("k", host)
		c.HTTP = &http.Client{Transport: rec}
		_, _ = c.SignIn(t.Context(), "a@b.co", "pw-SECRET")
		for i, h := range rec.hosts {
			if strings.Contains(h, "evil") {
				t.Errorf("New(%q): request went to host %q with %s", host, h, rec.bodies[i])
			}
		}
	}
	rec := &recorder{}
	c := New("k", "127.0.0.1:9099")
	c.HTTP = &http.Client{Transport: rec}
	_, _ = c.SignIn(t.Context(), "a@b.co", "pw")
	if len(rec.hosts) != 1 || rec.hosts[0] != "127.0.0.1:9099" {
		t.Errorf("a plain HOST:PORT went to %q, want 127.0.0.1:9099", rec.hosts)
	}
}

// A "cannot reach" error for the emulator names the variable that pointed
// there (after a deploy, a leftover export is the usual cause); one for
// Google's endpoints does not.
func TestUnreachableEmulatorNamesVariable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	host := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	_, err := New("k", host).SignIn(t.Context(), "a@b.co", "pw")
	if err == nil || !strings.Contains(err.Error(), "FIREBASE_AUTH_EMULATOR_HOST="+host) || !strings.Contains(err.Error(), "unset FIREBASE_AUTH_EMULATOR_HOST") {
		t.Errorf("error = %v, want it to name FIREBASE_AUTH_EMULATOR_HOST", err)
	}
	c := New("k", "")
	c.identityToolkit = srv.URL // production shape, unreachable
	_, err = c.SignIn(t.Context(), "a@b.co", "pw")
	if err == nil || !strings.Contains(err.Error(), "cannot reach Firebase Auth at") || strings.Contains(err.Error(), "FIREBASE_AUTH_EMULATOR_HOST") {
		t.Errorf("production error = %v", err)
	}
}

// `gatehouse token` prints the ID token: one that is not made of JWT
// characters (an escape sequence, a newline) is refused when received.
func TestIDTokenMustBeJWT(t *testing.T) {
	for tok, ok := range map[string]bool{
		jwt(map[string]any{"sub": "u"}): true,
		"a.b.c\x1b[2J":                  false,
		"a.b.c\nrm -rf":                 false,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := json.Marshal(map[string]string{"idToken": tok, "refreshToken": "r", "expiresIn": "3600", "localId": "u"})
			w.Write(b)
		}))
		_, err := New("k", strings.TrimPrefix(srv.URL, "http://")).SignIn(t.Context(), "a@b.co", "pw")
		srv.Close()
		if (err == nil) != ok {
			t.Errorf("ID token %q: err %v, want ok=%v", tok, err, ok)
		}
	}
}

// TestSendVerifyEmail: the verification email is asked for with the
// account's ID token (VERIFY_EMAIL), and a refusal comes back as an Error.
func TestSendVerifyEmail(t *testing.T) {
	var got map[string]string
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path + "?" + r.URL.RawQuery
		_ = json.NewDecoder(r.Body).Decode(&got)
		if got["idToken"] == "expired" {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"code":400,"message":"INVALID_ID_TOKEN"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"email":"ada@example.com"}`)
	}))
	defer srv.Close()
	c := New("key-1", strings.TrimPrefix(srv.URL, "http://"))
	if err := c.SendVerifyEmail(t.Context(), "tok"); err != nil {
		t.Fatal(err)
	}
	if path != "/identitytoolkit.googleapis.com/v1/accounts:sendOobCode?key=key-1" || got["requestType"] != "VERIFY_EMAIL" || got["idToken"] != "tok" {
		t.Errorf("sent %s %v", path, got)
	}
	var fe *Error
	if err := c.SendVerifyEmail(t.Context(), "expired"); !errors.As(err, &fe) || fe.Code != "INVALID_ID_TOKEN" {
		t.Errorf("refused: %v", err)
	}
}
