package spec

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

const rolesFragment = `swagger: "2.0"
info: {title: roles, version: "1"}
paths:
  /v9/open:
    get:
      operationId: open
      responses:
        "200": {description: ok}
  /v9/admin:
    get:
      operationId: admin
      x-gatehouse-roles: [admin]
      responses:
        "200": {description: ok}
    post:
      operationId: adminOrSupport
      X-Gatehouse-Roles: [admin, support]
      responses:
        "200": {description: ok}
`

// FragmentRoles reads each operation's x-gatehouse-roles, by method and
// path (the name is matched whatever its case, as YAML keys are kept).
func TestFragmentRoles(t *testing.T) {
	got, err := FragmentRoles([]byte(rolesFragment))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"GET /v9/admin": {"admin"}, "POST /v9/admin": {"admin", "support"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FragmentRoles = %v, want %v", got, want)
	}
}

// The renderer checks x-gatehouse-roles and leaves it out of the gateway's
// document, which is then byte for byte the document of the same fragment
// without roles: a change of roles alone changes no API config.
func TestRenderStripsRoles(t *testing.T) {
	render := func(fragment string) []byte {
		t.Helper()
		p := goodParams()
		p.Backends = append(p.Backends, BackendRoute{Name: "roles", URL: "https://gatehouse-roles-abc123-ew.a.run.app", Fragment: []byte(fragment)})
		doc, err := Render(p)
		if err != nil {
			t.Fatal(err)
		}
		return doc
	}
	with := render(rolesFragment)
	if bytes.Contains(bytes.ToLower(with), []byte("x-gatehouse")) {
		t.Errorf("the rendered document carries gatehouse's extension:\n%s", with)
	}
	var without []string
	for _, line := range strings.Split(rolesFragment, "\n") {
		if !strings.Contains(strings.ToLower(line), "x-gatehouse-roles") {
			without = append(without, line)
		}
	}
	if plain := render(strings.Join(without, "\n")); !bytes.Equal(with, plain) {
		t.Errorf("the document with roles differs from the one without:\n%s\n---\n%s", with, plain)
	}
	// The real /v1 fragment (testdata's copy) declares roles; its rendered
	// document does not carry them.
	if !bytes.Contains(helloFragment, []byte(RolesExtension)) {
		t.Fatal("testdata/hello.fragment.yaml declares no roles: the check below proves nothing")
	}
	if doc, err := Render(goodParams()); err != nil || bytes.Contains(doc, []byte("x-gatehouse")) {
		t.Errorf("rendered /v1 document: %v; carries x-gatehouse: %v", err, bytes.Contains(doc, []byte("x-gatehouse")))
	}
}

// Bad declarations fail the render (so the stack's checks and the twin
// fail before anything runs) and FragmentRoles, each with its reason.
func TestRolesErrors(t *testing.T) {
	op := func(ext string) string {
		return "swagger: \"2.0\"\ninfo: {title: r, version: \"1\"}\npaths:\n  /v9/a:\n    get:\n      operationId: a\n" +
			ext + "      responses:\n        \"200\": {description: ok}\n"
	}
	for _, tt := range []struct {
		name, fragment, want string
	}{
		{"a string", op("      x-gatehouse-roles: admin\n"), "must be a list of role names"},
		{"a map", op("      x-gatehouse-roles: {admin: true}\n"), "must be a list of role names"},
		{"numbers", op("      x-gatehouse-roles: [1]\n"), "must be a list of role names"},
		{"empty list", op("      x-gatehouse-roles: []\n"), "lists no role"},
		{"bad name", op("      x-gatehouse-roles: [\"super admin\"]\n"), `"super admin" is not a role name`},
		{"twice", op("      x-gatehouse-roles: [admin, admin]\n"), `"admin" is listed twice`},
		{"misspelt", op("      x-gatehouse-role: [admin]\n"), "unknown extension x-gatehouse-role"},
		{"on the path", strings.Replace(op(""), "  /v9/a:\n", "  /v9/a:\n    x-gatehouse-roles: [admin]\n", 1), "path /v9/a: x-gatehouse-roles belongs on an operation"},
		{"at the top", op("") + "x-gatehouse-roles: [admin]\n", "top level: x-gatehouse-roles belongs on an operation"},
	} {
		if _, err := FragmentRoles([]byte(tt.fragment)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: FragmentRoles error %v, want %q", tt.name, err, tt.want)
		}
		p := goodParams()
		p.Backends = append(p.Backends, BackendRoute{Name: "bad", URL: "https://gatehouse-bad-abc123-ew.a.run.app", Fragment: []byte(tt.fragment)})
		if _, err := Render(p); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "backend bad") {
			t.Errorf("%s: Render error %v, want %q naming the backend", tt.name, err, tt.want)
		}
	}
}

func TestRoleName(t *testing.T) {
	for name, ok := range map[string]bool{
		"admin": true, "notes:admin": true, "team.lead": true, "on-call_2": true, "A": true, strings.Repeat("r", 64): true,
		"": false, " admin": false, "-admin": false, "super admin": false, "admin\n": false, "rôle": false, strings.Repeat("r", 65): false,
	} {
		if RoleName(name) != ok {
			t.Errorf("RoleName(%q) = %v, want %v", name, !ok, ok)
		}
	}
}
