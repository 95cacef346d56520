package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var gcpOK = mapSource{"project": "my-project-1", "region": "europe-west1"}

const notesEntry = `{"name":"notes","command":"./cmd/notes","spec":"service/notes/openapi.yaml","paths":["/v2/"]}`

func TestBackendsParse(t *testing.T) {
	c, err := load(gcpOK, mapSource{"backends": `[` + strings.Replace(notesEntry, `"paths"`, `"memory":"256Mi","maxInstances":5,"paths"`, 1) + `]`, "concurrency": "40"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Backends) != 1 {
		t.Fatalf("backends = %+v", c.Backends)
	}
	b := c.Backends[0]
	want := RunSettings{MinInstances: DefaultMinInstances, MaxInstances: 5, Concurrency: 40, CPU: DefaultCPU, Memory: "256Mi", RequestTimeout: 30 * time.Second}
	if b.Context != "service" || b.Dockerfile != "service/cmd/notes/Dockerfile" || b.Command != "./cmd/notes" || b.Run != want {
		t.Errorf("backend = %+v, want context service, service/cmd/notes/Dockerfile and run %+v (the stack's settings where unset)", b, want)
	}
	if b.Build == nil || b.Build.Context != "../service" || b.Build.Dockerfile != "../service/cmd/notes/Dockerfile" || b.Build.Args["CMD"] != "./cmd/notes" {
		t.Errorf("build = %+v, want the paths resolved against the repository and CMD", b.Build)
	}
	n := c.Names()
	if n.RuntimeAccount("notes").ID != "gatehouse-notes-rt" || n.CloudRunService("notes") != "gatehouse-notes" {
		t.Error("backend account or service name changed")
	}
	if c, err := load(gcpOK, mapSource{}); err != nil || len(c.Backends) != 1 || c.Backends[0].Name != "v1" {
		t.Errorf("no backends key: %+v, %v; want /v1's entry", c.Backends, err)
	}
}

func TestBackendsBadEntries(t *testing.T) {
	tests := []struct{ raw, key string }{
		{`{"name":"notes"}`, "gatehouse:backends: must be a list"},
		{`[]`, "gatehouse:backends: must list at least one backend"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"colour":"red"}]`, `unknown field "colour"`},
		{`[{"name":"Notes","spec":"s.yaml","paths":["/v2/"]}]`, "gatehouse:backends[0].name"},
		{`[{"name":"averyveryverylongname","spec":"s.yaml","paths":["/v2/"]}]`, "gatehouse:backends[0].name"},
		{`[` + notesEntry + `,` + notesEntry + `]`, `gatehouse:backends[1].name: "notes" is used twice`},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"image":"europe-docker.pkg.dev/p/r/i:1","command":"./cmd/x"}]`, "gatehouse:backends[0].image: an existing image takes no"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"image":"not an image"}]`, "gatehouse:backends[0].image"},
		{`[{"name":"notes","spec":"../etc/passwd","paths":["/v2/"]}]`, "gatehouse:backends[0].spec"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"context":"/abs"}]`, "gatehouse:backends[0].context"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"command":"cmd/notes"}]`, "gatehouse:backends[0].command"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"command":"-toolexec=/bin/sh"}]`, "gatehouse:backends[0].command"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"command":"./cmd/../../x"}]`, "gatehouse:backends[0].command"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"]}]`, "gatehouse:backends[0].command: is required"}, // the Dockerfile's CMD has no default
		{`[{"name":"notes","spec":"s.yaml"}]`, "gatehouse:backends[0].paths: must list"},
		{`[{"name":"notes","spec":"s.yaml","paths":["v2"]}]`, "gatehouse:backends[0].paths"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"cpu":"lots"}]`, "gatehouse:backends[0].cpu"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"maxInstances":0}]`, "gatehouse:backends[0].maxInstances"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"minInstances":9,"maxInstances":3}]`, "gatehouse:backends[0].minInstances"},
		{`[{"name":"notes","spec":"s.yaml","paths":["/v2/"],"requestTimeout":"5s"}]`, "gatehouse:backends[0].requestTimeout: must be at least backendDeadline"},
	}
	for _, tt := range tests {
		_, err := load(gcpOK, mapSource{"backends": tt.raw})
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s: err = %v, want one containing %q", tt.raw, err, tt.key)
		}
	}
}

// TestFragments: the real notes fragment reads and renders; a path
// outside the prefixes, another backend's operation and a missing file
// fail naming the key.
func TestFragments(t *testing.T) {
	c, err := load(gcpOK, mapSource{"backends": "[" + notesEntry + "]"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Backends[0].Fragment) == 0 {
		t.Fatal("the fragment was not read")
	}
	p := c.Contract().Params(map[string]string{"notes": "https://n.a.run.app"}, "x.apigateway.p.cloud.goog")
	if len(p.Backends) != 1 || p.Backends[0].URL != "https://n.a.run.app" || len(p.Backends[0].Fragment) == 0 {
		t.Errorf("Contract().Params backends = %+v", p.Backends)
	}

	frag := "swagger: \"2.0\"\ninfo: {title: x, version: \"1\"}\npaths:\n  %s:\n    get: {operationId: x, responses: {\"200\": {description: ok}}}\n"
	tests := []struct {
		name    string
		content string // "" leaves the file out
		want    string
	}{
		{"outside the prefixes", strings.Replace(frag, "%s", "/v3/x", 1), "gatehouse:backends[0].paths: service/notes/openapi.yaml declares /v3/x, outside /v2/"},
		{"dot segments", strings.Replace(frag, "%s", "/v2/../v1/hello", 1), "is not a normalised absolute path"},
		{"missing file", "", "gatehouse:backends[0].spec: open"},
		{"not YAML", "paths: [unclosed", "gatehouse:backends[0].spec"},
		{"bad roles", strings.Replace(strings.Replace(frag, "%s", "/v2/x", 1), "operationId: x,", "operationId: x, x-gatehouse-roles: admin,", 1), "GET /v2/x: x-gatehouse-roles: must be a list of role names"},
	}
	for _, tt := range tests {
		repo := t.TempDir()
		if tt.content != "" {
			file := filepath.Join(repo, "service", "notes", "openapi.yaml")
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Load(gcpOK, mapSource{"backends": "[" + notesEntry + "]"}, repo); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	// A collision between two backends is caught by the dry-run render.
	_, err = load(gcpOK, mapSource{"backends": `[` + notesEntry + `,` + strings.Replace(notesEntry, `"notes"`, `"copy"`, 1) + `]`})
	if err == nil || !strings.Contains(err.Error(), "gatehouse:backends: ") || !strings.Contains(err.Error(), "backend copy: GET /v2/notes is also declared by backend notes") {
		t.Errorf("two backends with one fragment: %v", err)
	}
}

// A bad stack-wide setting is reported once, under its own key, not again
// under each entry that inherits it; an entry's own setting is checked
// with the stack's it combines with.
func TestBackendsInheritedSettings(t *testing.T) {
	_, err := load(gcpOK, mapSource{"cpu": "3"})
	if err == nil || !strings.Contains(err.Error(), `gatehouse:cpu: "3"`) || strings.Contains(err.Error(), "backends[0].cpu") {
		t.Errorf("cpu 3: %v, want one error under gatehouse:cpu", err)
	}
	_, err = load(gcpOK, mapSource{"cpu": "500m", "concurrency": "1", "backends": `[{"name":"v1","spec":"service/hello/openapi.yaml","paths":["/v1/"],"memory":"2Gi"}]`})
	if err == nil || !strings.Contains(err.Error(), "gatehouse:backends[0].memory: above 1Gi needs cpu of at least 1") {
		t.Errorf("an entry's memory with the stack's cpu: %v", err)
	}
}
