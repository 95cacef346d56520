package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// upgradeFrom is the last commit with the layout before "one list of
// backends" (/v1 the stack's own backend, further backends apart): the
// upgrade test plans today's program against the state a first deployment
// of that commit's program left.
const upgradeFrom = "81c0a1b85ffea52e1005673e05d109daf40658a5"

// upgradeStacks are the example stacks whose first deployment the fixtures
// hold, with the config they were planned with (an existing Firebase
// project: see TestRealPlanCodeChangeTouchesOnlyImageAndService).
var upgradeStacks = []string{"dev", "v2"}

var firebaseOff = []string{"gatehouse:manageFirebase=false", "gatehouse:firebaseProjectId=other-firebase-proj", "gatehouse:firebaseApiKey=AIzaStandIn"}

func upgradeFixture(t *testing.T, stack string) string {
	t.Helper()
	return filepath.Join(repoRoot(t), "infra", "plan", "testdata", "upgrade-from-"+upgradeFrom[:7], stack+".state.json")
}

// TestGenerateUpgradeFixtures writes the fixtures: the program of commit
// upgradeFrom, checked out of this repository's history, planned by the
// real engine from its own stack files and settled into the state of a
// first deployment (settledState). Run it only to regenerate them:
//
//	GATEHOUSE_PLAN_TEST=1 GATEHOUSE_UPGRADE_FIXTURES=1 go test -run TestGenerateUpgradeFixtures ./plan/
func TestGenerateUpgradeFixtures(t *testing.T) {
	if os.Getenv("GATEHOUSE_UPGRADE_FIXTURES") != "1" {
		t.Skip("regenerates the upgrade fixtures from git history: set GATEHOUSE_UPGRADE_FIXTURES=1")
	}
	needPulumi(t)
	old := t.TempDir()
	archive := exec.Command("bash", "-c", `git -C "$1" archive "$2" | tar -C "$3" -x`, "archive", repoRoot(t), upgradeFrom, old)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("check out %s: %v\n%s", upgradeFrom, err, out)
	}
	for _, stack := range upgradeStacks {
		conf := append([]string{"-c", filepath.Join(old, "Pulumi."+stack+".yaml")}, firebaseOff...)
		state, first := settledState(t, old, conf)
		b, err := os.ReadFile(state)
		if err != nil {
			t.Fatal(err)
		}
		file := upgradeFixture(t, stack)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d resources of a first deployment of %s written to %s", stack, len(first.Steps), upgradeFrom[:7], file)
	}
}
