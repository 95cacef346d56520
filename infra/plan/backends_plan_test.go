package plan

import (
	"path/filepath"
	"testing"
)

// TestRealPlanTwoBackends: the two-backend example stack (Pulumi.v2.yaml)
// in the real engine: a second Cloud Run service with its own image,
// runtime account and invoker binding, one gateway.
func TestRealPlanTwoBackends(t *testing.T) {
	needPulumi(t)
	p, out, err := runPlan(t, repoRoot(t), "-c", filepath.Join(repoRoot(t), "Pulumi.v2.yaml"))
	if err != nil || p == nil {
		t.Fatalf("plan failed: %v\n%s", err, out)
	}
	got := map[string]int{}
	for _, s := range p.Steps {
		got[s.NewState.Type]++
		if s.NewState.Type == "gcp:cloudrunv2/service:Service" && s.NewState.Inputs["name"] == "gatehouse-notes" {
			tmpl, _ := s.NewState.Inputs["template"].(map[string]any)
			if sa := tmpl["serviceAccount"]; sa != unknown && sa != "gatehouse-notes-rt@my-gcp-project-id.iam.gserviceaccount.com" {
				t.Errorf("notes runs as %v", sa)
			}
		}
	}
	want := map[string]int{}
	for typ, n := range wantTypes {
		want[typ] = n
	}
	want["gatehouse:components:SecureBackend"]++
	want["gcp:cloudrunv2/service:Service"]++
	want["gcp:cloudrunv2/serviceIamMember:ServiceIamMember"]++
	want["gcp:serviceaccount/account:Account"]++
	want["docker:index/image:Image"]++
	for typ, n := range want {
		if got[typ] != n {
			t.Errorf("%d × %s planned, want %d", got[typ], typ, n)
		}
	}
	t.Logf("two-backend plan: %d resources", len(p.Steps))
}
