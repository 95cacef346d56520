package main

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/infra/components"
)

var updateReadme = flag.Bool("update-readme", false, "rewrite the README's deployer role list from the components' needs")

const (
	rolesStart = "<!-- deployer-roles:start (generated from the components' Needs: go test ./infra/bootstrap -update-readme) -->"
	rolesEnd   = "<!-- deployer-roles:end -->"
)

// roleList renders what the CI accounts hold, each with its reason: the
// deployer's predefined project roles (the union of the main stack's
// components' needs, what this program grants), then the permissions of
// its custom role and of the previewer's, each with the call that needs it.
func roleList() string {
	var b strings.Builder
	base, fb := deployNeeds(false), deployNeeds(true)
	b.WriteString("The deployer's project roles:\n\n")
	for _, g := range base.DeployRoles {
		b.WriteString("- `" + g.Role + "`: " + g.Reason + ".\n")
	}
	for _, g := range fb.DeployRoles {
		if !hasRole(base.DeployRoles, g.Role) {
			b.WriteString("- `" + g.Role + "` (with `manageFirebase`): " + g.Reason + ".\n")
		}
	}
	b.WriteString("- its custom role `" + CustomRoleID("SERVICE", "deployer") + "` (with `manageFirebase`, the default), instead of `roles/firebase.admin` and `roles/identitytoolkit.admin`:\n")
	for _, p := range fb.DeployPermissions {
		b.WriteString("  - `" + p.Name + "`: " + p.Reason + ".\n")
	}
	b.WriteString("\nThe previewer's custom role `" + CustomRoleID("SERVICE", "previewer") + "`, its only project role (read-only):\n\n")
	for _, p := range fb.PreviewPermissions {
		suffix := ""
		if !slices.ContainsFunc(base.PreviewPermissions, func(q components.Permission) bool { return q.Name == p.Name }) {
			suffix = " (with `manageFirebase`)"
		}
		b.WriteString("- `" + p.Name + "`" + suffix + ": " + p.Reason + ".\n")
	}
	return b.String()
}

func hasRole(grants []components.Grant, role string) bool {
	for _, g := range grants {
		if g.Role == role {
			return true
		}
	}
	return false
}

// TestREADMEListsRolesAndOutputs keeps the README's CI section in step with
// the code: the deployer's roles with their reasons (generated), every
// output the workflows read, and the workflows reading exactly those
// variables.
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
	i, j := strings.Index(readme, rolesStart), strings.Index(readme, rolesEnd)
	if i < start || j < i || j > start+len(section) {
		t.Fatalf("README's CI section lacks the %q ... %q markers", rolesStart, rolesEnd)
	}
	if got, want := readme[i+len(rolesStart)+1:j], roleList(); got != want {
		if *updateReadme {
			if err := os.WriteFile("../../README.md", []byte(readme[:i+len(rolesStart)+1]+want+readme[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Errorf("README's deployer roles differ from the components' needs; run: go test ./infra/bootstrap -update-readme\ngot:\n%s\nwant:\n%s", got, want)
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
