package main

import (
	"encoding/json"

	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/infra/components"
)

const (
	tAccount    = "gcp:serviceaccount/account:Account"
	tSAMember   = "gcp:serviceaccount/iAMMember:IAMMember"
	tProjMember = "gcp:projects/iAMMember:IAMMember"
	tProvider   = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
	tPool       = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
	tBucket     = "gcp:storage/bucket:Bucket"
	tBucketIAM  = "gcp:storage/bucketIAMMember:BucketIAMMember"
	tAuth       = "gcp:identityplatform/config:Config"
	projectNum  = "123456789012"
)

type registered struct {
	Type, Name     string
	Inputs         map[string]any
	Protect        bool
	RetainOnDelete bool
	ImportID       string
}

func (r registered) str(k string) string { s, _ := r.Inputs[k].(string); return s }

type mocks struct {
	mu        sync.Mutex
	resources []registered
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	in := args.Inputs.Mappable()
	r := registered{Type: args.TypeToken, Name: args.Name, Inputs: in}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Protect, r.RetainOnDelete, r.ImportID = rpc.GetProtect(), rpc.GetRetainOnDelete(), rpc.GetImportId()
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()
	out := args.Inputs.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	switch args.TypeToken {
	case tAccount:
		email := r.str("accountId") + "@" + r.str("project") + ".iam.gserviceaccount.com"
		set("email", email)
		set("member", "serviceAccount:"+email)
		set("name", "projects/"+r.str("project")+"/serviceAccounts/"+email)
	case tPool:
		set("name", "projects/"+projectNum+"/locations/global/workloadIdentityPools/"+r.str("workloadIdentityPoolId"))
	case tProvider:
		set("name", "projects/"+projectNum+"/locations/global/workloadIdentityPools/"+r.str("workloadIdentityPoolId")+"/providers/"+r.str("workloadIdentityPoolProviderId"))
	}
	return args.Name + "_id", out, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

type result struct {
	rs      []registered
	outputs map[string]any
	err     error
}

func run(t *testing.T, cfg map[string]string) result {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(js))
	m := &mocks{}
	outputs := map[string]any{}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		exported := pulumi.Map{}
		if err := build(ctx, func(name string, v pulumi.Input) { exported[name] = v }); err != nil {
			return err
		}
		var wg sync.WaitGroup
		wg.Add(1)
		exported.ToMapOutput().ApplyT(func(v map[string]any) error {
			for k, x := range v {
				outputs[k] = x
			}
			wg.Done()
			return nil
		})
		wg.Wait()
		return nil
	}, pulumi.WithMocks(Namespace, "test", m))
	return result{rs: m.resources, outputs: outputs, err: err}
}

// exampleConfig is the shipped example stack, as a user would start.
func exampleConfig(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("Pulumi.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Config map[string]string `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Config
}

func with(cfg map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func byType(rs []registered, typ string) []registered {
	var out []registered
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func accountEmail(rs []registered, id string) string {
	for _, r := range byType(rs, tAccount) {
		if r.str("accountId") == id {
			return r.str("accountId") + "@" + r.str("project") + ".iam.gserviceaccount.com"
		}
	}
	return ""
}

// --- invariants -----------------------------------------------------------

const repo, deployEnv = "OWNER/REPO", "production"

// checkRepositoryPinned: one GitHub provider, whose condition admits this
// repository's tokens only.
func checkRepositoryPinned(rs []registered) error {
	ps := byType(rs, tProvider)
	if len(ps) != 1 {
		return fmt.Errorf("%d identity providers, want 1", len(ps))
	}
	p := ps[0]
	if iss, _ := p.Inputs["oidc"].(map[string]any)["issuerUri"].(string); iss != components.GitHubOIDCIssuer {
		return fmt.Errorf("provider issuer %q, want %s", iss, components.GitHubOIDCIssuer)
	}
	cond := p.str("attributeCondition")
	if !strings.HasPrefix(cond, "assertion.repository == '"+repo+"'") || strings.Contains(cond, "||") {
		return fmt.Errorf("attribute condition %q does not pin %s", cond, repo)
	}
	return nil
}

// checkDeployOnlyFromEnvironment: the deployer can be impersonated by
// exactly one subject, a job in the deploy environment; the previewer by
// pull-request jobs only.
func checkDeployOnlyFromEnvironment(rs []registered) error {
	want := map[string]string{
		accountEmail(rs, "gatehouse-deploy"):  "/subject/repo:" + repo + ":environment:" + deployEnv,
		accountEmail(rs, "gatehouse-preview"): "/subject/repo:" + repo + ":pull_request",
	}
	seen := map[string]int{}
	for _, g := range byType(rs, tSAMember) {
		if g.str("role") != "roles/iam.workloadIdentityUser" && g.str("role") != "roles/iam.workloadIdentityPoolUser" {
			continue
		}
		target := strings.TrimPrefix(g.str("serviceAccountId"), "projects/my-gcp-project-id/serviceAccounts/")
		suffix, ok := want[target]
		if !ok {
			return fmt.Errorf("workload identity grant on %s, want only the deployer and previewer", target)
		}
		if m := g.str("member"); !strings.HasPrefix(m, "principal://iam.googleapis.com/projects/"+projectNum+"/") || !strings.HasSuffix(m, suffix) {
			return fmt.Errorf("%s can be impersonated by %q, want the single subject ...%s", target, m, suffix)
		}
		seen[target]++
	}
	for acct := range want {
		if seen[acct] != 1 {
			return fmt.Errorf("%d workload identity grants on %s, want 1", seen[acct], acct)
		}
	}
	return nil
}

func projectRolesOf(rs []registered, email string) []string {
	var roles []string
	for _, g := range byType(rs, tProjMember) {
		if g.str("member") == "serviceAccount:"+email {
			roles = append(roles, g.str("role"))
		}
	}
	return roles
}

func roleSet(lists ...[]components.Grant) []string {
	var out []string
	for _, l := range lists {
		for _, g := range l {
			out = append(out, g.Role)
		}
	}
	return out
}

// checkRolesDocumented: every project role of the deployer and previewer
// is one of the documented grants (with its reason), and the previewer has
// only read roles.
func checkRolesDocumented(rs []registered) error {
	deploy := roleSet(components.DeployerRoles, components.FirebaseDeployerRoles)
	preview := roleSet(components.PreviewerRoles, components.FirebasePreviewerRoles)
	for _, r := range projectRolesOf(rs, accountEmail(rs, "gatehouse-deploy")) {
		if !slices.Contains(deploy, r) {
			return fmt.Errorf("deployer holds undocumented project role %s", r)
		}
	}
	for _, r := range projectRolesOf(rs, accountEmail(rs, "gatehouse-preview")) {
		if !slices.Contains(preview, r) {
			return fmt.Errorf("previewer holds project role %s, want read-only roles only", r)
		}
	}
	for _, g := range byType(rs, tProjMember) {
		m := g.str("member")
		if m != "serviceAccount:"+accountEmail(rs, "gatehouse-deploy") && m != "serviceAccount:"+accountEmail(rs, "gatehouse-preview") {
			return fmt.Errorf("project role %s granted to %s", g.str("role"), m)
		}
	}
	return nil
}

// checkNoBasicRoles: no owner, editor or viewer anywhere.
func checkNoBasicRoles(rs []registered) error {
	for _, typ := range []string{tProjMember, tSAMember, tBucketIAM} {
		for _, g := range byType(rs, typ) {
			if r := g.str("role"); r == "roles/owner" || r == "roles/editor" || r == "roles/viewer" {
				return fmt.Errorf("%s grants basic role %s", g.Name, r)
			}
		}
	}
	return nil
}

// checkNoProjectWideIdentityRoles: nothing at project level lets an
// account act as, create keys or tokens for, or administer other accounts,
// or change the project's IAM policy.
func checkNoProjectWideIdentityRoles(rs []registered) error {
	for _, g := range byType(rs, tProjMember) {
		r := g.str("role")
		if strings.HasPrefix(r, "roles/iam.") || r == "roles/resourcemanager.projectIamAdmin" || r == "roles/owner" {
			return fmt.Errorf("project-level %s granted to %s", r, g.str("member"))
		}
	}
	return nil
}

// checkActAsOnlyStackAccounts: serviceAccountUser exists only on the
// runtime and gateway accounts, for the deployer only.
func checkActAsOnlyStackAccounts(rs []registered) error {
	allowed := []string{accountEmail(rs, "gatehouse-runtime"), accountEmail(rs, "gatehouse-gateway")}
	for _, a := range byType(rs, tAccount) {
		if strings.HasSuffix(a.str("accountId"), "-rt") { // further backends' runtime accounts
			allowed = append(allowed, accountEmail(rs, a.str("accountId")))
		}
	}
	deployer := "serviceAccount:" + accountEmail(rs, "gatehouse-deploy")
	found := 0
	for _, g := range byType(rs, tSAMember) {
		r := g.str("role")
		if r == "roles/iam.workloadIdentityUser" {
			continue
		}
		target := strings.TrimPrefix(g.str("serviceAccountId"), "projects/my-gcp-project-id/serviceAccounts/")
		if r != "roles/iam.serviceAccountUser" || !slices.Contains(allowed, target) || g.str("member") != deployer {
			return fmt.Errorf("%s on %s for %s; want only serviceAccountUser on the runtime and gateway accounts for the deployer", r, target, g.str("member"))
		}
		found++
	}
	if found != len(allowed) {
		return fmt.Errorf("%d actAs grants, want %d (one per stack account)", found, len(allowed))
	}
	return nil
}

// checkBucketPrivate: the state bucket (if any) is versioned, uniform,
// public access prevented and protected; only the two CI accounts get
// access, the previewer's write access only to Pulumi's locks.
func checkBucketPrivate(rs []registered) error {
	for _, b := range byType(rs, tBucket) {
		v, _ := b.Inputs["versioning"].(map[string]any)
		if b.Inputs["uniformBucketLevelAccess"] != true || b.str("publicAccessPrevention") != "enforced" || v["enabled"] != true || !b.Protect {
			return fmt.Errorf("state bucket %s: uniform %v, public access prevention %q, versioning %v, protect %v", b.str("name"), b.Inputs["uniformBucketLevelAccess"], b.str("publicAccessPrevention"), v["enabled"], b.Protect)
		}
	}
	for _, g := range byType(rs, tBucketIAM) {
		m, r := g.str("member"), g.str("role")
		switch {
		case strings.Contains(m, "allUsers") || strings.Contains(m, "allAuthenticatedUsers"):
			return fmt.Errorf("state bucket grants %s to %s", r, m)
		case m == "serviceAccount:"+accountEmail(rs, "gatehouse-deploy"):
		case m == "serviceAccount:"+accountEmail(rs, "gatehouse-preview"):
			cond, _ := g.Inputs["condition"].(map[string]any)
			expr, _ := cond["expression"].(string)
			if r != "roles/storage.objectViewer" && !strings.Contains(expr, "/objects/.pulumi/locks/") {
				return fmt.Errorf("previewer holds %s on the state bucket beyond the locks", r)
			}
		default:
			return fmt.Errorf("state bucket grants %s to %s", r, m)
		}
	}
	return nil
}

var invariants = map[string]func([]registered) error{
	"repository pinned":              checkRepositoryPinned,
	"deploy only from environment":   checkDeployOnlyFromEnvironment,
	"roles documented":               checkRolesDocumented,
	"no basic roles":                 checkNoBasicRoles,
	"no project-wide identity roles": checkNoProjectWideIdentityRoles,
	"actAs only on stack accounts":   checkActAsOnlyStackAccounts,
	"state bucket private":           checkBucketPrivate,
}

func edit(rs []registered, typ, name string, change func(map[string]any)) []registered {
	out := make([]registered, len(rs))
	for i, r := range rs {
		out[i] = r
		if r.Type == typ && (name == "" || strings.Contains(r.Name, name)) {
			m := map[string]any{}
			for k, v := range r.Inputs {
				m[k] = v
			}
			change(m)
			out[i].Inputs = m
			name = "\x00" // change one only
		}
	}
	return out
}

func plus(rs []registered, typ, name string, in map[string]any) []registered {
	return append(append([]registered(nil), rs...), registered{Type: typ, Name: name, Inputs: in})
}

func TestBootstrapInvariants(t *testing.T) {
	res := run(t, with(exampleConfig(t), Namespace+":stateBucket", "my-gcp-project-id-pulumi-state"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	good := res.rs
	for name, check := range invariants {
		if err := check(good); err != nil {
			t.Errorf("invariant %q fails on the real graph: %v", name, err)
		}
	}
	deployer := "serviceAccount:" + accountEmail(good, "gatehouse-deploy")
	previewer := "serviceAccount:" + accountEmail(good, "gatehouse-preview")
	pool := "principal://iam.googleapis.com/projects/" + projectNum + "/locations/global/workloadIdentityPools/github-actions"
	violations := []struct {
		invariant, name string
		graph           []registered
	}{
		{"repository pinned", "no condition", edit(good, tProvider, "", func(m map[string]any) { m["attributeCondition"] = "" })},
		{"repository pinned", "another repository", edit(good, tProvider, "", func(m map[string]any) { m["attributeCondition"] = "assertion.repository == 'evil/REPO'" })},
		{"repository pinned", "condition widened", edit(good, tProvider, "", func(m map[string]any) {
			m["attributeCondition"] = "assertion.repository == 'OWNER/REPO' || true"
		})},
		{"deploy only from environment", "any job of the repository", edit(good, tSAMember, "deployer-wif", func(m map[string]any) {
			m["member"] = "principalSet://iam.googleapis.com/projects/" + projectNum + "/locations/global/workloadIdentityPools/github-actions/attribute.repository/OWNER/REPO"
		})},
		{"deploy only from environment", "a branch instead of the environment", edit(good, tSAMember, "deployer-wif", func(m map[string]any) {
			m["member"] = pool + "/subject/repo:OWNER/REPO:ref:refs/heads/feature"
		})},
		{"deploy only from environment", "pull requests may deploy", plus(good, tSAMember, "pr-deploy", map[string]any{
			"serviceAccountId": "projects/my-gcp-project-id/serviceAccounts/" + accountEmail(good, "gatehouse-deploy"),
			"role":             "roles/iam.workloadIdentityUser", "member": pool + "/subject/repo:OWNER/REPO:pull_request"})},
		{"roles documented", "previewer can deploy Cloud Run", plus(good, tProjMember, "pv-run", map[string]any{"role": "roles/run.admin", "member": previewer})},
		{"roles documented", "undocumented deployer role", plus(good, tProjMember, "dp-sec", map[string]any{"role": "roles/secretmanager.admin", "member": deployer})},
		{"no basic roles", "editor", plus(good, tProjMember, "dp-editor", map[string]any{"role": "roles/editor", "member": deployer})},
		{"no project-wide identity roles", "project-wide serviceAccountUser", plus(good, tProjMember, "dp-sau", map[string]any{"role": "roles/iam.serviceAccountUser", "member": deployer})},
		{"no project-wide identity roles", "project-wide serviceAccountAdmin", plus(good, tProjMember, "dp-saa", map[string]any{"role": "roles/iam.serviceAccountAdmin", "member": deployer})},
		{"actAs only on stack accounts", "actAs on the deployer itself", plus(good, tSAMember, "self", map[string]any{
			"serviceAccountId": "projects/my-gcp-project-id/serviceAccounts/" + accountEmail(good, "gatehouse-deploy"), "role": "roles/iam.serviceAccountUser", "member": deployer})},
		{"actAs only on stack accounts", "token creator on the runtime", plus(good, tSAMember, "tc", map[string]any{
			"serviceAccountId": "projects/my-gcp-project-id/serviceAccounts/" + accountEmail(good, "gatehouse-runtime"), "role": "roles/iam.serviceAccountTokenCreator", "member": deployer})},
		{"actAs only on stack accounts", "previewer may act as the runtime", edit(good, tSAMember, "actas-runtime", func(m map[string]any) { m["member"] = previewer })},
		{"state bucket private", "public reader", plus(good, tBucketIAM, "pub", map[string]any{"role": "roles/storage.objectViewer", "member": "allUsers"})},
		{"state bucket private", "no public access prevention", edit(good, tBucket, "", func(m map[string]any) { m["publicAccessPrevention"] = "inherited" })},
		{"state bucket private", "fine-grained ACLs", edit(good, tBucket, "", func(m map[string]any) { m["uniformBucketLevelAccess"] = false })},
		{"state bucket private", "unversioned", edit(good, tBucket, "", func(m map[string]any) { m["versioning"] = map[string]any{"enabled": false} })},
		{"state bucket private", "previewer may write state", edit(good, tBucketIAM, "previewer-locks", func(m map[string]any) { delete(m, "condition") })},
	}
	for _, v := range violations {
		if err := invariants[v.invariant](v.graph); err == nil {
			t.Errorf("invariant %q passes with a planted violation: %s", v.invariant, v.name)
		}
	}
}

// TestBootstrapGraph: what the example stack creates and exports.
func TestBootstrapGraph(t *testing.T) {
	res := run(t, exampleConfig(t))
	if res.err != nil {
		t.Fatal(res.err)
	}
	count := map[string]int{}
	for _, r := range res.rs {
		count[r.Type]++
	}
	want := map[string]int{tPool: 1, tProvider: 1, tAccount: 4, tBucket: 0, tAuth: 1,
		"gcp:projects/service:Service": len(components.BootstrapAPIs) + 1, // + identitytoolkit
		tProjMember:                    len(components.DeployerRoles) + len(components.FirebaseDeployerRoles) + len(components.PreviewerRoles) + len(components.FirebasePreviewerRoles),
		tSAMember:                      4, // two workload identity grants, two actAs
	}
	for typ, n := range want {
		if count[typ] != n {
			t.Errorf("%d × %s, want %d", count[typ], typ, n)
		}
	}
	for _, api := range components.BootstrapAPIs {
		found := false
		for _, s := range byType(res.rs, "gcp:projects/service:Service") {
			found = found || s.str("service") == api
		}
		if !found {
			t.Errorf("bootstrap API %s is not enabled", api)
		}
	}
	if a := byType(res.rs, tAuth); len(a) == 1 && !a[0].RetainOnDelete {
		t.Error("the Identity Platform config is not retained on delete")
	}
	if p := byType(res.rs, tPool); len(p) == 1 && !p[0].Protect {
		t.Error("the pool is not protected (a deleted pool's id stays taken for 30 days)")
	}
	wantOut := map[string]any{
		"GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/" + projectNum + "/locations/global/workloadIdentityPools/github-actions/providers/github",
		"GCP_DEPLOY_SERVICE_ACCOUNT":     "gatehouse-deploy@my-gcp-project-id.iam.gserviceaccount.com",
		"GCP_PREVIEW_SERVICE_ACCOUNT":    "gatehouse-preview@my-gcp-project-id.iam.gserviceaccount.com",
		"PULUMI_BACKEND_URL":             "",
	}
	if fmt.Sprint(res.outputs) != fmt.Sprint(wantOut) {
		t.Errorf("outputs = %v\nwant %v", res.outputs, wantOut)
	}
	// The accounts it creates are the ones the main stack uses with
	// gatehouse:existingServiceAccounts.
	for _, id := range []string{components.RuntimeAccountID("gatehouse"), components.GatewayAccountID("gatehouse")} {
		if accountEmail(res.rs, id) == "" {
			t.Errorf("no account %s", id)
		}
	}

	withBucket := run(t, with(exampleConfig(t), Namespace+":stateBucket", "my-state"))
	if withBucket.err != nil || withBucket.outputs["PULUMI_BACKEND_URL"] != "gs://my-state" {
		t.Errorf("state URL = %v (%v), want gs://my-state", withBucket.outputs["PULUMI_BACKEND_URL"], withBucket.err)
	}
	if b := byType(withBucket.rs, tBucket); len(b) != 1 || b[0].str("location") != "europe-west1" {
		t.Errorf("state bucket %v, want one in gcp:region", b)
	}
	pinned := run(t, with(exampleConfig(t), Namespace+":githubRepositoryId", "42"))
	if p := byType(pinned.rs, tProvider); len(p) != 1 || p[0].str("attributeCondition") != "assertion.repository == 'OWNER/REPO' && assertion.repository_id == '42'" {
		t.Errorf("condition with a repository id: %v", p)
	}
	noFirebase := run(t, with(exampleConfig(t), Namespace+":manageFirebase", "false", Namespace+":initializeAuth", "false"))
	if noFirebase.err != nil || len(byType(noFirebase.rs, tAuth)) != 0 ||
		len(byType(noFirebase.rs, tProjMember)) != len(components.DeployerRoles)+len(components.PreviewerRoles) {
		t.Errorf("without Firebase: %v, %d project roles", noFirebase.err, len(byType(noFirebase.rs, tProjMember)))
	}
}

// TestBadConfigRegistersNothing: each bad setting fails with its key named
// and before any resource.
func TestBadConfigRegistersNothing(t *testing.T) {
	ex := exampleConfig(t)
	tests := []struct {
		cfg map[string]string
		key string
	}{
		{with(ex, Namespace+":githubRepository", ""), "githubRepository"},
		{with(ex, Namespace+":githubRepository", "just-a-name"), "githubRepository"},
		{with(ex, Namespace+":githubRepository", "o/r' || true || '"), "githubRepository"},
		{with(ex, Namespace+":githubRepositoryId", "abc"), "githubRepositoryId"},
		{with(ex, Namespace+":deployEnvironment", "prod:*"), "deployEnvironment"},
		{with(ex, Namespace+":workloadIdentityPoolId", "gcp-pool"), "workloadIdentityPoolId"},
		{with(ex, Namespace+":serviceName", "Bad_Name"), "serviceName"},
		{with(ex, Namespace+":initializeAuth", "maybe"), "initializeAuth"},
		{with(ex, Namespace+":adoptServiceAccounts", "1"), "adoptServiceAccounts"},
		{with(ex, Namespace+":backends", `["Bad"]`), "backends"},
		{with(ex, Namespace+":manageFirebase", "false"), "initializeAuth"},
		{with(ex, Namespace+":stateBucket", "Bad Bucket"), "stateBucket"},
		{with(ex, "gcp:project", ""), "gcp:project"},
	}
	for _, tt := range tests {
		res := run(t, tt.cfg)
		if res.err == nil || !strings.Contains(res.err.Error(), tt.key) {
			t.Errorf("%s: err = %v, want one naming %s", tt.key, res.err, tt.key)
		}
		if len(res.rs) != 0 {
			t.Errorf("%s: %d resources registered before the error", tt.key, len(res.rs))
		}
	}
}

// TestPulumiYAMLDefaults keeps Pulumi.yaml's defaults and descriptions in
// step with Load.
func TestPulumiYAMLDefaults(t *testing.T) {
	b, err := os.ReadFile("Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Name    string
		Runtime string
		Config  map[string]struct {
			Type        string
			Default     any
			Description string
		}
	}
	if err := yaml.Unmarshal(b, &project); err != nil {
		t.Fatal(err)
	}
	if project.Name != Namespace || project.Runtime != "go" {
		t.Errorf("Pulumi.yaml name/runtime = %s/%s", project.Name, project.Runtime)
	}
	want := map[string]any{
		"githubRepository": nil, "githubRepositoryId": "", "deployEnvironment": DefaultDeployEnvironment,
		"workloadIdentityPoolId": DefaultPoolID, "serviceName": DefaultServiceName, "manageFirebase": DefaultManageFirebase,
		"initializeAuth": DefaultInitializeAuth, "stateBucket": "", "stateBucketLocation": "", "adoptServiceAccounts": DefaultAdoptAccounts, "backends": "[]",
	}
	for key, def := range want {
		c, ok := project.Config[key]
		switch {
		case !ok:
			t.Errorf("Pulumi.yaml lacks %s", key)
		case c.Description == "" || c.Type == "":
			t.Errorf("Pulumi.yaml %s has no type or description", key)
		case fmt.Sprint(c.Default) != fmt.Sprint(def) && def != nil:
			t.Errorf("Pulumi.yaml %s default %v, Load's %v", key, c.Default, def)
		}
	}
	if len(project.Config) != len(want) {
		t.Errorf("Pulumi.yaml has %d keys, Load reads %d", len(project.Config), len(want))
	}
}

// TestAdoptServiceAccounts: a stack deployed before the bootstrap keeps its
// two accounts: the bootstrap imports them, with the names and descriptions
// the main stack gave them, and creates the CI accounts as usual.
func TestAdoptServiceAccounts(t *testing.T) {
	for _, adopt := range []bool{false, true} {
		res := run(t, with(exampleConfig(t), Namespace+":adoptServiceAccounts", fmt.Sprint(adopt)))
		if res.err != nil {
			t.Fatal(res.err)
		}
		for _, a := range byType(res.rs, tAccount) {
			id := a.str("accountId")
			stack := id == components.RuntimeAccountID("gatehouse") || id == components.GatewayAccountID("gatehouse")
			want := ""
			if adopt && stack {
				want = "projects/my-gcp-project-id/serviceAccounts/" + id + "@my-gcp-project-id.iam.gserviceaccount.com"
			}
			if a.ImportID != want {
				t.Errorf("adopt=%v: %s import id %q, want %q", adopt, id, a.ImportID, want)
			}
			if id == components.RuntimeAccountID("gatehouse") && (a.str("displayName") != components.RuntimeDisplayName("gatehouse") || a.str("description") != components.RuntimeAccountDescription) {
				t.Errorf("runtime account %q / %q differs from the main stack's", a.str("displayName"), a.str("description"))
			}
		}
	}
}

// TestBootstrapBackends: each further backend of the main stack gets its
// runtime account here, and the deployer may act as it; the invariants
// still hold.
func TestBootstrapBackends(t *testing.T) {
	res := run(t, with(exampleConfig(t), Namespace+":backends", `["notes"]`))
	if res.err != nil {
		t.Fatal(res.err)
	}
	if accountEmail(res.rs, "gatehouse-notes-rt") == "" || len(byType(res.rs, tAccount)) != 5 {
		t.Errorf("accounts: %d, notes runtime %q", len(byType(res.rs, tAccount)), accountEmail(res.rs, "gatehouse-notes-rt"))
	}
	for name, check := range invariants {
		if err := check(res.rs); err != nil {
			t.Errorf("invariant %q with a backend: %v", name, err)
		}
	}
	if len(byType(res.rs, tSAMember)) != 5 {
		t.Errorf("%d account-level grants, want 5 (2 workload identity, 3 actAs)", len(byType(res.rs, tSAMember)))
	}
}

// TestProviderCredentials: the program's own provider takes the gcp:
// credentials keys, as the default provider would (an explicit provider
// reads no stack config by itself), and none when they are unset.
func TestProviderCredentials(t *testing.T) {
	providerInputs := func(cfg map[string]string) map[string]any {
		res := run(t, cfg)
		if res.err != nil {
			t.Fatal(res.err)
		}
		p := byType(res.rs, "pulumi:providers:gcp")
		if len(p) != 1 {
			t.Fatalf("%d gcp providers, want 1", len(p))
		}
		return p[0].Inputs
	}
	cfg := with(exampleConfig(t), "gcp:accessToken", "ya29.bootstrap", "gcp:impersonateServiceAccount", "owner@p.iam.gserviceaccount.com")
	in := providerInputs(cfg)
	if !strings.Contains(fmt.Sprint(in["accessToken"]), "ya29.bootstrap") || in["impersonateServiceAccount"] != "owner@p.iam.gserviceaccount.com" {
		t.Errorf("provider inputs %v, want the gcp: credentials", in)
	}
	if in["userProjectOverride"] != "true" && in["userProjectOverride"] != true {
		t.Errorf("userProjectOverride = %v", in["userProjectOverride"])
	}
	if in := providerInputs(exampleConfig(t)); in["accessToken"] != nil || in["impersonateServiceAccount"] != nil {
		t.Errorf("unset credentials reach the provider: %v", in)
	}
}
