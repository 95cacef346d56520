// Package identity decodes the caller identity that API Gateway forwards to
// the backend.
//
// API Gateway (ESPv2) verifies the caller's JWT against the issuers declared in
// the OpenAPI document and, on success, forwards the request with the token's
// payload segment in the X-Apigateway-Api-Userinfo header (base64url, usually
// unpadded). The caller's original Authorization header is moved to
// X-Forwarded-Authorization, and Authorization carries the gateway's own
// Google-signed identity token for Cloud Run IAM.
//
// The backend trusts this header only on a request the gateway invoked.
// Cloud Run's IAM admits more invokers than the gateway's service account
// (project Owners and Editors, Cloud Run Admins, project-level invokers),
// so the backend kit (service/backend, invoker.go) first checks that the
// ID token Cloud Run verified is the gateway account's; only then is this
// header decoded. Decoding it strictly here is a further line of defence: a
// request that arrives without a well-formed identity is refused with 401
// rather than served anonymously.
package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Header is the header API Gateway sets to the verified JWT payload.
const Header = "X-Apigateway-Api-Userinfo"

// MaxHeaderLen bounds the encoded header. Firebase ID tokens are well under
// 2 KiB; anything far larger is not from the gateway.
const MaxHeaderLen = 16 << 10

// Claim limits: what one decoded identity may hold. A caller whose token the
// gateway accepts controls its claims (machine clients under
// serviceAccountIssuers sign their own), so the sizes are capped rather than
// trusted. Firebase ID tokens carry one audience and short strings.
const (
	maxAudiences = 16
	maxClaimLen  = 1024 // any one string claim, in bytes
	// MaxRoles bounds the roles claim: Firebase caps a user's custom
	// claims at 1,000 bytes, so its tokens carry far fewer; a machine
	// client's signer could put in any number.
	MaxRoles = 64
	// maxClaims bounds the other claims a backend can read (Claims).
	maxClaims = 64
)

// RolesClaim is the claim gatehouse reads the caller's roles from: an array
// of strings, set on a Firebase user as a custom claim (`gatehouse claims
// set EMAIL '{"roles":["admin"]}'`), or written by a machine client's signer
// into its own token.
const RolesClaim = "roles"

// standardClaims are the claims that are not the caller's custom claims:
// the registered JWT and OpenID Connect claims Firebase reserves (custom
// claims may not use them: acr, amr, at_hash, aud, auth_time, azp, cnf,
// c_hash, exp, firebase, iat, iss, jti, nbf, nonce, sub; firebase-admin-go
// auth/auth.go reservedClaims), and those Firebase sets in every ID token
// itself (https://firebase.google.com/docs/reference/node/firebase.FirebaseIdToken).
// Every other claim is in Identity.Claims.
var standardClaims = map[string]bool{
	"acr": true, "amr": true, "at_hash": true, "aud": true, "auth_time": true, "azp": true, "cnf": true,
	"c_hash": true, "exp": true, "firebase": true, "iat": true, "iss": true, "jti": true, "nbf": true,
	"nonce": true, "sub": true,
	"user_id": true, "email": true, "email_verified": true, "name": true, "picture": true,
	"phone_number": true, "provider_id": true,
}

// The range of times an identity may carry: a time that does not fit in a
// four-digit year cannot be encoded as RFC 3339, so /v1/me could not answer.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// Errors returned by Decode. They never contain the header's content.
var (
	ErrMissing   = errors.New("missing gateway identity")
	ErrTooLarge  = errors.New("gateway identity too large")
	ErrEncoding  = errors.New("gateway identity is not base64url")
	ErrMalformed = errors.New("gateway identity is not a JSON object")
	ErrNoSubject = errors.New("gateway identity has no subject")
	// ErrRoles: the roles claim is not an array of at most MaxRoles
	// strings. The identity is refused rather than read as having no
	// roles: a token that says something else about roles says it wrongly,
	// and whoever set it should hear so.
	ErrRoles = errors.New("gateway identity: the roles claim is not an array of strings")
)

// Identity is the verified caller as the gateway saw it. One Identity is
// shared by every request made with the same token (Cache): treat its
// slices and map as read-only.
type Identity struct {
	UID            string    `json:"uid"`
	Email          string    `json:"email,omitempty"`
	EmailVerified  bool      `json:"email_verified"`
	SignInProvider string    `json:"sign_in_provider,omitempty"`
	Issuer         string    `json:"issuer"`
	Audience       []string  `json:"audience"`
	IssuedAt       time.Time `json:"issued_at"`
	ExpiresAt      time.Time `json:"expires_at"`
	// Roles are the token's roles claim (RolesClaim); empty, never nil,
	// when it has none. Routes that declare roles (backend.Route.Roles)
	// admit callers holding one of them.
	Roles []string `json:"roles"`
	// Claims are the token's other claims, as it carries them: every claim
	// that is neither a registered one nor one Firebase sets itself
	// (Firebase custom claims such as roles or a plan, or what a machine
	// client's signer put in). Nil when there are none. Read one with
	// Claim.
	Claims map[string]json.RawMessage `json:"claims,omitempty"`
}

// HasRole reports whether the caller holds at least one of roles.
func (id Identity) HasRole(roles ...string) bool {
	for _, want := range roles {
		for _, have := range id.Roles {
			if have == want {
				return true
			}
		}
	}
	return false
}

// Claim decodes the custom claim name into v; false when the token does
// not carry it.
func (id Identity) Claim(name string, v any) (bool, error) {
	raw, ok := id.Claims[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("claim %s: %w", name, err)
	}
	return true, nil
}

// Name is what a greeting calls the caller: the email when there is one,
// the uid otherwise.
func (id Identity) Name() string {
	if id.Email != "" {
		return id.Email
	}
	return id.UID
}

type claims struct {
	Sub           string       `json:"sub"`
	UserID        string       `json:"user_id"`
	Email         string       `json:"email"`
	EmailVerified bool         `json:"email_verified"`
	Iss           string       `json:"iss"`
	Aud           audience     `json:"aud"`
	Iat           *json.Number `json:"iat"`
	Exp           *json.Number `json:"exp"`
	Firebase      struct {
		SignInProvider string `json:"sign_in_provider"`
	} `json:"firebase"`
}

// audience accepts the two forms RFC 7519 allows: a string or an array.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = many
	return nil
}

// Decode parses the X-Apigateway-Api-Userinfo header value. Both unpadded and
// padded base64url are accepted.
func Decode(header string) (Identity, error) {
	if header == "" {
		return Identity{}, ErrMissing
	}
	if len(header) > MaxHeaderLen {
		return Identity{}, ErrTooLarge
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(header, "="))
	if err != nil {
		return Identity{}, ErrEncoding
	}
	var c claims
	if err := json.Unmarshal(raw, &c); err != nil {
		return Identity{}, fmt.Errorf("%w: %s", ErrMalformed, jsonErrorKind(err))
	}
	if c.Sub == "" {
		return Identity{}, ErrNoSubject
	}
	if c.UserID != "" && c.UserID != c.Sub {
		return Identity{}, fmt.Errorf("%w: user_id differs from sub", ErrMalformed)
	}
	iat, err := unixTime(c.Iat)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: iat: %v", ErrMalformed, err)
	}
	exp, err := unixTime(c.Exp)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: exp: %v", ErrMalformed, err)
	}
	aud := []string(c.Aud)
	if aud == nil {
		aud = []string{}
	}
	if len(aud) > maxAudiences {
		return Identity{}, fmt.Errorf("%w: more than %d audiences", ErrMalformed, maxAudiences)
	}
	for _, v := range append([]string{c.Sub, c.Email, c.Iss, c.Firebase.SignInProvider}, aud...) {
		if len(v) > maxClaimLen {
			return Identity{}, fmt.Errorf("%w: a claim longer than %d bytes", ErrMalformed, maxClaimLen)
		}
	}
	custom, roles, err := customClaims(raw)
	if err != nil {
		return Identity{}, err
	}
	return Identity{
		UID:            c.Sub,
		Email:          c.Email,
		EmailVerified:  c.EmailVerified,
		SignInProvider: c.Firebase.SignInProvider,
		Issuer:         c.Iss,
		Audience:       aud,
		IssuedAt:       iat,
		ExpiresAt:      exp,
		Roles:          roles,
		Claims:         custom,
	}, nil
}

// customClaims returns the payload's claims other than the standard ones
// (nil if none) and its roles (empty if none). raw is a JSON object: Decode
// parsed it already.
func customClaims(raw []byte) (map[string]json.RawMessage, []string, error) {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrMalformed, jsonErrorKind(err))
	}
	var custom map[string]json.RawMessage
	for name, v := range all {
		if standardClaims[name] {
			continue
		}
		if custom == nil {
			custom = map[string]json.RawMessage{}
		}
		custom[name] = v
	}
	if len(custom) > maxClaims {
		return nil, nil, fmt.Errorf("%w: more than %d custom claims", ErrMalformed, maxClaims)
	}
	roles := []string{}
	if v, ok := custom[RolesClaim]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &roles); err != nil || roles == nil || len(roles) > MaxRoles {
			return nil, nil, ErrRoles
		}
		for _, r := range roles {
			if len(r) > maxClaimLen {
				return nil, nil, ErrRoles
			}
		}
	}
	return custom, roles, nil
}

func unixTime(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	secs, err := n.Int64()
	if err != nil {
		return time.Time{}, errors.New("not an integer number of seconds")
	}
	t := time.Unix(secs, 0).UTC()
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, errors.New("out of range (1970 to 9999)")
	}
	return t, nil
}

// jsonErrorKind describes a JSON error without quoting the input.
func jsonErrorKind(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	default:
		return "invalid claims"
	}
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity stored by NewContext.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// Cache remembers decoded headers. The gateway forwards the same payload
// for every request a client makes with one token, so most requests decode
// a header seen before. Only successful decodes of headers up to
// MaxCachedHeader bytes are kept, and the cache holds at most maxBytes of
// headers and identities: a flood of large distinct identities (each valid,
// say, with a long audience list) costs decoding time, never memory. Safe
// for concurrent use.
type Cache struct {
	mu       sync.Mutex
	maxBytes int
	bytes    int
	m        map[string]Identity
}

// MaxCachedHeader is the largest header the cache keeps: a Firebase ID
// token's payload is about 1 KiB encoded.
const MaxCachedHeader = 4 << 10

// NewCache returns a cache of at most maxBytes (headers plus identities).
func NewCache(maxBytes int) *Cache { return &Cache{maxBytes: maxBytes, m: map[string]Identity{}} }

// size is what an entry costs, approximately: its key and its strings, plus
// the fixed part of an Identity and the map's own overhead.
func size(header string, id Identity) int {
	n := len(header) + len(id.UID) + len(id.Email) + len(id.SignInProvider) + len(id.Issuer) + 200
	for _, a := range id.Audience {
		n += len(a) + 16
	}
	for _, r := range id.Roles {
		n += len(r) + 16
	}
	for k, v := range id.Claims {
		n += len(k) + len(v) + 64 // the map entry and the slice header
	}
	return n
}

// Bytes reports what the cache holds, for tests and benchmarks.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Decode is Decode with the cache in front.
func (c *Cache) Decode(header string) (Identity, error) {
	c.mu.Lock()
	id, ok := c.m[header]
	c.mu.Unlock()
	if ok {
		return id, nil
	}
	id, err := Decode(header)
	if err != nil || len(header) > MaxCachedHeader {
		return id, err
	}
	n := size(header, id)
	c.mu.Lock()
	for k, v := range c.m { // evict arbitrary entries until this one fits
		if c.bytes+n <= c.maxBytes {
			break
		}
		c.bytes -= size(k, v)
		delete(c.m, k)
	}
	if c.bytes+n <= c.maxBytes {
		c.m[header] = id
		c.bytes += n
	}
	c.mu.Unlock()
	return id, nil
}
