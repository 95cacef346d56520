package plan

import (
	"path/filepath"
	"testing"
)

// TestRealPlanTwoBackends: the two-backend example stack (Pulumi.v2.yaml)
// in the real engine: a second Cloud Run service with its own image,
// runtime account and invoker binding, one gateway. With closed sign-up
// and required verified emails, which reach Google's inputs as the real
// provider checks them: Identity Platform's
// client.permissions.disabledUserSignup, and REQUIRE_EMAIL_VERIFIED=true
// on every backend's Cloud Run service.
func TestRealPlanTwoBackends(t *testing.T) {
	needPulumi(t)
	p, out, err := runPlan(t, repoRoot(t), "-c", filepath.Join(repoRoot(t), "Pulumi.v2.yaml"),
		"gatehouse:allowSignUp=false", "gatehouse:requireVerifiedEmail=true")
	if err != nil || p == nil {
		t.Fatalf("plan failed: %v\n%s", err, out)
	}
	var signUp any
	verified := map[any]any{} // service name -> REQUIRE_EMAIL_VERIFIED
	got := map[string]int{}
	for _, s := range p.Steps {
		in := s.NewState.Inputs
		switch s.NewState.Type {
		case "gcp:identityplatform/config:Config":
			client, _ := in["client"].(map[string]any)
			perms, _ := client["permissions"].(map[string]any)
			signUp = perms["disabledUserSignup"]
		case "gcp:cloudrunv2/service:Service":
			tmpl, _ := in["template"].(map[string]any)
			containers, _ := tmpl["containers"].([]any)
			c, _ := containers[0].(map[string]any)
			envs, _ := c["envs"].([]any)
			for _, e := range envs {
				if m, _ := e.(map[string]any); m["name"] == "REQUIRE_EMAIL_VERIFIED" {
					verified[in["name"]] = m["value"]
				}
			}
		}
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
	if signUp != true || verified["gatehouse"] != "true" || verified["gatehouse-notes"] != "true" {
		t.Errorf("planned disabledUserSignup = %v, REQUIRE_EMAIL_VERIFIED by service = %v; want true, \"true\" on both", signUp, verified)
	}
	t.Logf("two-backend plan: %d resources", len(p.Steps))
}
