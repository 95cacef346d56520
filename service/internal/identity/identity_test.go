package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const firebasePayload = `{"iss":"https://securetoken.google.com/demo-gatehouse","aud":"demo-gatehouse","auth_time":1700000000,"user_id":"u123","sub":"u123","iat":1700000000,"exp":1700003600,"email":"ada@example.com","email_verified":true,"firebase":{"identities":{"email":["ada@example.com"]},"sign_in_provider":"password"}}`

func TestDecode(t *testing.T) {
	want := Identity{
		UID:            "u123",
		Email:          "ada@example.com",
		EmailVerified:  true,
		SignInProvider: "password",
		Issuer:         "https://securetoken.google.com/demo-gatehouse",
		Audience:       []string{"demo-gatehouse"},
		IssuedAt:       time.Unix(1700000000, 0).UTC(),
		ExpiresAt:      time.Unix(1700003600, 0).UTC(),
		Roles:          []string{},
	}
	unpadded := base64.RawURLEncoding.EncodeToString([]byte(firebasePayload))
	padded := base64.URLEncoding.EncodeToString([]byte(firebasePayload))
	if unpadded == padded {
		t.Fatal("test payload must need padding")
	}
	for _, in := range []string{unpadded, padded} {
		got, err := Decode(in)
		if err != nil {
			t.Fatalf("Decode(%q) error: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestDecodeAudienceArrayAndMinimal(t *testing.T) {
	got, err := Decode(enc(`{"sub":"svc","aud":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != "svc" || !reflect.DeepEqual(got.Audience, []string{"a", "b"}) || got.Name() != "svc" {
		t.Errorf("Decode(array aud) = %+v, want uid svc, aud [a b], name svc", got)
	}
	got, err = Decode(enc(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Audience == nil || len(got.Audience) != 0 || !got.IssuedAt.IsZero() {
		t.Errorf("Decode(minimal) = %+v, want empty non-nil audience and zero times", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"missing", "", ErrMissing},
		{"oversized", strings.Repeat("A", MaxHeaderLen+1), ErrTooLarge},
		{"garbage base64", "!!!not*base64!!!", ErrEncoding},
		{"standard alphabet", "+/+/", ErrEncoding},
		{"not json", enc("hello world"), ErrMalformed},
		{"json array", enc(`["sub"]`), ErrMalformed},
		{"json without sub", enc(`{"email":"a@b.c"}`), ErrNoSubject},
		{"empty sub", enc(`{"sub":""}`), ErrNoSubject},
		{"null", enc(`null`), ErrNoSubject},
		{"sub wrong type", enc(`{"sub":42}`), ErrMalformed},
		{"user_id differs", enc(`{"sub":"a","user_id":"b"}`), ErrMalformed},
		{"fractional exp", enc(`{"sub":"a","exp":1.5}`), ErrMalformed},
		{"aud object", enc(`{"sub":"a","aud":{"x":1}}`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%.20q) = %+v, %v, want error %v", tt.in, got, err, tt.want)
			}
			if len(tt.in) > 3 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q quotes the header", err)
			}
		})
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("FromContext(empty) = ok, want not found")
	}
	// A string key with the same text must not collide with the typed key.
	//lint:ignore SA1029 deliberately a string key, to show it does not collide
	ctx = context.WithValue(ctx, "identity.ctxKey", Identity{UID: "forged"}) //nolint:staticcheck
	if _, ok := FromContext(ctx); ok {
		t.Fatal("FromContext found a value stored under a string key")
	}
	ctx = NewContext(ctx, Identity{UID: "u1"})
	if id, ok := FromContext(ctx); !ok || id.UID != "u1" {
		t.Errorf("FromContext = %+v, %v, want u1, true", id, ok)
	}
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCache(t *testing.T) {
	h := enc(firebasePayload)
	want, _ := Decode(h)
	c := NewCache(2 * size(h, want)) // room for two entries like this one
	for range 2 {
		got, err := c.Decode(h)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Cache.Decode = %+v, %v, want %+v", got, err, want)
		}
	}
	if _, err := c.Decode("!!!"); !errors.Is(err, ErrEncoding) {
		t.Errorf("Cache.Decode(bad) = %v, want ErrEncoding", err)
	}
	if _, err := c.Decode(""); !errors.Is(err, ErrMissing) {
		t.Errorf("Cache.Decode(empty) = %v, want ErrMissing", err)
	}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		if _, err := c.Decode(enc(`{"sub":"` + s + `"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Bytes() > c.maxBytes || len(c.m) == 0 {
		t.Errorf("cache holds %d bytes in %d entries, want at most %d", c.Bytes(), len(c.m), c.maxBytes)
	}
}

// A flood of distinct, valid, large identities (an aud array filling the
// header) is bounded by bytes: 8,192 headers of ~16 KiB once kept ~290 MiB.
func TestCacheBoundedUnderFlood(t *testing.T) {
	const budget = 1 << 20
	c := NewCache(budget)
	var aud []string
	for i := range maxAudiences {
		aud = append(aud, fmt.Sprintf("%0600d", i)) // 16 audiences of 600 bytes: ~13 KiB encoded, under MaxHeaderLen
	}
	big, _ := json.Marshal(aud)
	small := 0
	for i := range 8192 {
		var payload string
		if i%2 == 0 {
			payload = fmt.Sprintf(`{"sub":"u%d","aud":%s}`, i, big)
		} else {
			payload = fmt.Sprintf(`{"sub":"u%d","aud":"p","email":"u%d@example.com"}`, i, i)
			small++
		}
		if _, err := c.Decode(enc(payload)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Bytes() > budget {
		t.Errorf("cache holds %d bytes after the flood, budget %d", c.Bytes(), budget)
	}
	for k := range c.m {
		if len(k) > MaxCachedHeader {
			t.Fatalf("a %d-byte header was cached", len(k))
		}
	}
	// The negative: the bound is real, the cache is not simply empty.
	if len(c.m) == 0 {
		t.Error("nothing cached at all")
	}
}

// Claims a caller controls are capped, and times beyond what RFC 3339 can
// write (year 9999) are invalid, not a 500 later.
func TestClaimLimits(t *testing.T) {
	many := make([]string, maxAudiences+1)
	for i := range many {
		many[i] = "a"
	}
	tooMany, _ := json.Marshal(many)
	for _, tt := range []struct {
		name, payload string
		ok            bool
	}{
		{"16 audiences", `{"sub":"u","aud":` + string(tooMany[:len(tooMany)-5]) + `]}`, true},
		{"17 audiences", `{"sub":"u","aud":` + string(tooMany) + `}`, false},
		{"long email", `{"sub":"u","email":"` + strings.Repeat("e", maxClaimLen+1) + `"}`, false},
		{"exp in 9999", `{"sub":"u","exp":253402300799}`, true},
		{"exp beyond 9999", `{"sub":"u","exp":253402300800}`, false},
		{"exp far beyond", `{"sub":"u","exp":99999999999999}`, false},
		{"negative iat", `{"sub":"u","iat":-1}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(enc(tt.payload))
			if (err == nil) != tt.ok {
				t.Errorf("Decode = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
		})
	}
}

// The roles claim and the other custom claims a Firebase user's token
// carries (set with `gatehouse claims set`) are read; the claims Firebase
// sets itself are not custom claims.
func TestDecodeRolesAndClaims(t *testing.T) {
	payload := `{"iss":"https://securetoken.google.com/p","aud":"p","sub":"u1","user_id":"u1","email":"ada@example.com","email_verified":true,` +
		`"name":"Ada","auth_time":1,"firebase":{"sign_in_provider":"password"},"roles":["admin","support"],"plan":"pro","limits":{"notes":500}}`
	id, err := Decode(enc(payload))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(id.Roles, []string{"admin", "support"}) {
		t.Errorf("roles = %q", id.Roles)
	}
	var names []string
	for k := range id.Claims {
		names = append(names, k)
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{"limits", "plan", "roles"}) {
		t.Errorf("custom claims = %q, want limits, plan, roles (and none of the standard ones)", names)
	}
	var plan string
	if ok, err := id.Claim("plan", &plan); !ok || err != nil || plan != "pro" {
		t.Errorf("Claim(plan) = %v %v %q", ok, err, plan)
	}
	var limits struct{ Notes int }
	if ok, err := id.Claim("limits", &limits); !ok || err != nil || limits.Notes != 500 {
		t.Errorf("Claim(limits) = %v %v %+v", ok, err, limits)
	}
	if ok, err := id.Claim("absent", &plan); ok || err != nil {
		t.Errorf("Claim(absent) = %v %v, want false, nil", ok, err)
	}
	var n int
	if ok, err := id.Claim("plan", &n); !ok || err == nil {
		t.Errorf("Claim(plan) into an int = %v %v, want an error", ok, err)
	}
	b, err := json.Marshal(id)
	if err != nil || !strings.Contains(string(b), `"roles":["admin","support"]`) || !strings.Contains(string(b), `"claims":{`) {
		t.Errorf("identity as JSON = %s %v", b, err)
	}

	// No roles: an empty list (shown as [] by /v1/me), and no claims.
	for _, p := range []string{`{"sub":"u"}`, `{"sub":"u","roles":null}`, `{"sub":"u","roles":[]}`} {
		id, err := Decode(enc(p))
		if err != nil || id.Roles == nil || len(id.Roles) != 0 || id.HasRole("admin") {
			t.Errorf("%s: roles %#v, %v", p, id.Roles, err)
		}
	}
	if id, _ := Decode(enc(`{"sub":"u"}`)); id.Claims != nil {
		t.Errorf("claims of a token without custom claims = %v, want nil", id.Claims)
	}
}

// A roles claim of another shape is refused (ErrRoles), not read as no
// roles or as a role: a token saying "roles":"admin" says it wrongly.
func TestDecodeRolesErrors(t *testing.T) {
	many := make([]string, MaxRoles+1)
	for i := range many {
		many[i] = fmt.Sprint("r", i)
	}
	tooMany, _ := json.Marshal(many)
	justRight, _ := json.Marshal(many[:MaxRoles])
	for _, tt := range []struct {
		name, roles string
		ok          bool
	}{
		{"array of strings", `["admin"]`, true},
		{"64 roles", string(justRight), true},
		{"a string", `"admin"`, false},
		{"a number", `1`, false},
		{"an object", `{"admin":true}`, false},
		{"numbers", `[1,2]`, false},
		{"a nested array", `[["admin"]]`, false},
		{"true", `true`, false},
		{"65 roles", string(tooMany), false},
		{"a long role", `["` + strings.Repeat("r", maxClaimLen+1) + `"]`, false},
	} {
		_, err := Decode(enc(`{"sub":"u","roles":` + tt.roles + `}`))
		if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrRoles) {
			t.Errorf("%s: %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	var claims strings.Builder
	claims.WriteString(`{"sub":"u"`)
	for i := range maxClaims + 1 {
		fmt.Fprintf(&claims, `,"c%d":1`, i)
	}
	claims.WriteString("}")
	if _, err := Decode(enc(claims.String())); !errors.Is(err, ErrMalformed) {
		t.Errorf("%d custom claims: %v, want ErrMalformed", maxClaims+1, err)
	}
}

// HasRole admits a caller holding any one of the roles, and no caller
// without them.
func TestHasRole(t *testing.T) {
	id := Identity{Roles: []string{"support", "admin"}}
	for _, tt := range []struct {
		want []string
		ok   bool
	}{
		{[]string{"admin"}, true},
		{[]string{"billing", "support"}, true},
		{[]string{"Admin"}, false}, // exact, case-sensitive
		{[]string{"billing"}, false},
		{nil, false},
	} {
		if got := id.HasRole(tt.want...); got != tt.ok {
			t.Errorf("HasRole(%q) = %v, want %v", tt.want, got, tt.ok)
		}
	}
	if (Identity{}).HasRole("admin") {
		t.Error("an identity without roles holds admin")
	}
}
