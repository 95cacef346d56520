package plan

import (
	"path/filepath"
	"strings"
	"testing"
)

// The CI bootstrap program (infra/bootstrap), planned by the real engine
// from its example stack file, with a state bucket.
var wantBootstrapTypes = map[string]int{
	"pulumi:pulumi:Stack":                                               1,
	"pulumi:providers:gcp":                                              1,
	"gatehouse:components:CIAccess":                                     1,
	"gatehouse:components:ProjectServices":                              1,
	"gcp:projects/service:Service":                                      8, // 5 bootstrap APIs + storage + firebase + identitytoolkit
	"gcp:iam/workloadIdentityPool:WorkloadIdentityPool":                 1,
	"gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": 1,
	"gcp:serviceaccount/account:Account":                                4, // deployer, previewer, the stack's runtime and gateway
	"gcp:serviceaccount/iAMMember:IAMMember":                            4, // 2 workload identity users, 2 actAs
	"gcp:projects/iAMMember:IAMMember":                                  6, // the deployer's 4 predefined roles and its custom role, the previewer's custom role
	"gcp:projects/iAMCustomRole:IAMCustomRole":                          2, // the deployer's (Firebase's single permissions) and the previewer's (read-only)
	"gcp:firebase/project:Project":                                      1, // Firebase added by the owner
	"gcp:storage/bucket:Bucket":                                         1,
	"gcp:storage/bucketIAMMember:BucketIAMMember":                       2, // deployer read-write, previewer read (a preview takes no lock)
	"gcp:identityplatform/config:Config":                                1,
}

func bootstrapPlan(t *testing.T, config ...string) (*preview, string, error) {
	dir := filepath.Join(repoRoot(t), "infra", "bootstrap")
	args := append([]string{"-c", filepath.Join(dir, "Pulumi.example.yaml"), "-n"}, config...)
	return runPlan(t, dir, args...)
}

func TestRealBootstrapPlan(t *testing.T) {
	needPulumi(t)
	p, out, err := bootstrapPlan(t, "gatehouse-bootstrap:stateBucket=my-gcp-project-id-pulumi-state")
	if err != nil || p == nil {
		t.Fatalf("bootstrap plan failed: %v\n%s", err, out)
	}
	got := map[string]int{}
	for _, s := range p.Steps {
		if s.Op != "create" {
			t.Errorf("%s: op %s on a fresh stack", s.URN, s.Op)
		}
		got[s.NewState.Type]++
		if s.NewState.Custom && s.NewState.Type != "pulumi:providers:gcp" && !strings.Contains(s.Provider, "pulumi:providers:gcp::gcp::") {
			t.Errorf("%s uses provider %q, want the program's explicit one", s.URN, s.Provider)
		}
		in := s.NewState.Inputs
		role, _ := in["role"].(string)
		switch s.NewState.Type {
		case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
			if c := in["attributeCondition"]; c != "assertion.repository == 'OWNER/REPO' && assertion.repository_id == '123456789'" {
				t.Errorf("provider condition %v, want the repository pinned by name and id", c)
			}
			m, _ := in["attributeMapping"].(map[string]any)
			if subj, _ := m["google.subject"].(string); subj == "" || strings.Contains(subj, "assertion.sub") {
				t.Errorf("google.subject mapped from %q, want claims of bounded length (a mapped subject holds 127 bytes)", subj)
			}
		case "gcp:projects/iAMMember:IAMMember":
			if strings.HasPrefix(role, "roles/iam.") || role == "roles/owner" || role == "roles/editor" || role == "roles/viewer" {
				t.Errorf("project-level %s planned", role)
			}
		case "gcp:storage/bucket:Bucket":
			v, _ := in["versioning"].(map[string]any)
			if in["uniformBucketLevelAccess"] != true || in["publicAccessPrevention"] != "enforced" || v["enabled"] != true {
				t.Errorf("state bucket inputs %v", in)
			}
		}
	}
	for typ, n := range wantBootstrapTypes {
		if got[typ] != n {
			t.Errorf("%d × %s planned, want %d", got[typ], typ, n)
		}
	}
	for typ := range got {
		if _, ok := wantBootstrapTypes[typ]; !ok {
			t.Errorf("unexpected resource type %s planned", typ)
		}
	}
}

// The negative: a bad repository fails in the real engine with the
// program's message and plans nothing.
func TestRealBootstrapPlanBadConfig(t *testing.T) {
	needPulumi(t)
	p, out, err := bootstrapPlan(t, "gatehouse-bootstrap:githubRepository=not-a-repository")
	if err == nil {
		t.Fatal("bootstrap plan passed with a bad repository")
	}
	if !strings.Contains(out, `gatehouse-bootstrap:githubRepository: "not-a-repository" is not OWNER/REPO`) {
		t.Errorf("output lacks the config error:\n%s", out)
	}
	if p != nil {
		for _, s := range p.Steps {
			if s.NewState.Type != "pulumi:pulumi:Stack" {
				t.Errorf("planned despite bad config: %s", s.URN)
			}
		}
	}
}
