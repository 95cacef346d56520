package gateway

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/spec"
)

func TestJWTLocations(t *testing.T) {
	doc := `swagger: "2.0"
securityDefinitions:
  firebase:
    type: oauth2
    x-google-issuer: https://securetoken.google.com/p
    x-google-jwt-locations:
      - header: Authorization
        value_prefix: "Bearer "
  machine:
    type: oauth2
    x-google-issuer: https://machine.test
    x-google-jwt-locations:
      - query: jwt
      - cookie: session
  plain:
    type: oauth2
    x-google-issuer: https://plain.test
`
	got, err := JWTLocations([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]JWTLocation{
		"firebase": {{Header: "Authorization", ValuePrefix: "Bearer "}},
		"machine":  {{Query: "jwt"}, {Cookie: "session"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JWTLocations = %+v, want %+v (a definition without the extension is absent)", got, want)
	}

	for _, c := range []struct{ name, entry, want string }{
		{"nothing named", `{value_prefix: "Bearer "}`, "exactly one of header, query and cookie"},
		{"two named", `{header: X, query: y}`, "exactly one of header, query and cookie"},
		{"prefix on a query", `{query: jwt, value_prefix: "Bearer "}`, "value_prefix applies to a header only"},
	} {
		bad := "securityDefinitions:\n  a:\n    x-google-jwt-locations:\n      - " + c.entry + "\n"
		if _, err := JWTLocations([]byte(bad)); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "securityDefinitions.a.x-google-jwt-locations[0]") {
			t.Errorf("%s: JWTLocations = %v, want an error naming the entry and %q", c.name, err, c.want)
		}
	}
	if _, err := JWTLocations([]byte("securityDefinitions: [")); err == nil {
		t.Error("a document that is not YAML was read")
	}
}

func TestNewRejectsLocationsOfNoIssuer(t *testing.T) {
	doc := &spec.Document{Issuers: map[string]spec.Issuer{"firebase": {Name: "firebase", Issuer: fbIssuer}}}
	if _, err := New(doc, Options{JWTLocations: map[string][]JWTLocation{"nope": {{Query: "jwt"}}}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("New = %v, want an error naming the unknown securityDefinition", err)
	}
}
