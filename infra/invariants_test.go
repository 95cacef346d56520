package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// The stack's security invariants, as checks over the registered resources.
// Each is run on the real graph (must pass) and on a graph with one
// violation planted (must fail).

const (
	tAccount      = "gcp:serviceaccount/account:Account"
	tRunService   = "gcp:cloudrunv2/service:Service"
	tRunIamMember = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
	tApiConfig    = "gcp:apigateway/apiConfig:ApiConfig"
	tRepo         = "gcp:artifactregistry/repository:Repository"
)

func byType(rs []registered, typ string) []registered {
	var out []registered
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func accountEmail(rs []registered, suffix string) string {
	for _, r := range byType(rs, tAccount) {
		if strings.HasSuffix(r.str("accountId"), suffix) {
			return r.str("accountId") + "@" + r.str("project") + ".iam.gserviceaccount.com"
		}
	}
	return ""
}

// iamBindings lists every IAM grant in the graph: any resource whose type
// is an IAM member, binding or policy, with its role and members.
type grant struct {
	res     registered
	role    string
	members []string
}

func iamGrants(rs []registered) []grant {
	var out []grant
	for _, r := range rs {
		switch {
		case strings.Contains(r.Type, "IamMember") || strings.Contains(r.Type, "IAMMember"):
			out = append(out, grant{r, r.str("role"), []string{r.str("member")}})
		case strings.Contains(r.Type, "IamBinding") || strings.Contains(r.Type, "IAMBinding"):
			var ms []string
			for _, m := range asSlice(r.input("members")) {
				ms = append(ms, fmt.Sprint(m))
			}
			out = append(out, grant{r, r.str("role"), ms})
		case strings.Contains(r.Type, "IamPolicy") || strings.Contains(r.Type, "IAMPolicy"):
			out = append(out, grant{r, "policy:" + r.str("policyData"), []string{r.str("policyData")}})
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// checkInvoker: every Cloud Run service has exactly one run.invoker grant,
// on that service, for exactly the gateway service account; there is none
// anywhere else (project level included).
func checkInvoker(rs []registered) error {
	gw := "serviceAccount:" + accountEmail(rs, "-gateway")
	svcs := byType(rs, tRunService)
	if len(svcs) == 0 {
		return errors.New("no Cloud Run service")
	}
	var invokers []grant
	for _, g := range iamGrants(rs) {
		if g.role == "roles/run.invoker" || strings.Contains(g.role, "run.invoker") {
			invokers = append(invokers, g)
		}
	}
	if len(invokers) != len(svcs) {
		return fmt.Errorf("%d run.invoker grants for %d services, want one each", len(invokers), len(svcs))
	}
	for _, s := range svcs {
		n := 0
		for _, g := range invokers {
			if g.res.Type != tRunIamMember {
				return fmt.Errorf("run.invoker granted by %s, want a service-level %s", g.res.Type, tRunIamMember)
			}
			if len(g.members) != 1 || g.members[0] != gw {
				return fmt.Errorf("run.invoker members = %v, want exactly [%s]", g.members, gw)
			}
			if g.res.str("name") == s.str("name") && g.res.str("location") == s.str("location") {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("service %s/%s has %d run.invoker grants, want 1", s.str("location"), s.str("name"), n)
		}
	}
	return nil
}

// checkNoPublicMembers: nobody grants anything to allUsers or
// allAuthenticatedUsers.
func checkNoPublicMembers(rs []registered) error {
	var errs []error
	for _, g := range iamGrants(rs) {
		for _, m := range g.members {
			if strings.Contains(m, "allUsers") || strings.Contains(m, "allAuthenticatedUsers") {
				errs = append(errs, fmt.Errorf("%s %s grants %s to %s", g.res.Type, g.res.Name, g.role, m))
			}
		}
	}
	return errors.Join(errs...)
}

// checkRuntimeAccount: each Cloud Run service runs as its own dedicated
// account, created by the stack (never the default compute account, never
// the gateway's, never shared), and no runtime account holds a
// project-level role.
func checkRuntimeAccount(rs []registered) error {
	created := map[string]bool{}
	for _, a := range byType(rs, tAccount) {
		created[a.str("accountId")+"@"+a.str("project")+".iam.gserviceaccount.com"] = true
	}
	gateway := accountEmail(rs, "-gateway")
	used := map[string]string{}
	for _, s := range byType(rs, tRunService) {
		sa := s.str("template.serviceAccount")
		switch {
		case !created[sa] || sa == gateway:
			return fmt.Errorf("Cloud Run %s runs as %q, want a dedicated runtime account of the stack", s.Name, sa)
		case used[sa] != "":
			return fmt.Errorf("Cloud Run %s and %s share the runtime account %s", used[sa], s.Name, sa)
		}
		used[sa] = s.Name
	}
	if len(used) == 0 {
		return errors.New("no dedicated runtime service account")
	}
	for _, g := range iamGrants(rs) {
		if strings.HasPrefix(g.res.Type, "gcp:projects/") || strings.HasPrefix(g.res.Type, "gcp:organizations/") {
			for _, m := range g.members {
				for sa := range used {
					if strings.Contains(m, sa) {
						return fmt.Errorf("runtime account %s holds project role %s via %s", sa, g.role, g.res.Name)
					}
				}
			}
		}
	}
	return nil
}

// checkNoBasicRoles: no owner/editor/viewer anywhere.
func checkNoBasicRoles(rs []registered) error {
	for _, g := range iamGrants(rs) {
		for _, basic := range []string{"roles/owner", "roles/editor", "roles/viewer"} {
			if g.role == basic || strings.Contains(g.role, `"`+basic+`"`) {
				return fmt.Errorf("%s %s grants basic role %s", g.res.Type, g.res.Name, basic)
			}
		}
	}
	return nil
}

// checkRepositoryPrivate: the image repository grants nothing to anyone
// (pushes use the deployer's token, Cloud Run pulls as its service agent).
func checkRepositoryPrivate(rs []registered) error {
	if len(byType(rs, tRepo)) != 1 {
		return errors.New("want one Artifact Registry repository")
	}
	for _, g := range iamGrants(rs) {
		if strings.HasPrefix(g.res.Type, "gcp:artifactregistry/") {
			return fmt.Errorf("repository IAM grant %s %v via %s", g.role, g.members, g.res.Name)
		}
	}
	return nil
}

// checkAPIConfigBackendAuth: the gateway calls the backend as the gateway
// service account.
func checkAPIConfigBackendAuth(rs []registered) error {
	gw := accountEmail(rs, "-gateway")
	cfgs := byType(rs, tApiConfig)
	if len(cfgs) != 1 {
		return fmt.Errorf("%d API configs, want 1", len(cfgs))
	}
	if got := cfgs[0].str("gatewayConfig.backendConfig.googleServiceAccount"); got != gw {
		return fmt.Errorf("API config backend auth uses %q, want the gateway account %s", got, gw)
	}
	return nil
}

var invariants = map[string]func([]registered) error{
	"invoker":               checkInvoker,
	"no public members":     checkNoPublicMembers,
	"dedicated runtime SA":  checkRuntimeAccount,
	"no basic roles":        checkNoBasicRoles,
	"repository private":    checkRepositoryPrivate,
	"api config backend SA": checkAPIConfigBackendAuth,
}

func iamMember(typ, name, role, member string, extra map[string]any) registered {
	in := map[string]any{"role": role, "member": member}
	for k, v := range extra {
		in[k] = v
	}
	return registered{Type: typ, Name: name, Custom: true, Inputs: resource.NewPropertyMapFromMap(in)}
}

// edit returns a copy of rs with the inputs of the first resource of typ
// changed at key.
func edit(rs []registered, typ string, change func(map[string]any)) []registered {
	out := append([]registered(nil), rs...)
	for i, r := range out {
		if r.Type == typ {
			m := r.Inputs.Mappable()
			change(m)
			out[i].Inputs = resource.NewPropertyMapFromMap(m)
			break
		}
	}
	return out
}

func TestSecurityInvariants(t *testing.T) {
	res := run(t, devConfig(t), "1111111111111111111111111111111111111111111111111111111111111111")
	if res.err != nil {
		t.Fatal(res.err)
	}
	good := res.m.resources
	for name, check := range invariants {
		if err := check(good); err != nil {
			t.Errorf("invariant %q fails on the real graph: %v", name, err)
		}
	}

	runtime := "serviceAccount:" + accountEmail(good, "-runtime")
	violations := []struct {
		invariant string
		name      string
		graph     []registered
	}{
		{"invoker", "invoker is allUsers", edit(good, tRunIamMember, func(m map[string]any) { m["member"] = "allUsers" })},
		{"invoker", "invoker is the runtime SA", edit(good, tRunIamMember, func(m map[string]any) { m["member"] = runtime })},
		{"invoker", "invoker on another service", edit(good, tRunIamMember, func(m map[string]any) { m["name"] = "other-service" })},
		{"invoker", "second invoker", append(append([]registered(nil), good...),
			iamMember(tRunIamMember, "extra", "roles/run.invoker", "user:someone@example.com", map[string]any{"name": "gatehouse", "location": "europe-west1"}))},
		{"invoker", "project-level invoker", append(append([]registered(nil), good...),
			iamMember("gcp:projects/iAMMember:IAMMember", "proj-invoker", "roles/run.invoker", "serviceAccount:x@p.iam.gserviceaccount.com", nil))},
		{"no public members", "allAuthenticatedUsers on the service", append(append([]registered(nil), good...),
			iamMember(tRunIamMember, "public", "roles/run.viewer", "allAuthenticatedUsers", nil))},
		{"no public members", "allUsers binding", append(append([]registered(nil), good...),
			registered{Type: "gcp:cloudrunv2/serviceIamBinding:ServiceIamBinding", Name: "b", Inputs: resource.NewPropertyMapFromMap(map[string]any{"role": "roles/run.invoker", "members": []any{"allUsers"}})})},
		{"dedicated runtime SA", "default compute SA", edit(good, tRunService, func(m map[string]any) {
			m["template"].(map[string]any)["serviceAccount"] = "123456789-compute@developer.gserviceaccount.com"
		})},
		{"dedicated runtime SA", "runtime SA with a project role", append(append([]registered(nil), good...),
			iamMember("gcp:projects/iAMMember:IAMMember", "runtime-role", "roles/storage.admin", runtime, nil))},
		{"no basic roles", "editor grant", append(append([]registered(nil), good...),
			iamMember("gcp:projects/iAMMember:IAMMember", "editor", "roles/editor", "user:a@example.com", nil))},
		{"repository private", "public repository", append(append([]registered(nil), good...),
			iamMember("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", "pub", "roles/artifactregistry.reader", "allUsers", nil))},
		{"api config backend SA", "backend auth as runtime SA", edit(good, tApiConfig, func(m map[string]any) {
			m["gatewayConfig"].(map[string]any)["backendConfig"].(map[string]any)["googleServiceAccount"] = accountEmail(good, "-runtime")
		})},
	}
	for _, v := range violations {
		t.Run(v.name, func(t *testing.T) {
			if err := invariants[v.invariant](v.graph); err == nil {
				t.Errorf("invariant %q passed a graph with %s", v.invariant, v.name)
			}
		})
	}
}
