// Package authadmin sets and reads Firebase users' custom claims through
// the Identity Toolkit admin API, as the Firebase Admin SDKs do, with the
// operator's own Google credentials (package googleauth) instead of a
// service-account key:
//
//   - find the user by email: POST /v1/projects/{targetProjectId}/accounts:lookup
//     {"email":["..."]}
//     (https://cloud.google.com/identity-platform/docs/reference/rest/v1/projects.accounts/lookup;
//     the Admin SDKs' getUserByEmail sends the same);
//   - set the claims: POST /v1/projects/{targetProjectId}/accounts:update
//     {"localId":"...","customAttributes":"<the claims as a JSON string>"}
//     (https://cloud.google.com/identity-platform/docs/reference/rest/v1/projects.accounts/update;
//     setCustomUserClaims sends this, and "{}" to remove them all).
//
// Both need a Google OAuth 2.0 credential with the permissions
// firebaseauth.users.get and firebaseauth.users.update on the project
// (https://cloud.google.com/identity-platform/docs/access-control); they are
// in roles/firebaseauth.admin (and roles/firebaseauth.viewer has the first)
// (https://cloud.google.com/iam/docs/roles-permissions/firebaseauth).
//
// Against the Auth emulator the same calls go to
// http://HOST/identitytoolkit.googleapis.com/... with "Authorization: Bearer
// owner", which the emulator takes as an admin of its project
// (firebase-tools emulator/auth server.js, oauth2Authenticator: a token
// "owner" is a success for the emulator's default project); the operator's
// Google token is never sent there.
package authadmin

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/client/internal/googleauth"
)

// ProductionURL is the Identity Toolkit API: the only place the operator's
// access token is sent.
const ProductionURL = "https://identitytoolkit.googleapis.com"

// EmulatorToken is the token the Auth emulator takes as an admin's.
const EmulatorToken = "owner"

// Client calls the admin API for one operator.
type Client struct {
	HTTP *http.Client
	// base is ProductionURL, or the emulator's URL prefix.
	base     string
	emulator string // the emulator's HOST:PORT, "" for Google
	// token returns the operator's token (production only); tok is the
	// one it returned, used for every call of the command.
	token func(ctx context.Context) (*googleauth.Token, error)
	tok   *googleauth.Token
}

// New is a client of Google's Identity Toolkit API with the operator's
// token (found on the first call). hc must not follow redirects with the
// token (session.Client).
func New(hc *http.Client, token func(ctx context.Context) (*googleauth.Token, error)) *Client {
	return &Client{HTTP: hc, base: ProductionURL, token: token}
}

// NewEmulator is a client of the Auth emulator at host (HOST:PORT, which
// the caller has checked is on this machine: session.CheckEmulatorHost).
func NewEmulator(hc *http.Client, host string) *Client {
	base := (&url.URL{Scheme: "http", Host: host}).String() + "/identitytoolkit.googleapis.com"
	return &Client{HTTP: hc, base: base, emulator: host}
}

// Emulator is the emulator's HOST:PORT, "" for Google.
func (c *Client) Emulator() string { return c.emulator }

// User is an account and its custom claims.
type User struct {
	UID, Email string
	// Claims are the account's custom claims as Firebase stores them (a
	// JSON object; "{}" when there are none).
	Claims []byte
}

// projectRe is a Google Cloud project id (6 to 30 lowercase letters,
// digits and hyphens), or an older domain-scoped one (example.com:name).
var projectRe = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// CheckProject refuses what is not a project id.
func CheckProject(p string) error {
	if !projectRe.MatchString(p) {
		return fmt.Errorf("%q is not a Google Cloud project id (6 to 30 lowercase letters, digits and hyphens)", p)
	}
	return nil
}

// path is the method's URL: under projects/PROJECT, or, for the emulator
// and no project, the emulator's own project.
func (c *Client) path(project, method string) (string, error) {
	if project == "" {
		if c.emulator == "" {
			return "", errors.New("no Firebase project: Google's admin API needs one")
		}
		return c.base + "/v1/" + method, nil
	}
	if err := CheckProject(project); err != nil {
		return "", err
	}
	return c.base + "/v1/projects/" + url.PathEscape(project) + "/" + method, nil
}

// LookupEmail finds the account with email in project ("" with the
// emulator: its own project).
func (c *Client) LookupEmail(ctx context.Context, project, email string) (*User, error) {
	var out struct {
		Users []struct {
			LocalID          string `json:"localId"`
			Email            string `json:"email"`
			CustomAttributes string `json:"customAttributes"`
		} `json:"users"`
	}
	if err := c.call(ctx, project, "accounts:lookup", "read users of", map[string]any{"email": []string{email}}, &out); err != nil {
		return nil, err
	}
	switch len(out.Users) {
	case 0:
		return nil, &NotFoundError{Email: email, Project: project}
	case 1:
	default:
		return nil, fmt.Errorf("%d accounts have the email %s: unexpected from Firebase", len(out.Users), email)
	}
	u := out.Users[0]
	claims := []byte(u.CustomAttributes)
	if len(bytes.TrimSpace(claims)) == 0 {
		claims = []byte("{}")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(claims, &obj) != nil || obj == nil {
		return nil, errors.New("unexpected answer from Firebase Auth: the account's custom claims are not a JSON object")
	}
	return &User{UID: u.LocalID, Email: u.Email, Claims: claims}, nil
}

// NotFoundError is an email no account has.
type NotFoundError struct{ Email, Project string }

func (e *NotFoundError) Error() string {
	where := "project " + e.Project
	if e.Project == "" {
		where = "the emulator's project"
	}
	return fmt.Sprintf("no account has the email %s in %s (they sign up first: gatehouse signup)", e.Email, where)
}

// SetClaims replaces the custom claims of the account uid with claims, as
// CheckClaims returned them ("{}" removes them all).
func (c *Client) SetClaims(ctx context.Context, project, uid string, claims []byte) error {
	body := map[string]any{"localId": uid, "customAttributes": string(claims)}
	var out struct {
		LocalID string `json:"localId"`
	}
	return c.call(ctx, project, "accounts:update", "set claims in", body, &out)
}

// call POSTs body to method and decodes the answer into out.
func (c *Client) call(ctx context.Context, project, method, doing string, body, out any) error {
	u, err := c.path(project, method)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	who := "the Auth emulator"
	if c.emulator != "" {
		req.Header.Set("Authorization", "Bearer "+EmulatorToken)
	} else {
		if c.tok == nil {
			if c.tok, err = c.token(ctx); err != nil {
				return err
			}
		}
		tok := c.tok
		req.Header.Set("Authorization", "Bearer "+tok.Value)
		// User credentials are billed to a quota project, which the
		// caller names, or Identity Toolkit answers 403 ("Your application
		// has authenticated using end user credentials ... which are not
		// supported by the identitytoolkit.googleapis.com ... you may need
		// to specify 'X-Goog-User-Project'",
		// https://cloud.google.com/apis/docs/system-parameters); naming it
		// needs serviceusage.services.use there.
		if qp := tok.QuotaProject; qp != "" {
			req.Header.Set("X-Goog-User-Project", qp)
		} else if tok.User {
			req.Header.Set("X-Goog-User-Project", project)
		}
		who = "the operator (" + tok.Source + ")"
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if c.emulator != "" {
			return fmt.Errorf("cannot reach the Firebase Auth emulator at %s (FIREBASE_AUTH_EMULATOR_HOST; start the twin with `make local`, or unset it to use Firebase Auth in Google Cloud): %w", c.emulator, err)
		}
		return fmt.Errorf("cannot reach the Identity Toolkit API at %s: %w", ProductionURL, err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read the Identity Toolkit answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return apiError(res.StatusCode, rb, who, doing, project)
	}
	if err := json.Unmarshal(rb, out); err != nil {
		return fmt.Errorf("unexpected answer from the Identity Toolkit API: %w", err)
	}
	return nil
}

// apiError turns Google's error answer into a message that says what to do.
func apiError(status int, body []byte, who, doing, project string) error {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	msg := strings.TrimSpace(e.Error.Message)
	code, _, _ := strings.Cut(msg, " ")
	code = strings.TrimSuffix(code, ":")
	if project == "" {
		project = "the emulator's project"
	}
	switch {
	case status == http.StatusUnauthorized:
		return fmt.Errorf("%s was refused by Google (401: expired or revoked credentials?): log in again (gcloud auth application-default login) or renew %s", who, googleauth.TokenVar)
	case status == http.StatusForbidden && strings.Contains(msg, "serviceusage"):
		return fmt.Errorf("%s may not bill calls to the quota project of %s: it needs serviceusage.services.use there (roles/serviceusage.serviceUsageConsumer; Owner and Editor have it), or a quota project of its own (gcloud auth application-default set-quota-project): Google said: %s", who, project, msg)
	case status == http.StatusForbidden:
		return fmt.Errorf("%s may not %s %s: it needs firebaseauth.users.get and firebaseauth.users.update there (roles/firebaseauth.admin; roles/firebaseauth.viewer to read only): Google said: %s", who, doing, project, cmp.Or(msg, http.StatusText(status)))
	case code == "USER_NOT_FOUND":
		return errors.New("the account no longer exists (deleted meanwhile?)")
	case code == "CLAIMS_TOO_LARGE":
		return fmt.Errorf("the claims were refused by Firebase: more than %d bytes", MaxClaimsBytes)
	case strings.HasPrefix(code, "FORBIDDEN_CLAIM"), code == "INVALID_CLAIMS":
		return fmt.Errorf("the claims were refused by Firebase: %s", msg)
	case status == http.StatusNotFound || code == "CONFIGURATION_NOT_FOUND" || code == "PROJECT_NOT_FOUND":
		return fmt.Errorf("%s has no Firebase Authentication (%s): check --project or the stack's firebaseProjectId", project, cmp.Or(msg, strconv.Itoa(status)))
	}
	return fmt.Errorf("the Identity Toolkit API answered %d %s: %s", status, http.StatusText(status), cmp.Or(msg, "no message"))
}
