// Package invariants holds gatehouse's security invariants as checks over
// the resources a program registers: one set, run on the main stack's and
// the CI bootstrap's graphs alike (and, later, on the local cloud's final
// state). Each check states a rule for every resource of its kind, so it
// holds vacuously on a graph without that kind; the graph tests assert
// what each graph must contain. Each program's tests plant a violation of
// every check that applies to it and see the check fail.
package invariants

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/infra/components"
	pt "github.com/gatehouse/gatehouse/infra/internal/pulumitest"
)

// Resource types the checks read.
const (
	Account         = "gcp:serviceaccount/account:Account"
	RunService      = "gcp:cloudrunv2/service:Service"
	RunIamMember    = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
	APIConfig       = "gcp:apigateway/apiConfig:ApiConfig"
	Repository      = "gcp:artifactregistry/repository:Repository"
	ProjectMember   = "gcp:projects/iAMMember:IAMMember"
	AccountMember   = "gcp:serviceaccount/iAMMember:IAMMember"
	PoolProvider    = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
	Bucket          = "gcp:storage/bucket:Bucket"
	BucketIAMMember = "gcp:storage/bucketIAMMember:BucketIAMMember"
	CustomRole      = "gcp:projects/iAMCustomRole:IAMCustomRole"
)

// GitHubOIDCIssuer is the only identity provider issuer CI trusts.
const GitHubOIDCIssuer = "https://token.actions.githubusercontent.com"

// Check is one invariant.
type Check func([]pt.Resource) error

// All are every invariant, by name.
var All = map[string]Check{
	"invoker":                        Invoker,
	"backend checks its invoker":     InvokerChecked,
	"no public members":              NoPublicMembers,
	"dedicated runtime SA":           RuntimeAccount,
	"no basic roles":                 NoBasicRoles,
	"repository private":             RepositoryPrivate,
	"api config backend SA":          APIConfigBackendAuth,
	"no project-wide identity roles": NoProjectWideIdentityRoles,
	"repository pinned":              RepositoryPinned,
	"deploy only from environment":   DeployOnlyFromEnvironment,
	"actAs only on stack accounts":   ActAsOnlyStackAccounts,
	"state bucket private":           BucketPrivate,
	"roles documented":               RolesDocumented,
	"previewer read-only":            PreviewerReadOnly,
}

// Run runs every invariant; the error names each that fails.
func Run(rs []pt.Resource) error {
	var errs []error
	for _, name := range names() {
		if err := All[name](rs); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func names() []string {
	out := make([]string, 0, len(All))
	for k := range All {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Grant is one IAM grant of the graph: any resource whose type is an IAM
// member, binding or policy, with its role and members. A policy's whole
// JSON stands for both its role and its member.
type Grant struct {
	Res     pt.Resource
	Role    string
	Members []string
}

// Grants lists every IAM grant in rs.
func Grants(rs []pt.Resource) []Grant {
	var out []Grant
	for _, r := range rs {
		t := strings.ToLower(r.Type)
		switch {
		case strings.Contains(t, "iammember"):
			out = append(out, Grant{r, r.Str("role"), []string{r.Str("member")}})
		case strings.Contains(t, "iambinding"):
			var ms []string
			for _, m := range asSlice(r.Input("members")) {
				ms = append(ms, fmt.Sprint(m))
			}
			out = append(out, Grant{r, r.Str("role"), ms})
		case strings.Contains(t, "iampolicy"):
			out = append(out, Grant{r, "policy:" + r.Str("policyData"), []string{r.Str("policyData")}})
		}
	}
	return out
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// accountEmail is the email of the created account whose id ends with suffix.
func accountEmail(rs []pt.Resource, suffix string) string {
	for _, r := range pt.ByType(rs, Account) {
		if strings.HasSuffix(r.Str("accountId"), suffix) {
			return r.Str("accountId") + "@" + r.Str("project") + ".iam.gserviceaccount.com"
		}
	}
	return ""
}

func email(r pt.Resource) string {
	return r.Str("accountId") + "@" + r.Str("project") + ".iam.gserviceaccount.com"
}

// Invoker: every Cloud Run service has exactly one run.invoker grant, on
// that service, for exactly the gateway service account; there is none
// anywhere else (project level included).
func Invoker(rs []pt.Resource) error {
	svcs := pt.ByType(rs, RunService)
	var invokers []Grant
	for _, g := range Grants(rs) {
		if strings.Contains(g.Role, "run.invoker") {
			invokers = append(invokers, g)
		}
	}
	if len(invokers) != len(svcs) {
		return fmt.Errorf("%d run.invoker grants for %d services, want one each", len(invokers), len(svcs))
	}
	if len(svcs) == 0 {
		return nil
	}
	gw := "serviceAccount:" + gatewayEmail(rs)
	for _, s := range svcs {
		n := 0
		for _, g := range invokers {
			if g.Res.Type != RunIamMember {
				return fmt.Errorf("run.invoker granted by %s, want a service-level %s", g.Res.Type, RunIamMember)
			}
			if len(g.Members) != 1 || g.Members[0] != gw {
				return fmt.Errorf("run.invoker members = %v, want exactly [%s]", g.Members, gw)
			}
			if g.Res.Str("name") == s.Str("name") && g.Res.Str("location") == s.Str("location") {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("service %s/%s has %d run.invoker grants, want 1", s.Str("location"), s.Str("name"), n)
		}
	}
	return nil
}

// InvokerChecked: every Cloud Run service gets GATEWAY_SERVICE_ACCOUNT =
// the gateway account's email, the one account its backend serves the
// caller's identity to (service/backend, invoker.go): IAM lets project
// Owners, Editors and Cloud Run Admins invoke the service too, so the
// backend, not IAM, is what keeps them from sending a forged identity.
func InvokerChecked(rs []pt.Resource) error {
	gw := gatewayEmail(rs)
	for _, s := range pt.ByType(rs, RunService) {
		v, ok := "", false
		for _, e := range asSlice(s.Input("template.containers.0.envs")) {
			if m, _ := e.(map[string]any); m["name"] == "GATEWAY_SERVICE_ACCOUNT" {
				v, _ = m["value"].(string)
				ok = true
			}
		}
		if !ok || v == "" || v != gw {
			return fmt.Errorf("service %s has GATEWAY_SERVICE_ACCOUNT %q (set: %v), want the gateway account %q", s.Str("name"), v, ok, gw)
		}
	}
	return nil
}

// gatewayEmail is the gateway account's email: the one the API configs
// name (with existing accounts the graph creates none), else the created
// account ending in -gateway.
func gatewayEmail(rs []pt.Resource) string {
	for _, c := range pt.ByType(rs, APIConfig) {
		if sa := c.Str("gatewayConfig.backendConfig.googleServiceAccount"); sa != "" {
			return sa
		}
	}
	return accountEmail(rs, "-gateway")
}

// NoPublicMembers: nobody grants anything to allUsers or
// allAuthenticatedUsers.
func NoPublicMembers(rs []pt.Resource) error {
	var errs []error
	for _, g := range Grants(rs) {
		for _, m := range g.Members {
			if strings.Contains(m, "allUsers") || strings.Contains(m, "allAuthenticatedUsers") {
				errs = append(errs, fmt.Errorf("%s %s grants %s to %s", g.Res.Type, g.Res.Name, g.Role, m))
			}
		}
	}
	return errors.Join(errs...)
}

// RuntimeAccount: each Cloud Run service runs as its own dedicated
// account, of the stack (never the default compute account, never the
// gateway's, never shared), and no runtime account holds a project-level
// role.
func RuntimeAccount(rs []pt.Resource) error {
	created := map[string]bool{}
	for _, a := range pt.ByType(rs, Account) {
		created[email(a)] = true
	}
	gateway := gatewayEmail(rs)
	used := map[string]string{}
	for _, s := range pt.ByType(rs, RunService) {
		sa := s.Str("template.serviceAccount")
		switch {
		case sa == "" || sa == gateway || strings.HasSuffix(sa, "-compute@developer.gserviceaccount.com") ||
			(len(created) > 0 && !created[sa]) || !strings.HasSuffix(sa, ".iam.gserviceaccount.com"):
			return fmt.Errorf("the Cloud Run service %s runs as %q, want a dedicated runtime account of the stack", s.Name, sa)
		case used[sa] != "":
			return fmt.Errorf("the Cloud Run services %s and %s share the runtime account %s", used[sa], s.Name, sa)
		}
		used[sa] = s.Name
	}
	for _, g := range Grants(rs) {
		if strings.HasPrefix(g.Res.Type, "gcp:projects/") || strings.HasPrefix(g.Res.Type, "gcp:organizations/") {
			for _, m := range g.Members {
				for sa := range used {
					if strings.Contains(m, sa) {
						return fmt.Errorf("runtime account %s holds project role %s via %s", sa, g.Role, g.Res.Name)
					}
				}
			}
		}
	}
	return nil
}

// NoBasicRoles: no owner, editor or viewer anywhere, in a grant's role or
// inside a policy.
func NoBasicRoles(rs []pt.Resource) error {
	for _, g := range Grants(rs) {
		for _, basic := range []string{"roles/owner", "roles/editor", "roles/viewer"} {
			if g.Role == basic || strings.Contains(g.Role, `"`+basic+`"`) {
				return fmt.Errorf("%s %s grants basic role %s", g.Res.Type, g.Res.Name, basic)
			}
		}
	}
	return nil
}

// RepositoryPrivate: at most one image repository, and it grants nothing to
// anyone (pushes use the deployer's token, Cloud Run pulls as its service
// agent).
func RepositoryPrivate(rs []pt.Resource) error {
	if n := len(pt.ByType(rs, Repository)); n > 1 {
		return fmt.Errorf("%d Artifact Registry repositories, want one for the stack", n)
	}
	for _, g := range Grants(rs) {
		if strings.HasPrefix(g.Res.Type, "gcp:artifactregistry/") {
			return fmt.Errorf("repository IAM grant %s %v via %s", g.Role, g.Members, g.Res.Name)
		}
	}
	return nil
}

// APIConfigBackendAuth: the gateway calls the backends as the gateway
// service account.
func APIConfigBackendAuth(rs []pt.Resource) error {
	cfgs := pt.ByType(rs, APIConfig)
	if len(cfgs) > 1 {
		return fmt.Errorf("%d API configs, want 1", len(cfgs))
	}
	for _, c := range cfgs {
		got := c.Str("gatewayConfig.backendConfig.googleServiceAccount")
		if !strings.HasSuffix(got, "-gateway@"+c.Str("project")+".iam.gserviceaccount.com") {
			return fmt.Errorf("API config backend auth uses %q, want the stack's gateway account", got)
		}
		if created := accountEmail(rs, "-gateway"); created != "" && got != created {
			return fmt.Errorf("API config backend auth uses %q, want the gateway account %s", got, created)
		}
	}
	return nil
}

// NoProjectWideIdentityRoles: nothing at project level lets an account act
// as, create keys or tokens for, or administer other accounts, or change
// the project's IAM policy.
func NoProjectWideIdentityRoles(rs []pt.Resource) error {
	for _, g := range pt.ByType(rs, ProjectMember) {
		r := g.Str("role")
		if strings.HasPrefix(r, "roles/iam.") || r == "roles/resourcemanager.projectIamAdmin" || r == "roles/owner" {
			return fmt.Errorf("project-level %s granted to %s", r, g.Str("member"))
		}
	}
	return nil
}

// conditionRe is the only attribute condition a GitHub provider may have:
// one repository, pinned by its name and its numeric id.
var conditionRe = regexp.MustCompile(`^assertion\.repository == '([A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+)' && assertion\.repository_id == '[0-9]+'$`)

// GitHubAttributes are the attributes workload identity grants may name,
// each with the one mapping that makes it mean what the grant assumes
// (infra/bootstrap's AttributeMapping; a test there keeps the two equal).
var GitHubAttributes = map[string]string{
	"attribute.event_name":      "assertion.event_name",
	"attribute.environment_ref": "(has(assertion.environment) ? assertion.environment : '') + ':' + assertion.ref",
}

// RepositoryPinned: at most one workload identity provider, GitHub's, whose
// condition admits one repository's tokens only (by name and id), and whose
// attributes that grants name are mapped from the claims they stand for.
// Workload identity grants name principal sets of that provider's pool
// only.
func RepositoryPinned(rs []pt.Resource) error {
	ps := pt.ByType(rs, PoolProvider)
	if len(ps) > 1 {
		return fmt.Errorf("%d identity providers, want 1", len(ps))
	}
	for _, p := range ps {
		if iss := p.Str("oidc.issuerUri"); iss != GitHubOIDCIssuer {
			return fmt.Errorf("provider issuer %q, want %s", iss, GitHubOIDCIssuer)
		}
		if cond := p.Str("attributeCondition"); !conditionRe.MatchString(cond) {
			return fmt.Errorf("attribute condition %q does not pin one repository by name and id", cond)
		}
		mapping, _ := p.Input("attributeMapping").(map[string]any)
		for attr, want := range GitHubAttributes {
			if got, _ := mapping[attr].(string); got != want {
				return fmt.Errorf("provider maps %s from %q, want %q", attr, got, want)
			}
		}
	}
	for _, g := range pt.ByType(rs, AccountMember) {
		if r := g.Str("role"); r != "roles/iam.workloadIdentityUser" && r != "roles/iam.workloadIdentityPoolUser" {
			continue
		}
		if m := g.Str("member"); !strings.HasPrefix(m, "principalSet://iam.googleapis.com/projects/") || !strings.Contains(m, "/workloadIdentityPools/") {
			return fmt.Errorf("workload identity is granted to %q, want a principal set of the provider's pool", m)
		}
	}
	return nil
}

// DeployOnlyFromEnvironment: the deployer can be impersonated only by a job
// of one environment on one branch (attribute.environment_ref ENV:refs/heads/BRANCH),
// the previewer only by pull requests' jobs (attribute.event_name
// pull_request); nobody else by workload identity, and never by a subject
// (GitHub's subjects changed form for new repositories) or a whole pool.
func DeployOnlyFromEnvironment(rs []pt.Resource) error {
	deployer, previewer := accountEmail(rs, "-deploy"), accountEmail(rs, "-preview")
	envRe := regexp.MustCompile(`^principalSet://iam\.googleapis\.com/projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]+/attribute\.environment_ref/[A-Za-z0-9_.-]+:refs/heads/[A-Za-z0-9_][A-Za-z0-9_./-]*$`)
	prRe := regexp.MustCompile(`^principalSet://iam\.googleapis\.com/projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]+/attribute\.event_name/pull_request$`)
	want := map[string]*regexp.Regexp{}
	if deployer != "" {
		want[deployer] = envRe
	}
	if previewer != "" {
		want[previewer] = prRe
	}
	seen := map[string]int{}
	for _, g := range pt.ByType(rs, AccountMember) {
		if r := g.Str("role"); r != "roles/iam.workloadIdentityUser" && r != "roles/iam.workloadIdentityPoolUser" {
			continue
		}
		id := g.Str("serviceAccountId")
		target := id[strings.LastIndex(id, "/")+1:]
		re, ok := want[target]
		if !ok {
			return fmt.Errorf("workload identity grant on %s, want only the deployer and previewer", target)
		}
		if m := g.Str("member"); !re.MatchString(m) {
			return fmt.Errorf("%s can be impersonated by %q, want %s", target, m, re)
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

// ActAsOnlyStackAccounts: the only account-level grants besides workload
// identity are serviceAccountUser for the deployer, on each of the stack's
// own accounts once (its runtime and gateway accounts, not the CI ones).
func ActAsOnlyStackAccounts(rs []pt.Resource) error {
	deployer := accountEmail(rs, "-deploy")
	var allowed []string
	for _, a := range pt.ByType(rs, Account) {
		if id := a.Str("accountId"); !strings.HasSuffix(id, "-deploy") && !strings.HasSuffix(id, "-preview") {
			allowed = append(allowed, email(a))
		}
	}
	found := 0
	for _, g := range pt.ByType(rs, AccountMember) {
		r := g.Str("role")
		if r == "roles/iam.workloadIdentityUser" || r == "roles/iam.workloadIdentityPoolUser" {
			continue
		}
		id := g.Str("serviceAccountId")
		target := id[strings.LastIndex(id, "/")+1:]
		if deployer == "" || r != "roles/iam.serviceAccountUser" || !slices.Contains(allowed, target) || g.Str("member") != "serviceAccount:"+deployer {
			return fmt.Errorf("%s on %s for %s; want only serviceAccountUser on the stack's accounts for the deployer", r, target, g.Str("member"))
		}
		found++
	}
	if deployer != "" && found != len(allowed) {
		return fmt.Errorf("%d actAs grants, want %d (one per stack account)", found, len(allowed))
	}
	return nil
}

// BucketPrivate: a state bucket is versioned, uniform, public access
// prevented and protected; only the two CI accounts get access, the
// previewer read access only (a preview takes no lock).
func BucketPrivate(rs []pt.Resource) error {
	for _, b := range pt.ByType(rs, Bucket) {
		if b.Input("uniformBucketLevelAccess") != true || b.Str("publicAccessPrevention") != "enforced" || b.Input("versioning.enabled") != true || !b.Protect {
			return fmt.Errorf("state bucket %s: uniform %v, public access prevention %q, versioning %v, protect %v",
				b.Str("name"), b.Input("uniformBucketLevelAccess"), b.Str("publicAccessPrevention"), b.Input("versioning.enabled"), b.Protect)
		}
	}
	deployer, previewer := "serviceAccount:"+accountEmail(rs, "-deploy"), "serviceAccount:"+accountEmail(rs, "-preview")
	for _, g := range pt.ByType(rs, BucketIAMMember) {
		m, r := g.Str("member"), g.Str("role")
		switch {
		case strings.Contains(m, "allUsers") || strings.Contains(m, "allAuthenticatedUsers"):
			return fmt.Errorf("state bucket grants %s to %s", r, m)
		case m == deployer:
		case m == previewer:
			if r != "roles/storage.objectViewer" {
				return fmt.Errorf("previewer holds %s on the state bucket, want roles/storage.objectViewer only", r)
			}
		default:
			return fmt.Errorf("state bucket grants %s to %s", r, m)
		}
	}
	return nil
}

// RolesDocumented: every project role is the deployer's or the previewer's:
// the deployer's a predefined role the stack's components declare
// (components.Needs, each with its reason) or its custom role, the
// previewer's its custom role only; each custom role holds only
// permissions the components declare for that account.
func RolesDocumented(rs []pt.Resource) error {
	var all components.Needs
	for _, firebase := range []bool{false, true} {
		for _, existing := range []bool{false, true} {
			all = all.Plus(components.StackNeeds(components.StackOptions{ManageFirebase: firebase, ExistingServiceAccounts: existing}))
		}
	}
	deploy := components.Roles(all.DeployRoles)
	deployer, previewer := "serviceAccount:"+accountEmail(rs, "-deploy"), "serviceAccount:"+accountEmail(rs, "-preview")
	custom := map[string][]string{} // role name -> permissions
	for _, r := range pt.ByType(rs, CustomRole) {
		var perms []string
		for _, p := range asSlice(r.Input("permissions")) {
			perms = append(perms, fmt.Sprint(p))
		}
		custom["projects/"+r.Str("project")+"/roles/"+r.Str("roleId")] = perms
	}
	within := func(role string, allowed []components.Permission) error {
		for _, p := range custom[role] {
			if !slices.Contains(components.Names(allowed), p) {
				return fmt.Errorf("custom role %s holds %s, which no component declares", role, p)
			}
		}
		return nil
	}
	for _, g := range pt.ByType(rs, ProjectMember) {
		m, r := g.Str("member"), g.Str("role")
		_, isCustom := custom[r]
		switch {
		case m == deployer && isCustom:
			if err := within(r, all.DeployPermissions); err != nil {
				return err
			}
		case m == deployer && !slices.Contains(deploy, r):
			return fmt.Errorf("deployer holds undocumented project role %s", r)
		case m == previewer && !isCustom:
			return fmt.Errorf("previewer holds project role %s, want its read-only custom role only", r)
		case m == previewer:
			if err := within(r, all.PreviewPermissions); err != nil {
				return err
			}
		case m != deployer && m != previewer:
			return fmt.Errorf("project role %s granted to %s", r, m)
		}
	}
	return nil
}

// readOnlyRe are the permissions that change nothing: reads and the quota
// project's use.
var readOnlyRe = regexp.MustCompile(`\.(get|list|getIamPolicy)$|^serviceusage\.services\.use$`)

// PreviewerReadOnly: every permission of a role the previewer holds
// through a custom role reads, and changes nothing.
func PreviewerReadOnly(rs []pt.Resource) error {
	previewer := "serviceAccount:" + accountEmail(rs, "-preview")
	for _, g := range pt.ByType(rs, ProjectMember) {
		if g.Str("member") != previewer {
			continue
		}
		for _, r := range pt.ByType(rs, CustomRole) {
			if g.Str("role") != "projects/"+r.Str("project")+"/roles/"+r.Str("roleId") {
				continue
			}
			for _, p := range asSlice(r.Input("permissions")) {
				if !readOnlyRe.MatchString(fmt.Sprint(p)) {
					return fmt.Errorf("the previewer's role %s holds %v, which is not read-only", r.Str("roleId"), p)
				}
			}
		}
	}
	return nil
}

// CredentialPaths lists the paths in a resource's inputs v that hold a
// credential: a set value under a key that names one (password,
// accessToken, credentials, token, privateKey), or a Google OAuth access
// token (ya29.) anywhere. Inputs are stored in the stack's state, which
// pull-request jobs can read (issue #24): no input may hold one.
func CredentialPaths(v any, path string) []string {
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			p := strings.TrimPrefix(path+"."+k, ".")
			switch strings.ToLower(k) {
			case "password", "accesstoken", "credentials", "token", "privatekey":
				if e != nil && fmt.Sprint(e) != "" {
					out = append(out, p+" holds a credential")
					continue
				}
			}
			out = append(out, CredentialPaths(e, p)...)
		}
	case []any:
		for i, e := range t {
			out = append(out, CredentialPaths(e, fmt.Sprintf("%s.%d", path, i))...)
		}
	case string:
		if strings.HasPrefix(t, "ya29.") {
			out = append(out, path+" holds an OAuth access token")
		}
	}
	return out
}
