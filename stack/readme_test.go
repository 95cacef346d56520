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

	"github.com/gatehouse/gatehouse/spec"
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
		case nil:
			def = "(unset)"
		}
		if c.Default != nil {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&sb, "| `%s:%s` | %s | %s | %s |\n", Namespace, key, c.Type, def, c.Description)
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
	replaceREADMEBlock(t, tableStart, tableEnd, configTable(t))
}

const (
	callsStart = "<!-- example-calls:start (generated from Pulumi.v2.yaml's fragments: go test ./stack -update-readme) -->"
	callsEnd   = "<!-- example-calls:end -->"
)

// TestREADMEExampleCalls keeps the README's example calls equal to what
// the twin's banner prints for Pulumi.v2.yaml (spec.ExampleLines of each
// backend's fragment), so that a changed fragment changes them.
func TestREADMEExampleCalls(t *testing.T) {
	c, err := LoadFile("../Pulumi.v2.yaml", "..")
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("```sh\n")
	for _, b := range c.Backends {
		lines, err := spec.ExampleLines(b.Fragment, "http://127.0.0.1:8080")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "# %s (%s)\n%s\n", b.Name, b.Spec, strings.Join(lines, "\n"))
	}
	sb.WriteString("```\n")
	replaceREADMEBlock(t, callsStart, callsEnd, sb.String())
}

// replaceREADMEBlock checks the README's text between the start and end
// markers against want, or with -update-readme writes it.
func replaceREADMEBlock(t *testing.T, start, end, want string) {
	t.Helper()
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", start, end)
	}
	if got := s[i+len(start)+1 : j]; got == want {
		return
	} else if !*updateReadme {
		t.Errorf("README.md's block %s differs; run: go test ./stack -update-readme\ngot:\n%s\nwant:\n%s", start, got, want)
		return
	}
	s = s[:i+len(start)+1] + want + s[j:]
	if err := os.WriteFile(readmePath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
