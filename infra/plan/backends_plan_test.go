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
		// The service's account email is unknown until apply; the planned
		// account and service are named as the two-backend stack names them.
		if s.NewState.Type == "gcp:serviceaccount/account:Account" && s.NewState.Inputs["accountId"] == "gatehouse-notes-rt" {
			got["notes account"]++
		}
		if s.NewState.Type == "gcp:cloudrunv2/service:Service" && s.NewState.Inputs["name"] == "gatehouse-notes" {
			got["notes service"]++
		}
	}
	if got["notes account"] != 1 || got["notes service"] != 1 {
		t.Errorf("notes account planned %d times, notes service %d times; want once each", got["notes account"], got["notes service"])
	}
	delete(got, "notes account")
	delete(got, "notes service")
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
