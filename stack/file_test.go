package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadFile: a stack file's config as the program reads it: plain
// values as they are, structured ones as JSON, secure ones left out (and
// listed); a missing file is an error naming it.
func TestReadFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "Pulumi.x.yaml")
	content := `encryptionsalt: v1:abc
config:
  gcp:project: my-project-1
  gcp:region: europe-west1
  gatehouse:maxInstances: 4
  gatehouse:deletionProtection: true
  gatehouse:corsOrigins: [https://app.example.com]
  gatehouse:firebaseApiKey:
    secure: v1:xyz
  gatehouse:backends:
    - {name: v1, command: ./cmd/hello, spec: service/hello/openapi.yaml, paths: [/v1/]}
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	own, gcp := f.Namespace(Namespace), f.Namespace("gcp")
	for key, want := range map[string]string{
		"maxInstances": "4", "deletionProtection": "true", "corsOrigins": `["https://app.example.com"]`, "firebaseApiKey": "",
		"backends": `[{"command":"./cmd/hello","name":"v1","paths":["/v1/"],"spec":"service/hello/openapi.yaml"}]`,
	} {
		if got := own.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if gcp.Get("project") != "my-project-1" || strings.Join(f.Secure(), ",") != "gatehouse:firebaseApiKey" {
		t.Errorf("gcp:project %q, secure %v", gcp.Get("project"), f.Secure())
	}
	c, err := LoadFile(file, "..")
	if err != nil || c.Defaults.MaxInstances != 4 || !c.DeletionProtection || len(c.Backends) != 1 {
		t.Errorf("LoadFile = %+v, %v", c, err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "Pulumi.V2.yaml")); err == nil || !strings.Contains(err.Error(), "Pulumi.V2.yaml") {
		t.Errorf("missing file: %v", err)
	}
}
