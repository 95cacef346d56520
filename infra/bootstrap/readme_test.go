package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/infra/components"
)

// TestREADMEListsRolesAndOutputs keeps the README's CI section in step with
// the code: every deployer role with its reason, every output the
// workflows read, and the workflows reading exactly those variables.
func TestREADMEListsRolesAndOutputs(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## CI/CD on GitHub")
	if start < 0 {
		t.Fatal("README has no CI/CD section")
	}
	section := readme[start:]
	section = section[:strings.Index(section[1:], "\n## ")+1]
	for _, g := range components.DeployerRoles {
		if !strings.Contains(section, "- `"+g.Role+"`: "+g.Reason+".") {
			t.Errorf("README's CI section lacks %s with its reason", g.Role)
		}
	}
	for _, g := range components.FirebaseDeployerRoles {
		if !strings.Contains(section, "  - `"+g.Role+"`: "+g.Reason+".") {
			t.Errorf("README's CI section lacks %s with its reason", g.Role)
		}
	}
	outputs := []string{"GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_DEPLOY_SERVICE_ACCOUNT", "GCP_PREVIEW_SERVICE_ACCOUNT", "PULUMI_BACKEND_URL"}
	for _, o := range outputs {
		if !strings.Contains(section, o) {
			t.Errorf("README's CI section does not name output %s", o)
		}
	}
	for file, vars := range map[string][]string{
		"../../.github/workflows/deploy.yml":  {"vars.GCP_WORKLOAD_IDENTITY_PROVIDER", "vars.GCP_DEPLOY_SERVICE_ACCOUNT", "vars.PULUMI_BACKEND_URL"},
		"../../.github/workflows/preview.yml": {"vars.GCP_WORKLOAD_IDENTITY_PROVIDER", "vars.GCP_PREVIEW_SERVICE_ACCOUNT", "vars.PULUMI_BACKEND_URL"},
	} {
		wf, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vars {
			if !strings.Contains(string(wf), v) {
				t.Errorf("%s does not read %s", file, v)
			}
		}
		if strings.Contains(string(wf), "GCP_DEPLOY_SERVICE_ACCOUNT") && strings.Contains(file, "preview") {
			t.Errorf("%s previews as the deployer", file)
		}
	}
}
