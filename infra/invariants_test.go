package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/infra/internal/invariants"
	pt "github.com/gatehouse/gatehouse/infra/internal/pulumitest"
)

// The stack's security invariants (infra/internal/invariants, the one set
// both programs run) on the real graph, and each on a graph with one
// violation planted: the check must fail.
func TestSecurityInvariants(t *testing.T) {
	res := run(t, devConfig(t), "1111111111111111111111111111111111111111111111111111111111111111")
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	good := res.Resources()
	if err := invariants.Run(good); err != nil {
		t.Errorf("invariants fail on the real graph: %v", err)
	}
	// What the invariants speak of is there: they do not hold vacuously.
	for typ, n := range map[string]int{tRunService: 1, tRunIamMember: 1, tApiConfig: 1, tRepo: 1, tAccount: 2} {
		if got := len(pt.ByType(good, typ)); got != n {
			t.Errorf("%d × %s in the graph, want %d", got, typ, n)
		}
	}
	plantViolations(t, good)
}

// plantViolations plants one violation of each main-stack invariant in
// good and checks that it fails.
func plantViolations(t *testing.T, good []registered) {
	t.Helper()
	runtime := "serviceAccount:" + pt.ByType(good, tRunService)[0].Str("template.serviceAccount")
	gateway := pt.ByType(good, tApiConfig)[0].Str("gatewayConfig.backendConfig.googleServiceAccount")
	plus := pt.Plus
	violations := []struct {
		invariant string
		name      string
		graph     []registered
	}{
		{"invoker", "invoker is allUsers", pt.Edit(t, good, tRunIamMember, "", func(m map[string]any) { m["member"] = "allUsers" })},
		{"invoker", "invoker is the runtime SA", pt.Edit(t, good, tRunIamMember, "", func(m map[string]any) { m["member"] = runtime })},
		{"invoker", "invoker on another service", pt.Edit(t, good, tRunIamMember, "", func(m map[string]any) { m["name"] = "other-service" })},
		{"invoker", "second invoker", plus(good, tRunIamMember, "extra", map[string]any{"role": "roles/run.invoker", "member": "user:someone@example.com", "name": "gatehouse", "location": "europe-west1"})},
		{"invoker", "project-level invoker", plus(good, invariants.ProjectMember, "proj-invoker", map[string]any{"role": "roles/run.invoker", "member": "serviceAccount:x@p.iam.gserviceaccount.com"})},
		{"invoker", "service without its invoker", pt.Without(good, func(r registered) bool { return r.Type == tRunIamMember })},
		{"backend checks its invoker", "GATEWAY_SERVICE_ACCOUNT names another account", pt.Edit(t, good, tRunService, "", func(m map[string]any) {
			setEnv(m, "GATEWAY_SERVICE_ACCOUNT", "someone-else@p.iam.gserviceaccount.com")
		})},
		{"backend checks its invoker", "GATEWAY_SERVICE_ACCOUNT unset", pt.Edit(t, good, tRunService, "", func(m map[string]any) {
			setEnv(m, "GATEWAY_SERVICE_ACCOUNT", "")
		})},
		{"no public members", "allAuthenticatedUsers on the service", plus(good, tRunIamMember, "public", map[string]any{"role": "roles/run.viewer", "member": "allAuthenticatedUsers"})},
		{"no public members", "allUsers binding", plus(good, "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding", "b", map[string]any{"role": "roles/run.invoker", "members": []any{"allUsers"}})},
		{"dedicated runtime SA", "default compute SA", pt.Edit(t, good, tRunService, "", func(m map[string]any) {
			m["template"].(map[string]any)["serviceAccount"] = "123456789-compute@developer.gserviceaccount.com"
		})},
		{"dedicated runtime SA", "runs as the gateway SA", pt.Edit(t, good, tRunService, "", func(m map[string]any) {
			m["template"].(map[string]any)["serviceAccount"] = gateway
		})},
		{"dedicated runtime SA", "runtime SA with a project role", plus(good, invariants.ProjectMember, "runtime-role", map[string]any{"role": "roles/storage.admin", "member": runtime})},
		{"no basic roles", "editor grant", plus(good, invariants.ProjectMember, "editor", map[string]any{"role": "roles/editor", "member": "user:a@example.com"})},
		{"no basic roles", "owner inside a policy", plus(good, "gcp:projects/iAMPolicy:IAMPolicy", "policy", map[string]any{"policyData": `{"bindings":[{"role":"roles/owner","members":["user:a@example.com"]}]}`})},
		{"repository private", "public repository", plus(good, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "pub", map[string]any{"role": "roles/artifactregistry.reader", "member": "allUsers"})},
		{"repository private", "a second repository", plus(good, tRepo, "other-repo", map[string]any{"repositoryId": "other"})},
		{"api config backend SA", "backend auth as runtime SA", pt.Edit(t, good, tApiConfig, "", func(m map[string]any) {
			m["gatewayConfig"].(map[string]any)["backendConfig"].(map[string]any)["googleServiceAccount"] = runtime[len("serviceAccount:"):]
		})},
		{"no project-wide identity roles", "project-wide token creator", plus(good, invariants.ProjectMember, "tc", map[string]any{"role": "roles/iam.serviceAccountTokenCreator", "member": "user:a@example.com"})},
	}
	for _, v := range violations {
		t.Run(v.name, func(t *testing.T) {
			if err := invariants.All[v.invariant](v.graph); err == nil {
				t.Errorf("invariant %q passed a graph with %s", v.invariant, v.name)
			}
		})
	}
}

// setEnv sets (or, with "", removes) a Cloud Run service's container
// environment variable in its inputs m.
func setEnv(m map[string]any, name, value string) {
	c := m["template"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	var kept []any
	for _, e := range asSlice(c["envs"]) {
		if e.(map[string]any)["name"] != name {
			kept = append(kept, e)
		}
	}
	if value != "" {
		kept = append(kept, map[string]any{"name": name, "value": value})
	}
	c["envs"] = kept
}
