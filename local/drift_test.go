package local

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/hello"
	"github.com/gatehouse/gatehouse/service/notes"
	"github.com/gatehouse/gatehouse/spec"
)

// TestSpecMatchesServiceRoutes fails when the backend serves a public route
// that the spec lacks (the gateway would 404 it) or the spec declares an
// operation the backend does not serve (the gateway would forward to a 404).
// It lives here because this module imports both sides; the service module
// does not depend on spec.
func TestSpecMatchesServiceRoutes(t *testing.T) {
	doc, err := spec.Render(spec.Params{BackendURL: "https://drift-check.a.run.app", FirebaseProjectID: "demo-gatehouse"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := spec.Parse(doc, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var inSpec, inService []string
	for _, op := range d.Operations {
		inSpec = append(inSpec, op.Method+" "+op.Path)
	}
	for _, r := range hello.Routes() {
		if r.Public {
			inService = append(inService, r.Method+" "+r.Path)
		}
	}
	if missing, extra := diff(inService, inSpec), diff(inSpec, inService); len(missing)+len(extra) > 0 {
		t.Errorf("spec and service disagree:\n  served but not in spec/openapi.yaml: %v\n  in the spec but not served: %v", missing, extra)
	}
	if bad := unsecuredIdentityRoutes(hello.Routes(), d); len(bad) > 0 {
		t.Errorf("routes that read the gateway identity on operations the spec does not secure (a client could forge it there): %v", bad)
	}
}

// unsecuredIdentityRoutes lists the routes that read the caller identity
// but whose operation has no security requirement: API Gateway removes a
// client-sent X-Apigateway-Api-Userinfo only where a JWT requirement runs.
func unsecuredIdentityRoutes(routes []backend.Route, d *spec.Document) []string {
	secured := map[string]bool{}
	for _, op := range d.Operations {
		secured[op.Method+" "+op.Path] = len(op.Security) > 0
	}
	var bad []string
	for _, r := range routes {
		if r.Identity && !secured[r.Method+" "+r.Path] {
			bad = append(bad, r.Method+" "+r.Path)
		}
	}
	return bad
}

// TestUnsecuredIdentityRoutes shows the guard fails when a route reading
// the identity is left unsecured, or not declared at all.
func TestUnsecuredIdentityRoutes(t *testing.T) {
	routes := []backend.Route{{Method: "GET", Path: "/v1/me", Public: true, Identity: true}, {Method: "GET", Path: "/v1/open", Public: true}}
	ok := &spec.Document{Operations: []spec.Operation{{Method: "GET", Path: "/v1/me", Security: [][]string{{"firebase"}}}, {Method: "GET", Path: "/v1/open"}}}
	if bad := unsecuredIdentityRoutes(routes, ok); len(bad) != 0 {
		t.Errorf("secured identity route reported: %v", bad)
	}
	open := &spec.Document{Operations: []spec.Operation{{Method: "GET", Path: "/v1/me"}}}
	if bad := unsecuredIdentityRoutes(routes, open); !slices.Equal(bad, []string{"GET /v1/me"}) {
		t.Errorf("unsecured identity route: %v, want [GET /v1/me]", bad)
	}
	if bad := unsecuredIdentityRoutes(routes, &spec.Document{}); !slices.Equal(bad, []string{"GET /v1/me"}) {
		t.Errorf("undeclared identity route: %v, want [GET /v1/me]", bad)
	}
}

// TestNotesSpecMatchesRoutes is the same guard for the notes backend: its
// fragment, merged and routed to it, declares exactly its public routes,
// and each route that reads the identity is secured.
func TestNotesSpecMatchesRoutes(t *testing.T) {
	const notesURL = "https://gatehouse-notes-drift.a.run.app"
	doc, err := spec.Render(spec.Params{BackendURL: "https://drift-check.a.run.app", FirebaseProjectID: "demo-gatehouse",
		Backends: []spec.BackendRoute{{Name: "notes", URL: notesURL, Fragment: notes.Fragment}}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := spec.Parse(doc, spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var inSpec, inService []string
	var ops []spec.Operation
	for _, op := range d.Operations {
		if op.Backend != nil && op.Backend.Address == notesURL {
			inSpec = append(inSpec, op.Method+" "+op.Path)
			ops = append(ops, op)
		}
	}
	for _, r := range notes.Routes() {
		if r.Public {
			inService = append(inService, r.Method+" "+r.Path)
		}
	}
	if missing, extra := diff(inService, inSpec), diff(inSpec, inService); len(missing)+len(extra) > 0 || len(inSpec) == 0 {
		t.Errorf("notes fragment and routes disagree:\n  served but not in service/notes/openapi.yaml: %v\n  in the fragment but not served: %v", missing, extra)
	}
	if bad := unsecuredIdentityRoutes(notes.Routes(), &spec.Document{Operations: ops}); len(bad) > 0 {
		t.Errorf("notes routes read the identity on unsecured operations: %v", bad)
	}
}

// TestDiff shows that the guard catches a difference either way.
func TestDiff(t *testing.T) {
	a := []string{"GET /v1/hello", "GET /v1/me"}
	b := []string{"GET /v1/hello", "POST /v1/items"}
	if got := diff(a, b); !slices.Equal(got, []string{"GET /v1/me"}) {
		t.Errorf("diff(a, b) = %v, want [GET /v1/me]", got)
	}
	if got := diff(b, a); !slices.Equal(got, []string{"POST /v1/items"}) {
		t.Errorf("diff(b, a) = %v, want [POST /v1/items]", got)
	}
	if got := diff(a, a); len(got) != 0 {
		t.Errorf("diff(a, a) = %v, want none", got)
	}
}

// diff returns the entries of a that are not in b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
