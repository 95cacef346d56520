package authadmin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// MaxClaimsBytes is the most Firebase takes: "The custom claims payload
// must not exceed 1000 bytes"
// (https://firebase.google.com/docs/auth/admin/custom-claims); the Admin
// SDKs refuse more before sending, and the Auth emulator answers
// CLAIMS_TOO_LARGE (firebase-tools emulator/auth operations.js,
// CUSTOM_ATTRIBUTES_MAX_LENGTH = 1000).
const MaxClaimsBytes = 1000

// ReservedClaims are the names Firebase refuses as custom claims: the
// OpenID Connect names and firebase ("Custom claims must not ... use
// reserved names": firebase-admin-go auth/auth.go reservedClaims; the Auth
// emulator refuses the same list as FORBIDDEN_CLAIM).
var ReservedClaims = []string{"acr", "amr", "at_hash", "aud", "auth_time", "azp", "cnf", "c_hash", "exp", "firebase", "iat", "iss", "jti", "nbf", "nonce", "sub"}

// TokenClaims are claims Firebase itself sets in every ID token
// (https://firebase.google.com/docs/reference/node/firebase.FirebaseIdToken).
// Firebase takes custom claims of these names, but a backend reading email
// or name must get what Firebase verified, so gatehouse refuses them: the
// Auth emulator, for one, lets a custom name override the account's
// (operations.js: name and picture are spread before customAttributes).
var TokenClaims = []string{"email", "email_verified", "name", "phone_number", "picture", "provider_id", "user_id"}

// RolesClaim is gatehouse's convention: the caller's roles, an array of
// role names, which backends check (service/backend Route.Roles).
const RolesClaim = "roles"

// RoleNameRule is the backends' rule for role names (service/backend
// RoleName; the spec's x-gatehouse-roles follows the same; local/drift's
// TestRoleNameRulesAgree keeps this copy in step).
const RoleNameRule = "1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

var roleNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// ClaimsError is claims Firebase or gatehouse would refuse: bad input,
// refused before anything is sent.
type ClaimsError struct{ Msg string }

func (e *ClaimsError) Error() string { return e.Msg }

func claimsErrorf(format string, args ...any) error {
	return &ClaimsError{fmt.Sprintf(format, args...)}
}

// CheckClaims checks custom claims given as JSON text and returns them as
// they are sent: a JSON object, compact, keys sorted. It refuses, before
// anything is sent, what Firebase refuses (more than MaxClaimsBytes,
// ReservedClaims, anything but an object) and what gatehouse does (the
// names of TokenClaims, duplicate names, a roles claim that is not a list
// of distinct role names).
func CheckClaims(text string) ([]byte, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, claimsErrorf("the claims are not JSON: %v", jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, claimsErrorf(`the claims must be a JSON object, such as '{"roles":["admin"]}'`)
	}
	claims := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, claimsErrorf("the claims are not JSON: %v", jsonErr(err))
		}
		name := tok.(string) // an object's keys are strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, claimsErrorf("the claims are not JSON: %v", jsonErr(err))
		}
		if _, dup := claims[name]; dup {
			return nil, claimsErrorf("claim %q is given twice", name)
		}
		claims[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, claimsErrorf("the claims are not JSON: %v", jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, claimsErrorf("the claims are not one JSON object: something follows it")
	}
	var reserved, shadowing []string
	for name := range claims {
		switch {
		case slices.Contains(ReservedClaims, name):
			reserved = append(reserved, name)
		case slices.Contains(TokenClaims, name):
			shadowing = append(shadowing, name)
		}
	}
	sort.Strings(reserved)
	sort.Strings(shadowing)
	if len(reserved) > 0 {
		return nil, claimsErrorf("%s reserved by Firebase, which refuses custom claims named %s", names(reserved), strings.Join(ReservedClaims, ", "))
	}
	if len(shadowing) > 0 {
		return nil, claimsErrorf("%s set by Firebase in every ID token: a custom claim of that name would shadow what Firebase verified (%s are refused)", names(shadowing), strings.Join(TokenClaims, ", "))
	}
	if raw, ok := claims[RolesClaim]; ok {
		if err := checkRoles(raw); err != nil {
			return nil, err
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // "<" stays 1 byte, not 6: the size is Firebase's
	if err := enc.Encode(claims); err != nil {
		return nil, claimsErrorf("the claims are not JSON: %v", err)
	}
	b := bytes.TrimSuffix(out.Bytes(), []byte("\n"))
	if len(b) > MaxClaimsBytes {
		return nil, claimsErrorf("the claims are %d bytes as JSON; Firebase takes at most %d (keep claims to what access decisions need)", len(b), MaxClaimsBytes)
	}
	return b, nil
}

// checkRoles checks the roles claim: a list of distinct role names.
func checkRoles(raw json.RawMessage) error {
	var roles []string
	if err := json.Unmarshal(raw, &roles); err != nil || roles == nil {
		return claimsErrorf(`claim roles must be a list of role names, such as ["admin"]: backends refuse any other form`)
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if !roleNameRe.MatchString(r) {
			return claimsErrorf("role %q is not a role name (%s)", r, RoleNameRule)
		}
		if seen[r] {
			return claimsErrorf("role %q is listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

// Roles returns the roles claim of claims (as CheckClaims returns them, or
// as Firebase stores them), empty if none.
func Roles(claims []byte) []string {
	var c struct {
		Roles []string `json:"roles"`
	}
	_ = json.Unmarshal(claims, &c)
	return c.Roles
}

func names(list []string) string {
	q := make([]string, len(list))
	for i, n := range list {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return "claim " + q[0] + " is"
	}
	return "claims " + strings.Join(q, ", ") + " are"
}

// jsonErr describes a JSON error briefly.
func jsonErr(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%v (at byte %d)", syn, syn.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "it ends too soon"
	}
	return err.Error()
}
