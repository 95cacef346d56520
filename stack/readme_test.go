package stack

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's configuration table from Pulumi.yaml")

const (
	readmePath  = "../README.md"
	tableStart  = "<!-- config-table:start (generated from Pulumi.yaml: go test ./stack -update-readme) -->"
	tableEnd    = "<!-- config-table:end -->"
	projectFile = "../Pulumi.yaml"
)

// configTable renders Pulumi.yaml's config block as a Markdown table, in the
// file's order.
func configTable(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(projectFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var config *yaml.Node
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "config" {
			config = root.Content[i+1]
		}
	}
	if config == nil {
		t.Fatal("Pulumi.yaml has no config block")
	}
	var sb strings.Builder
	sb.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	sb.WriteString("| `gcp:project` | string | (required) | The GCP project to deploy into. |\n")
	sb.WriteString("| `gcp:region` | string | (required) | Region for Cloud Run, Artifact Registry and the gateway; one of " +
		"`" + strings.Join(sorted(GatewayRegions), "`, `") + "`. |\n")
	for i := 0; i+1 < len(config.Content); i += 2 {
		key := config.Content[i].Value
		var c struct {
			Type        string `yaml:"type"`
			Default     any    `yaml:"default"`
			Description string `yaml:"description"`
		}
		if err := config.Content[i+1].Decode(&c); err != nil {
			t.Fatal(err)
		}
		def := fmt.Sprint(c.Default)
		switch v := c.Default.(type) {
		case []any:
			def = "[]"
			if len(v) > 0 {
				js, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				def = string(js)
			}
		case string:
			if v == "" {
				def = `""`
			}
		}
		fmt.Fprintf(&sb, "| `%s:%s` | %s | `%s` | %s |\n", Namespace, key, c.Type, def, c.Description)
	}
	return sb.String()
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestREADMEConfigTable fails when the README's configuration reference and
// Pulumi.yaml drift apart.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, tableStart), strings.Index(s, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", tableStart, tableEnd)
	}
	want := configTable(t)
	got := s[i+len(tableStart)+1 : j]
	if got == want {
		return
	}
	if *updateReadme {
		s = s[:i+len(tableStart)+1] + want + s[j:]
		if err := os.WriteFile(readmePath, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's configuration table differs from Pulumi.yaml; run: go test ./stack -update-readme\ngot:\n%s\nwant:\n%s", got, want)
}
