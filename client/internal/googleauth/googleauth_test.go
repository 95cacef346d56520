package googleauth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
)

const secret = "ya29.operator-secret-token"

type countingSource struct {
	n   int
	tok string
	err error
}

func (s *countingSource) Token() (*oauth2.Token, error) {
	s.n++
	if s.err != nil {
		return nil, s.err
	}
	return &oauth2.Token{AccessToken: s.tok}, nil
}

// finder is a Finder over env, with ADC answering creds (or err) and
// gcloud at gcloud ("" for none).
func finder(env map[string]string, creds *google.Credentials, adcErr error, gcloud string) *Finder {
	return &Finder{
		Getenv:  func(k string) string { return env[k] },
		Environ: func() []string { return []string{"PATH=" + os.Getenv("PATH")} },
		LookPath: func(name string) (string, error) {
			if gcloud == "" {
				return "", errors.New("not found")
			}
			return gcloud, nil
		},
		FindADC: func(context.Context, ...string) (*google.Credentials, error) {
			if adcErr != nil {
				return nil, adcErr
			}
			return creds, nil
		},
	}
}

var errNoADC = errors.New("google: could not find default credentials")

// fakeGcloud is a gcloud that prints out on stdout and err on stderr, and
// exits with code.
func fakeGcloud(t *testing.T, out, errOut string, code int) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gcloud")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1 $2\" = \"auth print-access-token\" ] || exit 9\nprintf '%%s' '%s'\nprintf '%%s' '%s' >&2\nexit %d\n", out, errOut, code)
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// The sources in order: the variable, then ADC, then gcloud; each token
// says where it came from and whether it is a person's.
func TestFindOrder(t *testing.T) {
	adc := &google.Credentials{JSON: []byte(`{"type":"authorized_user","quota_project_id":"billing-p"}`), TokenSource: &countingSource{tok: "ya29.adc"}}
	gcloud := fakeGcloud(t, "ya29.gcloud\n", "", 0)

	tok, err := finder(map[string]string{TokenVar: " " + secret + "\n"}, adc, nil, gcloud).Find(t.Context())
	if err != nil || tok.Value != secret || tok.Source != TokenVar || !tok.User || tok.QuotaProject != "" {
		t.Errorf("with %s: %+v, %v", TokenVar, tok, err)
	}
	tok, err = finder(nil, adc, nil, gcloud).Find(t.Context())
	if err != nil || tok.Value != "ya29.adc" || tok.Source != "Application Default Credentials (authorized_user)" || !tok.User || tok.QuotaProject != "billing-p" {
		t.Errorf("with ADC: %+v, %v", tok, err)
	}
	tok, err = finder(nil, nil, errNoADC, gcloud).Find(t.Context())
	if err != nil || tok.Value != "ya29.gcloud" || tok.Source != "gcloud auth print-access-token" || !tok.User {
		t.Errorf("with gcloud: %+v, %v", tok, err)
	}
	if _, err := finder(nil, nil, errNoADC, "").Find(t.Context()); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("with nothing: %v, want ErrNoCredentials", err)
	}
}

// ADC of each kind: people's credentials are billed to a quota project,
// service accounts' are not; a service-account key file is refused without
// asking it for a token.
func TestADCKinds(t *testing.T) {
	for _, tt := range []struct {
		json    string
		user    bool
		quota   string
		refused string
	}{
		{`{"type":"authorized_user"}`, true, "", ""},
		{`{"type":"external_account_authorized_user"}`, true, "", ""},
		{`{"type":"impersonated_service_account"}`, false, "", ""},
		{`{"type":"external_account"}`, false, "", ""},
		{`{"type":"external_account","workforce_pool_user_project":"wf-p"}`, true, "wf-p", ""},
		{``, false, "", ""}, // the metadata server: no file
		{`{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----"}`, false, "", "service-account key file"},
	} {
		src := &countingSource{tok: "ya29.x"}
		creds := &google.Credentials{TokenSource: src}
		if tt.json != "" {
			creds.JSON = []byte(tt.json)
		}
		tok, err := finder(nil, creds, nil, "").Find(t.Context())
		if tt.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tt.refused) || src.n != 0 {
				t.Errorf("%s: %+v, %v after %d token requests; want refused before any", tt.json, tok, err, src.n)
			}
			continue
		}
		if err != nil || tok.User != tt.user || tok.QuotaProject != tt.quota {
			t.Errorf("%s: %+v, %v; want user %v quota %q", tt.json, tok, err, tt.user, tt.quota)
		}
	}
}

// Failures say what to do and never quote a token.
func TestFindErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *Finder
		want string
	}{
		{"token with a newline inside", finder(map[string]string{TokenVar: "ya29.a\nb"}, nil, errNoADC, ""), "characters no access token has"},
		{"ADC named but unusable", finder(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent.json"}, nil, errNoADC, fakeGcloud(t, secret, "", 0)), "GOOGLE_APPLICATION_CREDENTIALS"},
		{"ADC cannot refresh", finder(nil, &google.Credentials{JSON: []byte(`{"type":"authorized_user"}`), TokenSource: &countingSource{err: errors.New("oauth2: invalid_grant")}}, nil, ""), "gcloud auth application-default login"},
		{"gcloud not logged in", finder(nil, nil, errNoADC, fakeGcloud(t, secret, "ERROR: (gcloud.auth.print-access-token) You do not currently have an active account selected.\nmore", 1)), "You do not currently have an active account selected."},
		{"gcloud prints garbage", finder(nil, nil, errNoADC, fakeGcloud(t, "two words", "", 0)), "characters no access token has"},
	} {
		_, err := tt.f.Find(t.Context())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "more") {
			t.Errorf("%s: the error quotes what gcloud printed: %v", tt.name, err)
		}
	}
	if s := fmt.Sprint(Token{Value: secret, Source: TokenVar}); strings.Contains(s, secret) {
		t.Errorf("a Token prints its value: %s", s)
	}
	if s := fmt.Sprintf("%v %+v", &Token{Value: secret, Source: TokenVar}, Token{Value: secret}); strings.Contains(s, secret) {
		t.Errorf("a Token prints its value: %s", s)
	}
}
