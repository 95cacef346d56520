package plan

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// makePlan runs `make plan STACK=stack` in a copy of the checkout whose
// stack file is content, and returns everything it printed and its error.
func makePlan(t *testing.T, stack, content string) (string, error) {
	t.Helper()
	dst := copyProject(t)
	if err := os.WriteFile(filepath.Join(dst, "Pulumi."+stack+".yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "--no-print-directory", "plan", "STACK="+stack)
	cmd.Dir = dst
	// The copy's own Docker daemon keeps its images in a temp dir.
	cmd.Env = append(os.Environ(), "GATEHOUSE_DOCKER_CACHE="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMakePlanUsesTheStackFile: `make plan` previews the stack's own file,
// STACK=dev too: a setting the program refuses there fails the plan with
// the program's message, naming the key. The file's encryption salt and
// secure values, which the throw-away stack cannot decrypt, are left out
// (the plan would otherwise fail on them), and the output says which file
// and project were planned.
func TestMakePlanUsesTheStackFile(t *testing.T) {
	needPulumi(t)
	dev, err := os.ReadFile(filepath.Join(repoRoot(t), "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	salted := "encryptionsalt: v1:c2FsdA==:v1:bm9uY2U=:Y2lwaGVydGV4dA==\n" + string(dev) +
		"  gatehouse:firebaseApiKey:\n    secure: v1:bm9uY2U=:Y2lwaGVydGV4dA==\n"
	out, err := makePlan(t, "dev", salted+"  gatehouse:cpu: \"3\"\n")
	if err == nil {
		t.Fatalf("make plan passed with gatehouse:cpu \"3\" in Pulumi.dev.yaml:\n%s", out)
	}
	for _, want := range []string{`gatehouse:cpu: "3" must be 1, 2, 4, 6 or 8`, "planning Pulumi.dev.yaml (project my-gcp-project-id)",
		"left out: encryptionsalt, gatehouse:firebaseApiKey (secure)"} {
		if !strings.Contains(out, want) {
			t.Errorf("make plan's output lacks %q:\n%s", want, out)
		}
	}
}

// TestREADMEResourceCount keeps the README's "N resources to create" equal
// to the real plan of the dev stack, as `make plan` prints it, with the
// summary of every resource by type, name and parent at its end.
func TestREADMEResourceCount(t *testing.T) {
	needPulumi(t)
	dev, err := os.ReadFile(filepath.Join(repoRoot(t), "Pulumi.dev.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := makePlan(t, "dev", string(dev))
	if err != nil {
		t.Fatalf("make plan: %v\n%s", err, out)
	}
	// Nothing a new user would take for a problem: the Google provider's
	// region lookup, which uses Application Default Credentials whatever the
	// stack says, is skipped (PULUMI_GCP_SKIP_REGION_VALIDATION).
	for _, noise := range []string{"could not find default credentials", "failed to get regions list"} {
		if strings.Contains(out, noise) {
			t.Errorf("make plan printed %q:\n%s", noise, out)
		}
	}
	m := regexp.MustCompile(`\+ (\d+) to create`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("make plan printed no count of resources to create:\n%s", out)
	}
	n, _ := strconv.Atoi(m[1])
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("(%d resources to create)", n); !strings.Contains(string(readme), want) {
		t.Errorf("README.md lacks %q: the dev stack's plan has %d resources to create", want, n)
	}
	// The summary: one line per resource, under its parent.
	for _, want := range []string{"TYPE", "NAME", "PARENT", "gcp:cloudrunv2/service:Service", "backend-v1-service", "backend-v1"} {
		if !strings.Contains(out, want) {
			t.Errorf("make plan's summary lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out[strings.LastIndex(out, "TYPE"):], "\n"); lines < n {
		t.Errorf("the summary has %d lines for %d resources", lines, n)
	}
}
