package verifyemail

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b) + "."
}

type fake struct {
	verified bool     // what a refreshed token says
	sent     []string // ID tokens a verification email was asked for with
}

func (f *fake) Refresh(_ context.Context, s *firebase.Session) (*firebase.Session, error) {
	next := *s
	next.IDToken, next.Expiry = jwt(map[string]any{"email_verified": f.verified}), time.Now().Add(time.Hour)
	return &next, nil
}

func (f *fake) SendVerifyEmail(_ context.Context, idToken string) error {
	f.sent = append(f.sent, idToken)
	return nil
}

// verify-email asks for the email with the stored session's token (and says
// where the emulator keeps its links); --check refreshes the token and
// succeeds only once it says email_verified: true.
func TestRun(t *testing.T) {
	store := &creds.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	f := &fake{}
	m := &session.Manager{Store: store, Now: time.Now, EmulatorHost: "127.0.0.1:9099",
		Firebase: func(string, string) (session.Refresher, error) { return f, nil }}
	stored := jwt(map[string]any{"email_verified": false})
	if err := store.Put("local", &creds.Entry{Session: firebase.Session{Email: "ada@example.com", ProjectID: "demo-gatehouse", IDToken: stored,
		RefreshToken: "r", Expiry: time.Now().Add(time.Hour)}, APIKey: "k", Emulator: "127.0.0.1:9099"}); err != nil {
		t.Fatal(err)
	}
	do := func(check bool) (string, error) {
		streams, stdout, _ := cmdutil.TestIO("")
		err := run(t.Context(), &Options{IO: streams, Check: check, Sessions: func() (*session.Manager, error) { return m, nil },
			Profile: func(target.ProfileFlags) string { return "local" }, Firebase: func(string, string) (Sender, error) { return f, nil }})
		return stdout.String(), err
	}
	out, err := do(false)
	if err != nil || len(f.sent) != 1 || f.sent[0] != stored || !strings.Contains(out, "sent a verification email to ada@example.com") ||
		!strings.Contains(out, "http://127.0.0.1:9099/emulator/v1/projects/demo-gatehouse/oobCodes") {
		t.Errorf("verify-email = %q, %v (sent %v)", out, err, f.sent)
	}
	if _, err := do(true); err == nil || !strings.Contains(err.Error(), "ada@example.com is not verified yet") {
		t.Errorf("--check before the link was opened = %v, want not verified", err)
	}
	f.verified = true
	if out, err := do(true); err != nil || !strings.Contains(out, "ada@example.com is verified") {
		t.Errorf("--check after = %q, %v", out, err)
	}
	if e, _ := store.Get("local"); e == nil || !strings.Contains(e.IDToken, base64.RawURLEncoding.EncodeToString([]byte(`{"email_verified":true}`))) {
		t.Error("--check did not store the token that says so")
	}
}
