package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/infra/internal/invariants"
	pt "github.com/gatehouse/gatehouse/infra/internal/pulumitest"
	"github.com/gatehouse/gatehouse/stack"
)

// names are the example stack's names (its serviceName, project).
var names = stack.Names{Service: "gatehouse", Project: "my-gcp-project-id", Region: "europe-west1"}

const (
	tAccount    = invariants.Account
	tSAMember   = invariants.AccountMember
	tProjMember = invariants.ProjectMember
	tProvider   = invariants.PoolProvider
	tPool       = "gcp:iam/workloadIdentityPool:WorkloadIdentityPool"
	tBucket     = invariants.Bucket
	tBucketIAM  = invariants.BucketIAMMember
	tAuth       = "gcp:identityplatform/config:Config"
	tFirebase   = "gcp:firebase/project:Project"
	tCustomRole = invariants.CustomRole
	projectNum  = pt.ProjectNumber
)

// The shared Pulumi test kit (infra/internal/pulumitest), bound to this
// program.

type registered = pt.Resource

type result struct {
	rs      []registered
	outputs map[string]any
	err     error
}

func run(t *testing.T, cfg map[string]string) result {
	t.Helper()
	r := pt.Run(t, Namespace, "test", cfg, &pt.Mocks{}, build)
	return result{r.Resources(), r.Outputs, r.Err}
}

var (
	with   = pt.With
	byType = pt.ByType
	edit   = pt.Edit
	plus   = pt.Plus
)

func accountEmail(rs []registered, id string) string {
	for _, r := range byType(rs, tAccount) {
		if r.Str("accountId") == id {
			return r.Str("accountId") + "@" + r.Str("project") + ".iam.gserviceaccount.com"
		}
	}
	return ""
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

func TestBootstrapInvariants(t *testing.T) {
	res := run(t, with(exampleConfig(t), Namespace+":stateBucket", "my-gcp-project-id-pulumi-state"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	good := res.rs
	if err := invariants.Run(good); err != nil {
		t.Errorf("invariants fail on the real graph: %v", err)
	}
	deployer := "serviceAccount:" + accountEmail(good, "gatehouse-deploy")
	previewer := "serviceAccount:" + accountEmail(good, "gatehouse-preview")
	pool := "principalSet://iam.googleapis.com/projects/" + projectNum + "/locations/global/workloadIdentityPools/github-actions"
	subject := "principal://iam.googleapis.com/projects/" + projectNum + "/locations/global/workloadIdentityPools/github-actions/subject/"
	deployerRole := "projects/my-gcp-project-id/roles/" + CustomRoleID("gatehouse", "deployer")
	violations := []struct {
		invariant, name string
		graph           []registered
	}{
		{"repository pinned", "no condition", edit(t, good, tProvider, "", func(m map[string]any) { m["attributeCondition"] = "" })},
		{"repository pinned", "another repository", edit(t, good, tProvider, "", func(m map[string]any) { m["attributeCondition"] = "assertion.repository == 'evil/REPO'" })},
		{"repository pinned", "condition widened", edit(t, good, tProvider, "", func(m map[string]any) {
			m["attributeCondition"] = "assertion.repository == 'OWNER/REPO' || true"
		})},
		{"repository pinned", "pinned by name only", edit(t, good, tProvider, "", func(m map[string]any) {
			m["attributeCondition"] = "assertion.repository == 'OWNER/REPO'"
		})},
		{"repository pinned", "event name mapped from another claim", edit(t, good, tProvider, "", func(m map[string]any) {
			m["attributeMapping"].(map[string]any)["attribute.event_name"] = "assertion.actor"
		})},
		{"repository pinned", "environment_ref without the ref", edit(t, good, tProvider, "", func(m map[string]any) {
			m["attributeMapping"].(map[string]any)["attribute.environment_ref"] = "assertion.environment + ':refs/heads/main'"
		})},
		{"deploy only from environment", "any job of the repository", edit(t, good, tSAMember, "deployer-wif", func(m map[string]any) {
			m["member"] = pool + "/attribute.repository/OWNER/REPO"
		})},
		{"deploy only from environment", "the environment from any branch", edit(t, good, tSAMember, "deployer-wif", func(m map[string]any) {
			m["member"] = pool + "/attribute.environment/production"
		})},
		{"deploy only from environment", "a subject (the old format, which new repositories do not send)", edit(t, good, tSAMember, "deployer-wif", func(m map[string]any) {
			m["member"] = subject + "repo:OWNER/REPO:environment:production"
		})},
		{"deploy only from environment", "the whole pool", edit(t, good, tSAMember, "deployer-wif", func(m map[string]any) { m["member"] = pool + "/*" })},
		{"deploy only from environment", "pull requests may deploy", plus(good, tSAMember, "pr-deploy", map[string]any{
			"serviceAccountId": "projects/my-gcp-project-id/serviceAccounts/" + accountEmail(good, "gatehouse-deploy"),
			"role":             "roles/iam.workloadIdentityUser", "member": pool + "/" + PreviewAttribute})},
		{"deploy only from environment", "previews from any event", edit(t, good, tSAMember, "previewer-wif", func(m map[string]any) {
			m["member"] = pool + "/attribute.repository_id/1"
		})},
		{"roles documented", "previewer can deploy Cloud Run", plus(good, tProjMember, "pv-run", map[string]any{"role": "roles/run.admin", "member": previewer})},
		{"roles documented", "previewer holds firebase.viewer", plus(good, tProjMember, "pv-fb", map[string]any{"role": "roles/firebase.viewer", "member": previewer})},
		{"roles documented", "undocumented deployer role", plus(good, tProjMember, "dp-sec", map[string]any{"role": "roles/secretmanager.admin", "member": deployer})},
		{"roles documented", "firebase.admin for the deployer", plus(good, tProjMember, "dp-fb", map[string]any{"role": "roles/firebase.admin", "member": deployer})},
		{"roles documented", "an undeclared permission in the deployer's role", edit(t, good, tCustomRole, "deployer-role", func(m map[string]any) {
			m["permissions"] = append(m["permissions"].([]any), "firebase.projects.delete")
		})},
		{"roles documented", "the deployer's permission in the previewer's role", edit(t, good, tCustomRole, "previewer-role", func(m map[string]any) {
			m["permissions"] = append(m["permissions"].([]any), "firebase.clients.create")
		})},
		{"previewer read-only", "the previewer may create", edit(t, good, tCustomRole, "previewer-role", func(m map[string]any) {
			m["permissions"] = append(m["permissions"].([]any), "firebase.clients.create")
		})},
		{"roles documented", "previewer holds the deployer's role", edit(t, good, tProjMember, "previewer-custom", func(m map[string]any) { m["role"] = deployerRole })},
		{"no basic roles", "editor", plus(good, tProjMember, "dp-editor", map[string]any{"role": "roles/editor", "member": deployer})},
		{"no project-wide identity roles", "project-wide serviceAccountUser", plus(good, tProjMember, "dp-sau", map[string]any{"role": "roles/iam.serviceAccountUser", "member": deployer})},
		{"no project-wide identity roles", "project-wide serviceAccountAdmin", plus(good, tProjMember, "dp-saa", map[string]any{"role": "roles/iam.serviceAccountAdmin", "member": deployer})},
		{"actAs only on stack accounts", "actAs on the deployer itself", plus(good, tSAMember, "self", map[string]any{
			"serviceAccountId": "projects/my-gcp-project-id/serviceAccounts/" + accountEmail(good, "gatehouse-deploy"), "role": "roles/iam.serviceAccountUser", "member": deployer})},
		{"actAs only on stack accounts", "token creator on the runtime", plus(good, tSAMember, "tc", map[string]any{
			"serviceAccountId": "projects/my-gcp-project-id/serviceAccounts/" + accountEmail(good, "gatehouse-runtime"), "role": "roles/iam.serviceAccountTokenCreator", "member": deployer})},
		{"actAs only on stack accounts", "previewer may act as the runtime", edit(t, good, tSAMember, "actas-v1-runtime", func(m map[string]any) { m["member"] = previewer })},
		{"state bucket private", "public reader", plus(good, tBucketIAM, "pub", map[string]any{"role": "roles/storage.objectViewer", "member": "allUsers"})},
		{"state bucket private", "no public access prevention", edit(t, good, tBucket, "", func(m map[string]any) { m["publicAccessPrevention"] = "inherited" })},
		{"state bucket private", "fine-grained ACLs", edit(t, good, tBucket, "", func(m map[string]any) { m["uniformBucketLevelAccess"] = false })},
		{"state bucket private", "unversioned", edit(t, good, tBucket, "", func(m map[string]any) { m["versioning"] = map[string]any{"enabled": false} })},
		{"state bucket private", "previewer may write state (even Pulumi's locks only)", plus(good, tBucketIAM, "pv-locks", map[string]any{
			"role": "roles/storage.objectUser", "member": previewer,
			"condition": map[string]any{"expression": `resource.name.startsWith("projects/_/buckets/my-gcp-project-id-pulumi-state/objects/.pulumi/locks/")`}})},
	}
	for _, v := range violations {
		if err := invariants.All[v.invariant](v.graph); err == nil {
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
	want := map[string]int{tPool: 1, tProvider: 1, tAccount: 4, tBucket: 0, tAuth: 1, tFirebase: 1,
		"gcp:projects/service:Service": len(BootstrapAPIs) + 2,                 // + firebase, identitytoolkit
		tProjMember:                    len(deployNeeds(true).DeployRoles) + 2, // + each CI account's custom role
		tCustomRole:                    2,
		tSAMember:                      4, // two workload identity grants, two actAs
	}
	for typ, n := range want {
		if count[typ] != n {
			t.Errorf("%d × %s, want %d", count[typ], typ, n)
		}
	}
	for _, api := range BootstrapAPIs {
		found := false
		for _, s := range byType(res.rs, "gcp:projects/service:Service") {
			found = found || s.Str("service") == api
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
	for _, id := range []string{names.RuntimeAccount(stack.OriginalBackend).ID, names.GatewayAccount().ID} {
		if accountEmail(res.rs, id) == "" {
			t.Errorf("no account %s", id)
		}
	}

	withBucket := run(t, with(exampleConfig(t), Namespace+":stateBucket", "my-state"))
	if withBucket.err != nil || withBucket.outputs["PULUMI_BACKEND_URL"] != "gs://my-state" {
		t.Errorf("state URL = %v (%v), want gs://my-state", withBucket.outputs["PULUMI_BACKEND_URL"], withBucket.err)
	}
	if b := byType(withBucket.rs, tBucket); len(b) != 1 || b[0].Str("location") != "europe-west1" {
		t.Errorf("state bucket %v, want one in gcp:region", b)
	}
	pinned := run(t, with(exampleConfig(t), Namespace+":githubRepositoryId", "42"))
	if p := byType(pinned.rs, tProvider); len(p) != 1 || p[0].Str("attributeCondition") != "assertion.repository == 'OWNER/REPO' && assertion.repository_id == '42'" {
		t.Errorf("condition with a repository id: %v", p)
	}
	noFirebase := run(t, with(exampleConfig(t), Namespace+":manageFirebase", "false", Namespace+":initializeAuth", "false"))
	if noFirebase.err != nil || len(byType(noFirebase.rs, tAuth)) != 0 || len(byType(noFirebase.rs, tFirebase)) != 0 ||
		len(byType(noFirebase.rs, tProjMember)) != len(deployNeeds(false).DeployRoles)+1 {
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
		{with(ex, Namespace+":githubRepositoryId", ""), "githubRepositoryId"},
		{with(ex, Namespace+":deployBranch", "../main"), "deployBranch"},
		{with(ex, Namespace+":deployBranch", "a:b"), "deployBranch"},
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
		"githubRepository": nil, "githubRepositoryId": nil, "deployEnvironment": DefaultDeployEnvironment, "deployBranch": DefaultDeployBranch,
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

// TestAdoptServiceAccounts: the stack's accounts (every backend's runtime
// account and the gateway's) are created or adopted (a stack deployed
// before the bootstrap made them: createIgnoreAlreadyExists reads the
// existing one on 409) and retained on delete, since a live service runs
// as them; the CI accounts are plain. Adopting, the bootstrap does not
// initialise Identity Platform a second time.
func TestAdoptServiceAccounts(t *testing.T) {
	for _, adopt := range []bool{false, true} {
		res := run(t, with(exampleConfig(t), Namespace+":adoptServiceAccounts", fmt.Sprint(adopt), Namespace+":backends", `["notes"]`))
		if res.err != nil {
			t.Fatal(res.err)
		}
		stackIDs := map[string]bool{}
		for _, a := range names.Accounts(stackBackends([]string{"notes"})) {
			stackIDs[a.ID] = true
		}
		for _, a := range byType(res.rs, tAccount) {
			id := a.Str("accountId")
			own := stackIDs[id]
			if a.ImportID != "" {
				t.Errorf("adopt=%v: %s imported (%s): an import fails on an account that does not exist", adopt, id, a.ImportID)
			}
			if own != a.RetainOnDelete || own != (a.Input("createIgnoreAlreadyExists") == true) {
				t.Errorf("adopt=%v: %s (stack account %v) retained %v, createIgnoreAlreadyExists %v", adopt, id, own, a.RetainOnDelete, a.Input("createIgnoreAlreadyExists"))
			}
			delete(stackIDs, id)
			runtime := names.RuntimeAccount(stack.OriginalBackend)
			if id == runtime.ID && (a.Str("displayName") != runtime.DisplayName || a.Str("description") != runtime.Description) {
				t.Errorf("runtime account %q / %q differs from the main stack's", a.Str("displayName"), a.Str("description"))
			}
		}
		if len(stackIDs) != 0 {
			t.Errorf("adopt=%v: no account for %v", adopt, stackIDs)
		}
		if got := len(byType(res.rs, tAuth)); got != map[bool]int{false: 1, true: 0}[adopt] {
			t.Errorf("adopt=%v: %d Identity Platform configs (initializeAuth works once per project)", adopt, got)
		}
	}
}

// TestWorkloadIdentityMapping: the attributes the bindings name are mapped
// as the invariants require, and the bindings name no subject.
func TestWorkloadIdentityMapping(t *testing.T) {
	for attr, want := range invariants.GitHubAttributes {
		if AttributeMapping[attr] != want {
			t.Errorf("%s mapped from %q, the invariants expect %q", attr, AttributeMapping[attr], want)
		}
	}
	// google.subject reads claims of bounded length only: a mapped subject
	// over 127 bytes refuses the exchange, and GitHub's sub passes that
	// for long names (the local cloud's scenario e signs in with one).
	if subj := AttributeMapping["google.subject"]; subj != GitHubSubject || strings.Contains(subj, "assertion.sub") {
		t.Errorf("google.subject mapped from %q", subj)
	}
	res := run(t, with(exampleConfig(t), Namespace+":deployEnvironment", "prod", Namespace+":deployBranch", "release/v1"))
	if res.err != nil {
		t.Fatal(res.err)
	}
	pool := "principalSet://iam.googleapis.com/projects/" + projectNum + "/locations/global/workloadIdentityPools/github-actions/"
	want := map[string]string{"ci-deployer-wif": pool + "attribute.environment_ref/prod:refs/heads/release/v1", "ci-previewer-wif": pool + "attribute.event_name/pull_request"}
	for _, m := range byType(res.rs, tSAMember) {
		if w, ok := want[m.Name]; ok && m.Str("member") != w {
			t.Errorf("%s member %q, want %q", m.Name, m.Str("member"), w)
		}
	}
}

// TestProjectIAMWaitsForResourceManager: every project-level grant waits
// for Cloud Resource Manager, through which the provider reads and writes
// the project's policy (a fresh project may not have it on yet).
func TestProjectIAMWaitsForResourceManager(t *testing.T) {
	res := run(t, exampleConfig(t))
	if res.err != nil {
		t.Fatal(res.err)
	}
	crm := ""
	for _, s := range byType(res.rs, "gcp:projects/service:Service") {
		if s.Str("service") == "cloudresourcemanager.googleapis.com" {
			crm = s.Name
		}
	}
	members := byType(res.rs, tProjMember)
	if crm == "" || len(members) == 0 {
		t.Fatalf("no Cloud Resource Manager service (%q) or no project grants (%d)", crm, len(members))
	}
	for _, m := range members {
		if !slices.ContainsFunc(m.Dependencies, func(d string) bool { return strings.HasSuffix(d, "::"+crm) }) {
			t.Errorf("%s does not wait for %s (depends on %v)", m.Name, crm, m.Dependencies)
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
	if err := invariants.Run(res.rs); err != nil {
		t.Errorf("invariants with a backend: %v", err)
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
		return p[0].Inputs.Mappable()
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
