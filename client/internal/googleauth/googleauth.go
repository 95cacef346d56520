// Package googleauth finds the operator's Google access token for the
// admin commands (`gatehouse claims`), without key files:
//
//  1. GOOGLE_OAUTH_ACCESS_TOKEN, when set: a token the operator (or a CI
//     job) already has. The Google provider Pulumi runs reads the same
//     variable, so one export serves `pulumi up` and `gatehouse claims`.
//  2. Application Default Credentials (golang.org/x/oauth2/google): what
//     `gcloud auth application-default login` writes (the deploy section's
//     first step, so an operator who deployed has them), optionally
//     impersonating a service account, or workload identity federation, or
//     the metadata server on Google Cloud. A service-account key file is
//     refused: gatehouse hands out no keys and uses none.
//  3. `gcloud auth print-access-token`: the gcloud CLI's own login, for an
//     operator without Application Default Credentials.
//
// The token is a credential: it is only ever put in an Authorization header
// to Google (package authadmin), never printed, logged or put in an error.
package googleauth

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/oauth2/google"
)

// TokenVar is the variable that carries a ready access token.
const TokenVar = "GOOGLE_OAUTH_ACCESS_TOKEN"

// Scope is the OAuth scope asked of Application Default Credentials; the
// Identity Toolkit API accepts it ("Requires one of the following OAuth
// scopes: .../auth/identitytoolkit, .../auth/firebase,
// .../auth/cloud-platform",
// https://cloud.google.com/identity-platform/docs/reference/rest/v1/projects.accounts/update).
const Scope = "https://www.googleapis.com/auth/cloud-platform"

// Token is an operator's access token and what it is.
type Token struct {
	// Value is the access token. Never print it.
	Value string
	// Source says where it came from, for messages: "GOOGLE_OAUTH_ACCESS_TOKEN",
	// "Application Default Credentials (...)", "gcloud auth print-access-token".
	Source string
	// User is true when the token may be a person's (user credentials):
	// Google's APIs bill such calls to a quota project, which the caller
	// names (X-Goog-User-Project); service accounts bill their own.
	User bool
	// QuotaProject is the quota project the credentials name themselves
	// (quota_project_id in an ADC file), if any.
	QuotaProject string
}

// String never shows the token.
func (t Token) String() string { return "access token from " + t.Source }

// Finder finds the operator's token. Its fields are the process's
// environment; tests pass their own.
type Finder struct {
	Getenv   func(string) string
	Environ  func() []string
	LookPath func(string) (string, error)
	// FindADC finds Application Default Credentials:
	// google.FindDefaultCredentials when nil.
	FindADC func(ctx context.Context, scopes ...string) (*google.Credentials, error)
}

// ErrNoCredentials: none of the three sources is there.
var ErrNoCredentials = errors.New("no Google credentials for the operator: run `gcloud auth application-default login` " +
	"(as for `pulumi up`), or `gcloud auth login`, or set " + TokenVar + " to an access token; gatehouse uses no service-account key files")

// Find returns the operator's token from the first source there is.
func (f *Finder) Find(ctx context.Context) (*Token, error) {
	if v := strings.TrimSpace(f.Getenv(TokenVar)); v != "" {
		if err := checkToken(v); err != nil {
			return nil, fmt.Errorf("%s: %w", TokenVar, err)
		}
		// Whose it is cannot be told: billed to the target project, as
		// the Google provider does with user_project_override.
		return &Token{Value: v, Source: TokenVar, User: true}, nil
	}
	find := f.FindADC
	if find == nil {
		find = google.FindDefaultCredentials
	}
	creds, adcErr := find(ctx, Scope)
	if adcErr == nil {
		return fromADC(creds)
	}
	if f.Getenv("GOOGLE_APPLICATION_CREDENTIALS") != "" {
		// Named but unusable: say so rather than use another identity.
		return nil, fmt.Errorf("ADC (Application Default Credentials, GOOGLE_APPLICATION_CREDENTIALS): %w", adcErr)
	}
	bin, err := f.LookPath("gcloud")
	if err != nil {
		return nil, ErrNoCredentials
	}
	return f.gcloud(ctx, bin)
}

// fromADC takes the token of Application Default Credentials, refusing a
// service-account key file.
func fromADC(creds *google.Credentials) (*Token, error) {
	var file struct {
		Type                     string `json:"type"`
		QuotaProjectID           string `json:"quota_project_id"`
		WorkforcePoolUserProject string `json:"workforce_pool_user_project"`
	}
	if len(creds.JSON) > 0 {
		if err := json.Unmarshal(creds.JSON, &file); err != nil {
			return nil, fmt.Errorf("ADC (Application Default Credentials): not a credentials file: %w", err)
		}
	}
	kind := cmp.Or(file.Type, "metadata server")
	user := false
	switch file.Type {
	case "service_account":
		return nil, errors.New("ADC (Application Default Credentials) are a service-account key file (GOOGLE_APPLICATION_CREDENTIALS): " +
			"gatehouse uses no key files; use `gcloud auth application-default login` (with --impersonate-service-account to act as an account), " +
			"or workload identity federation, or set " + TokenVar)
	case "authorized_user", "external_account_authorized_user":
		user = true
	case "external_account":
		user = file.WorkforcePoolUserProject != "" // workforce identity: people
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		return nil, fmt.Errorf("ADC (Application Default Credentials, %s): cannot get an access token (run `gcloud auth application-default login` again?): %w", kind, err)
	}
	if err := checkToken(tok.AccessToken); err != nil {
		return nil, fmt.Errorf("ADC (Application Default Credentials, %s): %w", kind, err)
	}
	return &Token{Value: tok.AccessToken, Source: "Application Default Credentials (" + kind + ")", User: user,
		QuotaProject: cmp.Or(file.QuotaProjectID, file.WorkforcePoolUserProject)}, nil
}

// gcloud runs `gcloud auth print-access-token`.
func (f *Finder) gcloud(ctx context.Context, bin string) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "auth", "print-access-token")
	cmd.Env = f.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		// gcloud's own first line says why (not logged in, ...); its stdout
		// is not quoted: it could hold a token.
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, fmt.Errorf("gcloud auth print-access-token failed: %s", cmp.Or(msg, err.Error()))
	}
	v := strings.TrimSpace(stdout.String())
	if err := checkToken(v); err != nil {
		return nil, fmt.Errorf("gcloud auth print-access-token: %w", err)
	}
	return &Token{Value: v, Source: "gcloud auth print-access-token", User: true}, nil
}

// checkToken accepts what an OAuth access token is made of (RFC 6750's
// b64token characters), so that nothing else ends up in a header.
func checkToken(v string) error {
	if v == "" {
		return errors.New("empty access token")
	}
	if len(v) > 8<<10 {
		return errors.New("the access token is longer than 8 KiB: not an access token")
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~+/=", r)) {
			return errors.New("the access token holds characters no access token has (is it the token alone, on one line?)")
		}
	}
	return nil
}
