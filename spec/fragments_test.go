package spec

import (
	"strings"
	"testing"
)

const notesFragment = `swagger: "2.0"
info: {title: notes, version: "2"}
paths:
  /v2/notes:
    get:
      operationId: listNotes
      responses:
        "200": {description: ok, schema: {$ref: "#/definitions/NoteList"}}
    post:
      operationId: createNote
      responses:
        "201": {description: created}
definitions:
  NoteList:
    type: object
    properties:
      notes: {type: array, items: {type: string}}
`

func twoBackends() Params {
	p := goodParams()
	p.CORS, p.EndpointsName = true, "gatehouse-abc.apigateway.demo-gatehouse.cloud.goog"
	p.Backends = append(p.Backends, BackendRoute{Name: "notes", URL: "https://gatehouse-notes-abc123-ew.a.run.app", Fragment: []byte(notesFragment)})
	return p
}

// TestRenderWithBackends: each fragment's operations are merged, secured
// like every other, and routed to their own backend; the config id covers
// the fragments.
func TestRenderWithBackends(t *testing.T) {
	p := twoBackends()
	doc, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(doc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{}
	for _, op := range d.Operations {
		if op.Backend == nil {
			t.Fatalf("%s %s has no backend of its own", op.Method, op.Path)
		}
		addr := op.Backend.Address
		if op.Backend.PathTranslation != AppendPathToAddress || op.Backend.JWTAudience != addr {
			t.Errorf("%s %s: backend %+v, want APPEND_PATH_TO_ADDRESS with the service URL as audience", op.Method, op.Path, op.Backend)
		}
		routes[op.Method+" "+op.Path] = addr
		if op.Method != "OPTIONS" && len(op.Security) == 0 {
			t.Errorf("%s %s is not secured", op.Method, op.Path)
		}
	}
	primary, notes := p.Backends[0].URL, p.Backends[1].URL
	want := map[string]string{
		"GET /v1/hello": primary, "GET /v1/me": primary, "OPTIONS /v1/hello": primary, "OPTIONS /v1/me": primary,
		"GET /v1/admin/hello": primary, "OPTIONS /v1/admin/hello": primary,
		"GET /v2/notes": notes, "POST /v2/notes": notes, "OPTIONS /v2/notes": notes,
	}
	for k, v := range want {
		if routes[k] != v {
			t.Errorf("%s goes to %q, want %q", k, routes[k], v)
		}
	}
	if len(routes) != len(want) {
		t.Errorf("routes %v, want %v", routes, want)
	}
	if !strings.Contains(string(doc), "NoteList:") {
		t.Error("the fragment's definitions are not in the document")
	}
	// The config id changes with the fragment or a backend's URL.
	id := ConfigID(doc, "")
	q := twoBackends()
	q.Backends[1].Fragment = []byte(strings.Replace(notesFragment, "description: created", "description: stored", 1))
	q2 := twoBackends()
	q2.Backends[1].URL = "https://gatehouse-notes-zzz-ew.a.run.app"
	for name, other := range map[string]Params{"fragment": q, "url": q2} {
		d2, err := Render(other)
		if err != nil || ConfigID(d2, "") == id {
			t.Errorf("changed %s: config id %s (%v), want a new one", name, ConfigID(d2, ""), err)
		}
	}
	// Two backends may serve different methods of one path.
	r := twoBackends()
	r.Backends = append(r.Backends, BackendRoute{Name: "writer", URL: "https://w.example.com", Fragment: []byte(`swagger: "2.0"
info: {title: w, version: "1"}
paths:
  /v2/notes:
    delete: {operationId: deleteNotes, responses: {"204": {description: gone}}}
`)})
	if _, err := Render(r); err != nil {
		t.Errorf("two backends on one path, different methods: %v", err)
	}
}

func TestBackendFragmentErrors(t *testing.T) {
	frag := func(s string) []byte { return []byte("swagger: \"2.0\"\ninfo: {title: x, version: \"1\"}\n" + s) }
	op := "{operationId: %s, responses: {\"200\": {description: ok}}}"
	tests := []struct {
		name     string
		backends []BackendRoute
		want     string
	}{
		{"claims another backend's operation", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths:\n  /v1/hello:\n    get: " + strings.Replace(op, "%s", "x", 1))}},
			"backend a: GET /v1/hello is also declared by backend v1"},
		{"two backends claim one operation", []BackendRoute{
			{Name: "a", URL: "https://a.test", Fragment: frag("paths:\n  /v2/x:\n    get: " + strings.Replace(op, "%s", "x1", 1))},
			{Name: "b", URL: "https://b.test", Fragment: frag("paths:\n  /v2/x:\n    get: " + strings.Replace(op, "%s", "x2", 1))}},
			"backend b: GET /v2/x is also declared by backend a"},
		{"unknown reference", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths:\n  /v2/x:\n    get: {operationId: x, responses: {\"200\": {description: ok, schema: {$ref: \"#/definitions/Nope\"}}}}")}},
			`backend a: fragment: reference "#/definitions/Nope": no such definition`},
		{"conflicting definition", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths:\n  /v2/x:\n    get: " + strings.Replace(op, "%s", "x", 1) + "\ndefinitions:\n  Error: {type: string}")}},
			`backend a: definition "Error" differs`},
		{"security in a fragment", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("securityDefinitions:\n  k: {type: apiKey, name: key, in: query}\npaths:\n  /v2/x:\n    get: " + strings.Replace(op, "%s", "x", 1))}},
			"may hold only paths and definitions"},
		{"declared OPTIONS", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths:\n  /v2/x:\n    options: " + strings.Replace(op, "%s", "x", 1))}},
			"OPTIONS operations are rendered"},
		{"no paths", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths: {}")}}, "declares no paths"},
		{"not Swagger 2.0", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: []byte("openapi: 3.0.0\npaths: {}")}}, "swagger must be"},
		{"no name", []BackendRoute{{Name: "", URL: "https://a.test", Fragment: frag("paths: {}")}}, "Backends[1].Name"},
		{"http URL", []BackendRoute{{Name: "a", URL: "http://a.test", Fragment: frag("paths: {}")}}, "Backends[1].URL"},
		{"duplicate names", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths: {}")}, {Name: "a", URL: "https://b.test", Fragment: frag("paths: {}")}},
			`two backends are named "a"`},
		{"dot segments", []BackendRoute{{Name: "a", URL: "https://a.test", Fragment: frag("paths:\n  /v2/../v1/hello:\n    get: " + strings.Replace(op, "%s", "x", 1))}},
			"is not a normalised absolute path"},
		{"empty fragment", []BackendRoute{{Name: "a", URL: "https://a.test"}}, "Backends[1].Fragment: is empty"},
	}
	for _, tt := range tests {
		p := goodParams()
		p.Backends = append(p.Backends, tt.backends...)
		_, err := Render(p)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}
