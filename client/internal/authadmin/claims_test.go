package authadmin

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// CheckClaims returns what is sent: compact, keys sorted, values as given.
func TestCheckClaimsCanonical(t *testing.T) {
	for in, want := range map[string]string{
		`{"roles":["admin"]}`:                         `{"roles":["admin"]}`,
		` { "roles" : [ "admin" , "support" ] } `:     `{"roles":["admin","support"]}`,
		`{"plan":"pro","roles":[],"limits":{"n": 1}}`: `{"limits":{"n":1},"plan":"pro","roles":[]}`,
		`{}`:                           `{}`,
		`{"big":12345678901234567890}`: `{"big":12345678901234567890}`,
		`{"html":"<a&b>","emoji":"\u00e9\ud83d\ude00"}`: `{"emoji":"\u00e9\ud83d\ude00","html":"<a&b>"}`, // escapes kept: the size is what is sent,
	} {
		got, err := CheckClaims(in)
		if err != nil || string(got) != want {
			t.Errorf("CheckClaims(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// What Firebase refuses, and what gatehouse does, is refused with a reason.
func TestCheckClaimsRefused(t *testing.T) {
	pad := func(n int) string { // claims of exactly n bytes as sent
		return `{"p":"` + strings.Repeat("x", n-len(`{"p":""}`)) + `"}`
	}
	if got, err := CheckClaims(pad(MaxClaimsBytes)); err != nil || len(got) != MaxClaimsBytes {
		t.Fatalf("claims of exactly %d bytes: %d bytes, %v", MaxClaimsBytes, len(got), err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"1001 bytes", pad(MaxClaimsBytes + 1), "the claims are 1001 bytes as JSON; Firebase takes at most 1000"},
		{"multi-byte characters counted as bytes", `{"p":"` + strings.Repeat("é", 500) + `"}`, "bytes as JSON; Firebase takes at most 1000"},
		{"sub", `{"sub":"admin"}`, `claim "sub" is reserved by Firebase`},
		{"several reserved", `{"iss":"x","aud":"y","roles":["admin"]}`, `claims "aud", "iss" are reserved by Firebase`},
		{"firebase", `{"firebase":{}}`, `claim "firebase" is reserved`},
		{"email", `{"email":"boss@example.com"}`, `claim "email" is set by Firebase in every ID token`},
		{"email_verified", `{"email_verified":true}`, `claim "email_verified" is set by Firebase`},
		{"name", `{"name":"Admin"}`, `claim "name" is set by Firebase`},
		{"twice", `{"roles":["a"],"roles":["admin"]}`, `claim "roles" is given twice`},
		{"array", `["admin"]`, "must be a JSON object"},
		{"string", `"admin"`, "must be a JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"not JSON", `{roles:[admin]}`, "not JSON"},
		{"cut short", `{"roles":["admin"]`, "not JSON"},
		{"empty", ``, "not JSON"},
		{"two objects", `{} {}`, "something follows it"},
		{"roles a string", `{"roles":"admin"}`, "claim roles must be a list of role names"},
		{"roles null", `{"roles":null}`, "claim roles must be a list of role names"},
		{"roles numbers", `{"roles":[1]}`, "claim roles must be a list of role names"},
		{"role with a space", `{"roles":["super admin"]}`, `role "super admin" is not a role name`},
		{"role empty", `{"roles":[""]}`, `role "" is not a role name`},
		{"role twice", `{"roles":["admin","admin"]}`, `role "admin" is listed twice`},
	}
	for _, tt := range tests {
		_, err := CheckClaims(tt.in)
		var ce *ClaimsError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CheckClaims(%.40s) = %v, want a ClaimsError %q", tt.name, tt.in, err, tt.want)
		}
	}
	// Every name on Firebase's list is refused.
	for _, name := range ReservedClaims {
		if _, err := CheckClaims(fmt.Sprintf(`{%q:1}`, name)); err == nil || !strings.Contains(err.Error(), "reserved by Firebase") {
			t.Errorf("reserved %s: %v", name, err)
		}
	}
}

func TestRoles(t *testing.T) {
	for in, want := range map[string]string{`{"roles":["a","b"]}`: "a,b", `{}`: "", `{"roles":"x"}`: "", `nonsense`: ""} {
		if got := strings.Join(Roles([]byte(in)), ","); got != want {
			t.Errorf("Roles(%s) = %q, want %q", in, got, want)
		}
	}
}
