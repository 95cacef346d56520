package stack

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

var gcpOK = mapSource{"project": "my-project-1", "region": "europe-west1"}

const notesEntry = `{"name":"notes","command":"./cmd/notes","spec":"service/notes/openapi.yaml","paths":["/v2/"]}`

func TestBackendsParse(t *testing.T) {
	c, err := Load(gcpOK, mapSource{"backends": `[` + strings.Replace(notesEntry, `"paths"`, `"memory":"256Mi","maxInstances":5,"paths"`, 1) + `]`, "concurrency": "40"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Backends) != 1 {
		t.Fatalf("backends = %+v", c.Backends)
	}
	b := c.Backends[0]
	want := RunSettings{MinInstances: DefaultMinInstances, MaxInstances: 5, Concurrency: 40, CPU: DefaultCPU, Memory: "256Mi", RequestTimeout: 30 * time.Second}
	if b.Context != "service" || b.Dockerfile != "service/Dockerfile" || b.Command != "./cmd/notes" || b.Run != want {
		t.Errorf("backend = %+v, want context service, service/Dockerfile and run %+v (the stack's settings where unset)", b, want)
	}
	if BackendAccountID(c.ServiceName, "notes") != "gatehouse-notes-rt" || BackendServiceName(c.ServiceName, "notes") != "gatehouse-notes" {
		t.Error("backend account or service name changed")
	}
	if c, err := Load(gcpOK, mapSource{}); err != nil || len(c.Backends) != 0 {
		t.Errorf("no backends: %+v, %v", c.Backends, err)
	}
}

func TestBackendsBadEntries(t *testing.T) {
	tests := []struct{ raw, key string }{
		{`{"name":"notes"}`, "gatehouse:backends: must be a list"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"colour":"red"}]`, `unknown field "colour"`},
		{`[{"name":"Notes","spec":"s.yaml","paths":["/v2/"]}]`, "gatehouse:backends[0].name"},
		{`[{"name":"averyveryverylongname","spec":"s.yaml","paths":["/v2/"]}]`, "gatehouse:backends[0].name"},
		{`[` + notesEntry + `,` + notesEntry + `]`, `gatehouse:backends[1].name: "notes" is used twice`},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"image":"europe-docker.pkg.dev/p/r/i:1","command":"./cmd/x"}]`, "gatehouse:backends[0].image: an existing image takes no"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"image":"not an image"}]`, "gatehouse:backends[0].image"},
		{`[{"name":"notes","spec":"../etc/passwd","paths":["/v2/"]}]`, "gatehouse:backends[0].spec"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"context":"/abs"}]`, "gatehouse:backends[0].context"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"command":"cmd/notes"}]`, "gatehouse:backends[0].command"},
		{`[{"name":"notes","spec":"s.yaml"}]`, "gatehouse:backends[0].paths: must list"},
		{`[{"name":"notes","spec":"s.yaml","paths":["v2"]}]`, "gatehouse:backends[0].paths"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"cpu":"lots"}]`, "gatehouse:backends[0].cpu"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"minInstances":9,"maxInstances":3}]`, "gatehouse:backends[0].minInstances"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"requestTimeout":"5s"}]`, "gatehouse:backends[0].requestTimeout: must be at least backendDeadline"},
	}
	for _, tt := range tests {
		_, err := Load(gcpOK, mapSource{"backends": tt.raw})
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s: err = %v, want one containing %q", tt.raw, err, tt.key)
		}
	}
}

// TestReadFragments: the real notes fragment reads and renders; a path
// outside the prefixes, a collision with the template and a missing file
// fail naming the key.
func TestReadFragments(t *testing.T) {
	read := func(path string) ([]byte, error) { return os.ReadFile("../" + path) }
	c, err := Load(gcpOK, mapSource{"backends": "[" + notesEntry + "]"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadFragments(read); err != nil || len(c.Backends[0].Fragment) == 0 {
		t.Fatalf("ReadFragments = %v", err)
	}
	p := c.SpecParams("https://b.a.run.app", "x.apigateway.p.cloud.goog", map[string]string{"notes": "https://n.a.run.app"})
	if len(p.Backends) != 1 || p.Backends[0].URL != "https://n.a.run.app" {
		t.Errorf("SpecParams backends = %+v", p.Backends)
	}

	fake := func(content string) func(string) ([]byte, error) {
		return func(string) ([]byte, error) { return []byte(content), nil }
	}
	frag := "swagger: \"2.0\"\ninfo: {title: x, version: \"1\"}\npaths:\n  %s:\n    get: {operationId: x, responses: {\"200\": {description: ok}}}\n"
	tests := []struct {
		name string
		read func(string) ([]byte, error)
		want string
	}{
		{"outside the prefixes", fake(strings.Replace(frag, "%s", "/v3/x", 1)), "gatehouse:backends[0].paths: service/notes/openapi.yaml declares /v3/x, outside /v2/"},
		{"dot segments", fake(strings.Replace(frag, "%s", "/v2/../v1/hello", 1)), "is not a normalised absolute path"},
		{"missing file", func(string) ([]byte, error) { return nil, errors.New("no such file") }, "gatehouse:backends[0].spec: no such file"},
		{"not YAML", fake("paths: [unclosed"), "gatehouse:backends[0].spec"},
	}
	for _, tt := range tests {
		c, err := Load(gcpOK, mapSource{"backends": "[" + notesEntry + "]"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ReadFragments(tt.read); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	// A collision between two backends is caught by the dry-run render.
	c, err = Load(gcpOK, mapSource{"backends": `[` + notesEntry + `,` + strings.Replace(notesEntry, `"notes"`, `"copy"`, 1) + `]`})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ReadFragments(read); err == nil || !strings.Contains(err.Error(), "backend copy: GET /v2/notes is also declared by backend notes") {
		t.Errorf("two backends with one fragment: %v", err)
	}
}
