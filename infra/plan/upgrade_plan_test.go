package plan

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// upgradeFrom is the last commit with the layout before "one list of
// backends" (/v1 the stack's own backend, further backends apart): the
// upgrade test plans today's program against the state a first deployment
// of that commit's program left.
const upgradeFrom = "81c0a1b85ffea52e1005673e05d109daf40658a5"

// upgradeStacks are the example stacks whose first deployment the fixtures
// hold, with the config they were planned with (an existing Firebase
// project: see firebaseOff).
var upgradeStacks = []string{"dev", "v2"}

// firebaseOff is the config of the plans that preview against a state: an
// existing Firebase project. With Firebase managed, the program reads the
// web app's config (firebase.getWebAppConfig); once the app id is known,
// from the state, that read runs during preview and needs Google. What
// these plans check does not depend on it.
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
//
// (or GATEHOUSE_UPGRADE_FIXTURES=bootstrap for one of them).
func TestGenerateUpgradeFixtures(t *testing.T) {
	which := os.Getenv("GATEHOUSE_UPGRADE_FIXTURES") // 1: all; else a comma-separated list (dev,v2,bootstrap)
	if which == "" {
		t.Skip("regenerates the upgrade fixtures from git history: set GATEHOUSE_UPGRADE_FIXTURES=1")
	}
	want := func(stack string) bool { return which == "1" || slices.Contains(strings.Split(which, ","), stack) }
	needPulumi(t)
	old := t.TempDir()
	archive := exec.Command("bash", "-c", `git -C "$1" archive "$2" | tar -C "$3" -x`, "archive", repoRoot(t), upgradeFrom, old)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("check out %s: %v\n%s", upgradeFrom, err, out)
	}
	for _, stack := range upgradeStacks {
		if want(stack) {
			conf := append([]string{"-c", filepath.Join(old, "Pulumi."+stack+".yaml")}, firebaseOff...)
			writeFixture(t, stack, old, conf)
		}
	}
	// The CI bootstrap, from its example stack, with a further backend.
	if want("bootstrap") {
		boot := filepath.Join(old, "infra", "bootstrap")
		writeFixture(t, "bootstrap", boot, []string{"-n", "-c", filepath.Join(boot, "Pulumi.example.yaml"), "gatehouse-bootstrap:backends[0]=notes"})
	}
}

// writeFixture settles the first deployment of project planned with conf
// and writes it as the fixture of stack.
func writeFixture(t *testing.T, stack, project string, conf []string) {
	t.Helper()
	state, first := settledState(t, project, conf)
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

// stepsByOp lists the resources (type and name) of a plan's steps by
// operation, but "same"; custom says whether each is a cloud resource (not
// a component, which exists in the state alone).
func stepsByOp(p *preview) (names map[string][]string, custom map[string]bool) {
	names, custom = map[string][]string{}, map[string]bool{}
	for _, s := range p.Steps {
		if s.Op == "same" {
			continue
		}
		typ, isCustom := s.NewState.Type, s.NewState.Custom
		if typ == "" { // a delete has only its old state
			typ, isCustom = s.OldState.Type, s.OldState.Custom
		}
		r := typ + " " + s.URN[strings.LastIndex(s.URN, "::")+2:]
		names[s.Op] = append(names[s.Op], r)
		custom[r] = isCustom
	}
	for _, n := range names {
		sort.Strings(n)
	}
	return names, custom
}

// replaced is true for the operations that create or delete a resource
// (a replacement is both).
func replaced(op string) bool {
	switch op {
	case "create", "delete", "replace", "create-replacement", "delete-replaced", "discard", "import":
		return true
	}
	return false
}

// TestRealPlanUpgradeInPlace: a stack deployed with the layout before one
// list of backends (commit upgradeFrom: /v1 the stack's own backend) runs
// today's program and the real engine plans no create, delete or
// replacement of anything but the API config: aliases keep the Pulumi
// names, stack.Names the Google ones, and nothing else changes but the
// gateway's pointer to its new config. The API config is replaced because
// the document changed (every operation routed by its own backend; tokens
// from the Authorization header only), which is how any change of the
// document deploys: create-before-delete.
func TestRealPlanUpgradeInPlace(t *testing.T) {
	needPulumi(t)
	t.Parallel() // its own copy of the checkout (copyProject)
	dst := copyProject(t)
	for _, stack := range upgradeStacks {
		t.Run(stack, func(t *testing.T) {
			conf := append([]string{"-s", upgradeFixture(t, stack), "-c", filepath.Join(dst, "Pulumi."+stack+".yaml")}, firebaseOff...)
			p, out, err := runPlan(t, dst, conf...)
			if err != nil || p == nil {
				t.Fatalf("plan against %s's first deployment: %v\n%s", upgradeFrom[:7], err, out)
			}
			names, custom := stepsByOp(p)
			for op, n := range names {
				for _, r := range n {
					// Components are logical: a new one (the image repository's)
					// creates nothing in Google. The API's managed service left
					// the program (#24: enabling it needs a permission no
					// deployer holds, and only API keys and quotas use it); its
					// delete only drops it from the state (stateOnlyDelete).
					if op == "delete" && r == managedService {
						stateOnlyDelete(t, upgradeFixture(t, stack), "gateway-managed-service")
						continue
					}
					if replaced(op) && custom[r] && !strings.HasPrefix(r, "gcp:apigateway/apiConfig:ApiConfig ") {
						t.Errorf("upgrade plans %s %s", op, r)
					}
				}
			}
			got := changed(p)
			// The document changed, so the config is replaced and the gateway
			// moves to it. Updates in place of a backend's image and Cloud Run
			// service follow a change to its code since upgradeFrom, as any
			// code change deploys; nothing else may change.
			for _, c := range got {
				switch {
				case c == "replace gcp:apigateway/apiConfig:ApiConfig gateway-config [apiConfigId displayName openapiDocuments[0].document.contents]",
					c == "update gcp:apigateway/gateway:Gateway gateway-gateway [apiConfig]",
					strings.HasPrefix(c, "create gatehouse:components:"),
					strings.Fields(c)[0] == "delete" && strings.Fields(c)[1] == "gateway-managed-service",
					strings.HasPrefix(c, "update docker:index/image:Image "),
					strings.HasPrefix(c, "update gcp:cloudrunv2/service:Service "):
				default:
					t.Errorf("the upgrade plans %s", c)
				}
			}
			if !slices.Contains(got, "replace gcp:apigateway/apiConfig:ApiConfig gateway-config [apiConfigId displayName openapiDocuments[0].document.contents]") {
				t.Errorf("the new document does not replace the API config: %v", got)
			}
			fmt.Printf("upgrade in place (%s, the state of %s's first deployment): %v; changes: %v\n", stack, upgradeFrom[:7], p.ChangeSummary, got)
		})
	}
}

// managedService is the API's managed service as stepsByOp names it.
const managedService = "gcp:projects/service:Service gateway-managed-service"

// stateOnlyDelete fails unless the resource name in the state file was
// created with disableOnDestroy false: the gcp provider's delete of a
// projects.Service then disables nothing in Google ("disable_on_destroy -
// (Optional) If true or unset, disable the service when the Terraform
// resource is destroyed", registry.terraform.io google_project_service), so
// dropping it from the program only drops it from the state.
func stateOnlyDelete(t *testing.T, stateFile, name string) {
	t.Helper()
	for _, r := range readState(t, stateFile) {
		if strings.HasSuffix(r.URN, "::"+name) {
			if v, ok := r.Inputs["disableOnDestroy"].(bool); !ok || v {
				t.Errorf("%s is deleted and was created with disableOnDestroy %v: its delete would disable it in Google", name, r.Inputs["disableOnDestroy"])
			}
			return
		}
	}
	t.Errorf("%s: no resource %s", stateFile, name)
}

// bootstrapUpgrade is every change the upgrade of upgradeFrom's bootstrap
// may plan: #24's, and nothing else. The CI accounts, the pool and the
// state bucket stay; the grants change: custom roles instead of
// roles/firebase.admin, identitytoolkit.admin, firebase.viewer and
// serviceUsageConsumer; the accounts' Workload Identity bindings name the
// new principal sets (replaced: member is immutable); the provider maps
// attributes instead of trusting sub; Firebase is added by the owner.
var bootstrapUpgrade = []string{
	"create gcp:firebase/project:Project ci-firebase",
	"create gcp:projects/iAMCustomRole:IAMCustomRole ci-deployer-role",
	"create gcp:projects/iAMCustomRole:IAMCustomRole ci-previewer-role",
	"create gcp:projects/iAMMember:IAMMember ci-deployer-custom",
	"create gcp:projects/iAMMember:IAMMember ci-previewer-custom",
	"create gcp:projects/service:Service ci-apis-firebase",
	"delete ci-deployer-firebase-admin",
	"delete ci-deployer-identitytoolkit-admin",
	"delete ci-previewer-firebase-viewer",
	"delete ci-previewer-serviceusage-serviceUsageConsumer",
	"replace gcp:serviceaccount/iAMMember:IAMMember ci-deployer-wif",
	"replace gcp:serviceaccount/iAMMember:IAMMember ci-previewer-wif",
	"update gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider ci-github",
	"update gcp:serviceaccount/account:Account ci-deployer",
}

// TestRealPlanBootstrapUpgradeInPlace: the CI bootstrap of commit
// upgradeFrom (with a further backend), upgraded to today's program (its CI
// code moved out of the main stack's components, its accounts from the one
// table): the real engine plans #24's changes of grants and sign-in and
// nothing else; no account, pool or bucket is replaced or deleted.
func TestRealPlanBootstrapUpgradeInPlace(t *testing.T) {
	needPulumi(t)
	dir := filepath.Join(repoRoot(t), "infra", "bootstrap")
	p, out, err := runPlan(t, dir, "-s", upgradeFixture(t, "bootstrap"), "-n", "-c", filepath.Join(dir, "Pulumi.example.yaml"), "gatehouse-bootstrap:backends[0]=notes")
	if err != nil || p == nil {
		t.Fatalf("plan against %s's bootstrap: %v\n%s", upgradeFrom[:7], err, out)
	}
	// Every step that changes anything, replacements and deletions too, is
	// in the exact list (changed).
	var got []string
	for _, c := range changed(p) {
		got = append(got, strings.Join(strings.Fields(c[:strings.LastIndex(c, " [")]), " "))
	}
	if !slices.Equal(got, bootstrapUpgrade) {
		t.Errorf("the bootstrap's upgrade plans\n  %s\nwant #24's changes only:\n  %s", strings.Join(got, "\n  "), strings.Join(bootstrapUpgrade, "\n  "))
	}
	fmt.Printf("bootstrap upgrade in place (the state of %s's): %v\n", upgradeFrom[:7], p.ChangeSummary)
}
