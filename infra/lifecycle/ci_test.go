package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// impersonate gets a service account's token as
// `gcloud auth print-access-token --impersonate-service-account` does:
// IAM Credentials' generateAccessToken, called with the caller's token.
func (e *env) impersonate(t *testing.T, callerToken, email string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"scope": []string{"https://www.googleapis.com/auth/cloud-platform"}})
	req, _ := http.NewRequest(http.MethodPost, e.base+"/iamcredentials/v1/projects/-/serviceAccounts/"+email+":generateAccessToken", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+callerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct{ AccessToken string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("impersonate %s: %s %s", email, resp.Status, raw)
	}
	return out.AccessToken
}

// googleCall is a Google API call with a token (the owner changing IAM).
func (e *env) googleCall(t *testing.T, token, method, path string, in any) map[string]any {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, body)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, raw)
	}
	return out
}

// setRoleMember adds (or removes) member in role of the project's policy,
// by read-modify-write with the etag.
func (e *env) setRoleMember(t *testing.T, token, project, role, member string, add bool) {
	t.Helper()
	p := e.googleCall(t, token, http.MethodPost, "/cloudresourcemanager/v1/projects/"+project+":getIamPolicy", map[string]any{})
	raw, _ := json.Marshal(p["bindings"])
	var bindings []map[string]any
	_ = json.Unmarshal(raw, &bindings)
	found := false
	for _, b := range bindings {
		if b["role"] != role || b["condition"] != nil {
			continue
		}
		found = true
		var members []string
		for _, m := range b["members"].([]any) {
			if m.(string) != member {
				members = append(members, m.(string))
			}
		}
		if add {
			members = append(members, member)
		}
		b["members"] = members
	}
	if !found && add {
		bindings = append(bindings, map[string]any{"role": role, "members": []string{member}})
	}
	e.googleCall(t, token, http.MethodPost, "/cloudresourcemanager/v1/projects/"+project+":setIamPolicy",
		map[string]any{"policy": map[string]any{"etag": p["etag"], "bindings": bindings}})
}

// rolesOf lists the project roles a member holds.
func (e *env) rolesOf(t *testing.T, token, project, member string) []string {
	t.Helper()
	p := e.googleCall(t, token, http.MethodPost, "/cloudresourcemanager/v1/projects/"+project+":getIamPolicy", map[string]any{})
	var roles []string
	bs, _ := p["bindings"].([]any)
	for _, b := range bs {
		bm := b.(map[string]any)
		for _, m := range bm["members"].([]any) {
			if m == member && bm["condition"] == nil {
				roles = append(roles, bm["role"].(string))
			}
		}
	}
	sort.Strings(roles)
	return slices.Compact(roles)
}

// permissionRe finds the permission a 403 names: "Permission 'P' denied on
// ...", or the quota project's "... with the serviceusage.services.use
// permission".
var permissionRe = regexp.MustCompile(`Permission ['"]([a-z]+\.[A-Za-z.]+)['"] denied|with the ([a-z]+\.[A-Za-z.]+) permission`)

func namedPermission(out string) string {
	m := permissionRe.FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1] + m[2]
}

// diagnostics keeps the error lines of a pulumi run, once each.
func diagnostics(out string) string {
	seen := map[string]bool{}
	var keep []string
	for _, l := range lines(out) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "+ ") || strings.HasPrefix(l, "@ ") || seen[l] || !(strings.Contains(l, "error") || strings.Contains(l, "Error")) {
			continue
		}
		seen[l] = true
		keep = append(keep, "    "+l)
	}
	return strings.Join(keep, "\n")
}

// customRole reads a custom role's permissions, and setCustomRole
// replaces them, as the owner (IAM projects.roles get and patch).
func (e *env) customRole(t *testing.T, token, name string) []string {
	t.Helper()
	r := e.googleCall(t, token, http.MethodGet, "/iam/v1/"+name, nil)
	var perms []string
	for _, p := range r["includedPermissions"].([]any) {
		perms = append(perms, p.(string))
	}
	return perms
}

func (e *env) setCustomRole(t *testing.T, token, name string, perms []string) {
	t.Helper()
	e.googleCall(t, token, http.MethodPatch, "/iam/v1/"+name+"?updateMask=includedPermissions", map[string]any{"includedPermissions": perms})
}

// without is perms less p.
func without(perms []string, p string) []string {
	var out []string
	for _, q := range perms {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// granted are the permissions principal was granted in the log, each with
// the first method that needed it.
func granted(log []logEntry, principal string) map[string]string {
	out := map[string]string{}
	for _, r := range log {
		if r.Principal != principal || r.Code >= 400 {
			continue
		}
		for _, p := range r.Permissions {
			if _, ok := out[p]; !ok {
				out[p] = r.MethodID
			}
		}
	}
	return out
}

// TestScenarioE is scenario e, the CI path on a fresh project and a new
// repository, followed as the README writes it: its CI steps 1-4 run by
// bash as the owner (gcloud, gh and git are stand-ins, readme_test.go);
// then the workflows' jobs sign in as google-github-actions/auth does,
// with the variables the README set, from GitHub tokens of a repository
// created after 2026-06-18 (immutable ids in its subject): the deploy
// job's `up` as the deployer, the pull request's `preview` as the
// previewer. Every deployer role and every permission of both custom roles
// is needed: taken away, the run fails with a 403 naming a permission.
func TestScenarioE(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project, repoID = "gatehouse-e", "424242"
	e.project(t, project, 0)
	start := time.Now()
	checkout, home := e.newCheckout(t), newHome(t)
	ownerToken := e.token(t, owner)
	main := &stack{e: e, t: t, checkout: checkout, dir: checkout, project: project, name: "dev", home: home, token: ownerToken}

	// The README's CI steps 1 to 4, as written.
	var blocks []string
	for _, m := range []string{"1. **Sign in", "2. **Run the bootstrap**", "3. **Set the repository's variables", "4. **Create the main stack"} {
		blocks = append(blocks, readmeBlock(t, e, m))
	}
	out, rec, err := main.readmeRun("e: the README's CI steps 1-4 (owner)", repoID, blocks...)
	if err != nil {
		t.Fatalf("e: the README's CI steps failed: %v\n%s", err, tail(out, 40))
	}
	for _, want := range []string{"gcloud services enable cloudresourcemanager.googleapis.com serviceusage.googleapis.com --project " + project,
		"gh secret set PULUMI_CONFIG_PASSPHRASE --env production", "git add Pulumi.dev.yaml"} {
		if !strings.Contains(rec, want) {
			t.Errorf("e: the README's steps did not run %q; ran:\n%s", want, rec)
		}
	}
	vars := ghVariables(rec)
	provVar, deployVar := workflowAuth(t, e, "deploy.yml")
	previewProvVar, previewVar := workflowAuth(t, e, "preview.yml")
	provider, deployer, previewer := vars[provVar], vars[deployVar], vars[previewVar]
	if vars[previewProvVar] != provider || !strings.HasSuffix(deployer, "@"+project+".iam.gserviceaccount.com") || !strings.HasSuffix(previewer, "@"+project+".iam.gserviceaccount.com") {
		t.Fatalf("e: repository variables %v", vars)
	}
	if !regexp.MustCompile(`^projects/[0-9]+/locations/global/workloadIdentityPools/github-actions/providers/github$`).MatchString(provider) {
		t.Errorf("%s = %q, want the project-number form", provVar, provider)
	}
	if vars["PULUMI_BACKEND_URL"] != "gs://"+project+"-pulumi-state" {
		t.Errorf("PULUMI_BACKEND_URL = %q", vars["PULUMI_BACKEND_URL"])
	}

	// Who may become which account (issue #24 item 1 and the pull-request
	// items), through STS and generateAccessToken.
	prClaims := func() map[string]any {
		return repoClaims(repoID, "environment", nil, "event_name", "pull_request", "ref", "refs/pull/7/merge",
			"sub", "repo:octo-org@9001/gatehouse@"+repoID+":pull_request")
	}
	for _, tt := range []struct {
		name, account string
		claims        map[string]any
		ok            bool
	}{
		{"the deploy job on main", deployer, repoClaims(repoID), true},
		{"a manual deploy (workflow_dispatch) on main", deployer, repoClaims(repoID, "event_name", "workflow_dispatch"), true},
		{"the deploy job, subject in the old format", deployer, repoClaims(repoID, "sub", "repo:octo-org/gatehouse:environment:production"), true},
		// Long owner and repository names: the new subject passes the 127
		// bytes a mapped google.subject may hold (infra/bootstrap maps
		// another subject).
		{"the deploy job, a subject over 127 bytes", deployer, repoClaims(repoID, "sub", "repo:"+strings.Repeat("o", 39)+"@9001/"+strings.Repeat("g", 80)+"@"+repoID+":environment:production"), true},
		{"a branch naming the production environment", deployer, repoClaims(repoID, "ref", "refs/heads/feature"), false},
		{"a pull request", deployer, prClaims(), false},
		{"a repository of the same name (another id)", deployer, repoClaims("7"), false},
		{"a pull request, as the previewer", previewer, prClaims(), true},
		{"the deploy job, as the previewer", previewer, repoClaims(repoID), false},
	} {
		_, err := e.githubJob(t, provider, tt.account, tt.claims)
		if (err == nil) != tt.ok {
			t.Errorf("e: %s: got a token %v, want %v (%v)", tt.name, err == nil, tt.ok, err)
		}
	}

	// The deploy workflow: `up` as the deployer, with sign-up closed
	// (gatehouse:allowSignUp false, as the README advises for an internal
	// API), which updates the configuration the bootstrap initialised open.
	// The one test-only step: images go to the cloud's registry.
	main.config(map[string]string{"gatehouse:imageRegistry": e.registry, "gatehouse:allowSignUp": "false"})
	authConfig := "/identitytoolkit/v2/projects/" + project + "/config"
	signUpClosed := func() bool {
		c := e.googleCall(t, ownerToken, http.MethodGet, authConfig, nil)
		client, _ := c["client"].(map[string]any)
		perms, _ := client["permissions"].(map[string]any)
		return perms["disabledUserSignup"] == true
	}
	if signUpClosed() {
		t.Fatal("e: sign-up is closed before the deploy: the update below would prove nothing")
	}
	deployToken, err := e.githubJob(t, provider, deployer, repoClaims(repoID))
	if err != nil {
		t.Fatal(err)
	}
	main.token = deployToken
	from := e.seq(t) + 1
	if out, err := main.up("e: main stack up (the deploy job, as the deployer)"); err != nil {
		t.Fatalf("e: the main stack's up as the deployer failed: %v\n%s", err, diagnostics(out))
	}
	if !signUpClosed() {
		t.Error("e: the deployer's up left sign-up open in the adopted Identity Platform configuration")
	}
	log := e.requests(t, project, from)
	for _, r := range log {
		if r.MethodID == "firebase.projects.addFirebase" || r.MethodID == "identitytoolkit.projects.identityPlatform.initializeAuth" || strings.HasSuffix(r.Path, ".cloud.goog:enable") {
			t.Errorf("e: the deployer called %s", r.MethodID)
		}
	}
	used := granted(log, "serviceAccount:"+deployer)
	deployerRole := "projects/" + project + "/roles/gatehouse_deployer"
	deployerPerms := e.customRole(t, ownerToken, deployerRole)
	for _, p := range deployerPerms {
		if used[p] == "" {
			t.Errorf("e: the deployer's custom role holds %s, which its up never used", p)
		}
	}
	fmt.Printf("    the deployer's up was granted (permission <- first call that needed it):\n")
	for _, p := range slices.Sorted(maps.Keys(used)) {
		fmt.Printf("      %-45s <- %s\n", p, used[p])
	}

	// Every deployer role, and every permission of its custom role, is
	// needed: without it, a first deploy fails with a 403 naming a
	// permission.
	member := "serviceAccount:" + deployer
	ownerRun := *main
	ownerRun.token = ownerToken
	destroy := func() {
		if out, err := ownerRun.run("destroy", "--yes", "--skip-preview", "--stack", main.name); err != nil {
			t.Fatalf("e: destroy as the owner: %v\n%s", err, tail(out, 20))
		}
	}
	needed := func(what string, take, give func()) {
		destroy()
		// The configuration is retained on destroy: open sign-up again, as
		// the bootstrap left it, so that each first deploy updates it.
		e.googleCall(t, ownerToken, http.MethodPatch, authConfig+"?updateMask=client.permissions.disabledUserSignup",
			map[string]any{"client": map[string]any{"permissions": map[string]any{"disabledUserSignup": false}}})
		take()
		out, err := main.up("e: up as the deployer without " + what)
		give()
		perm := namedPermission(out)
		switch {
		case err == nil:
			t.Errorf("e: %s is not needed: the deployer's up succeeded without it", what)
		case perm == "" || !strings.Contains(out, "403"):
			t.Errorf("e: without %s the up failed, but not with a 403 naming a permission:\n%s", what, diagnostics(out))
		default:
			fmt.Printf("    without %-45s 403 on %s\n", what, perm)
		}
	}
	roles := e.rolesOf(t, ownerToken, project, member)
	if len(roles) == 0 || !slices.Contains(roles, deployerRole) || slices.Contains(roles, "roles/firebase.admin") || slices.Contains(roles, "roles/identitytoolkit.admin") {
		t.Errorf("e: the deployer's project roles are %v", roles)
	}
	for _, role := range roles {
		if role == deployerRole {
			continue
		}
		needed(role, func() { e.setRoleMember(t, ownerToken, project, role, member, false) }, func() { e.setRoleMember(t, ownerToken, project, role, member, true) })
	}
	for _, p := range deployerPerms {
		needed(p+" (custom role)", func() { e.setCustomRole(t, ownerToken, deployerRole, without(deployerPerms, p)) },
			func() { e.setCustomRole(t, ownerToken, deployerRole, deployerPerms) })
	}
	main.mustUp("e: up as the deployer again")

	// The preview workflow: `preview` as the previewer succeeds (it reads
	// the web app's config), each permission of its role is needed, and an
	// `up` as the previewer is refused.
	pre := *main
	if pre.token, err = e.githubJob(t, provider, previewer, prClaims()); err != nil {
		t.Fatal(err)
	}
	from = e.seq(t) + 1
	if out, err := pre.run("preview", "--stack", main.name); err != nil {
		t.Errorf("e: preview as the previewer failed: %v\n%s", err, diagnostics(out))
	}
	previewUsed := granted(e.requests(t, project, from), "serviceAccount:"+previewer)
	previewerRole := "projects/" + project + "/roles/gatehouse_previewer"
	previewerPerms := e.customRole(t, ownerToken, previewerRole)
	if r := e.rolesOf(t, ownerToken, project, "serviceAccount:"+previewer); len(r) != 1 || r[0] != previewerRole {
		t.Errorf("e: the previewer's project roles are %v, want its custom role only", r)
	}
	fmt.Printf("    the previewer's preview was granted:\n")
	for _, p := range slices.Sorted(maps.Keys(previewUsed)) {
		fmt.Printf("      %-45s <- %s\n", p, previewUsed[p])
	}
	for _, p := range previewerPerms {
		if previewUsed[p] == "" {
			t.Errorf("e: the previewer's role holds %s, which its preview never used", p)
		}
		e.setCustomRole(t, ownerToken, previewerRole, without(previewerPerms, p))
		out, err := pre.run("preview", "--stack", main.name)
		e.setCustomRole(t, ownerToken, previewerRole, previewerPerms)
		if perm := namedPermission(out); err == nil || perm == "" {
			t.Errorf("e: the preview without %s: %v, %q\n%s", p, err, perm, diagnostics(out))
		} else {
			fmt.Printf("    preview without %-37s 403 on %s\n", p, perm)
		}
	}
	// A pull request's job running `up` with a change of its own (a log
	// level, which updates the Cloud Run service): the previewer may make
	// no change. (With nothing to change an up calls no write method, so
	// the change is what makes this test able to fail.)
	pre.config(map[string]string{"gatehouse:logLevel": "debug"})
	from = e.seq(t) + 1
	out, err = pre.up("e: up as the previewer (a config change)")
	switch perm := namedPermission(out); {
	case err == nil:
		t.Errorf("e: up as the previewer succeeded")
	case perm == "":
		t.Errorf("e: up as the previewer failed, but not with a 403 naming a permission: %v\n%s", err, diagnostics(out))
	default:
		fmt.Printf("    up as the previewer                                   403 on %s\n", perm)
	}
	for _, r := range mutations(e.requests(t, project, from)) {
		if r.Principal == "serviceAccount:"+previewer && r.Code < 300 {
			t.Errorf("e: the previewer's up changed %s %s", r.MethodID, r.Path)
		}
	}
	fmt.Printf("    scenario e: %.0fs\n", time.Since(start).Seconds())
}

// TestScenarioF is scenario f: the README's steps for a stack deployed from
// a laptop before the bootstrap, run as written, on the two-backend stack:
// nothing is deleted or recreated, the bootstrap adopts every backend's
// account and leaves Identity Platform alone, and the deploy job's next
// `up` as the deployer changes nothing.
func TestScenarioF(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project, repoID = "gatehouse-f", "515151"
	e.project(t, project, 0)
	start := time.Now()
	checkout, home := e.newCheckout(t), newHome(t)
	main := e.newStackIn(t, checkout, home, project, false, "Pulumi.v2.yaml", nil)
	main.mustUp("f: main stack up from a laptop (owner)")
	accounts := []string{"gatehouse-runtime", "gatehouse-notes-rt", "gatehouse-gateway"}

	// The bootstrap's stack set up as README step 2 up to its pulumi up,
	// with the stack's further backend listed.
	boot := e.newStackIn(t, checkout, home, project, true, "", map[string]string{
		"gatehouse-bootstrap:githubRepository":   "octo-org/gatehouse",
		"gatehouse-bootstrap:githubRepositoryId": repoID,
		"gatehouse-bootstrap:backends[0]":        "notes",
	})
	main.mustRun("stack", "select", main.name)
	from := e.seq(t) + 1
	out, _, err := main.readmeRun("f: the README's adoption steps (owner)", repoID, readmeBlock(t, e, "**A stack already deployed from a laptop**"))
	if err != nil {
		t.Errorf("f: the README's adoption steps failed: %v\n%s", err, diagnostics(out))
	}
	checkNothingDeleted := func(what string, log []logEntry) {
		for _, r := range log {
			if r.Code < 300 && (r.MethodID == "iam.projects.serviceAccounts.delete" || r.MethodID == "identitytoolkit.projects.identityPlatform.initializeAuth" ||
				strings.HasSuffix(r.MethodID, ".delete") && !strings.Contains(r.MethodID, "operations")) {
				t.Errorf("f: %s: %s %s", what, r.MethodID, r.Path)
			}
		}
	}
	checkNothingDeleted("the README's steps", e.requests(t, project, from))
	st := e.state(t)
	for _, a := range accounts {
		if _, ok := st["projects/"+project+"/serviceAccounts/"+a+"@"+project+".iam.gserviceaccount.com"]; !ok {
			t.Errorf("f: account %s is gone", a)
		}
	}

	// The deploy job's next up, as the deployer: nothing to change.
	bo := boot.outputs()
	deployToken, err := e.githubJob(t, fmt.Sprint(bo["GCP_WORKLOAD_IDENTITY_PROVIDER"]), fmt.Sprint(bo["GCP_DEPLOY_SERVICE_ACCOUNT"]), repoClaims(repoID))
	if err != nil {
		t.Fatal(err)
	}
	main.token = deployToken
	from = e.seq(t) + 1
	if out, err := main.up("f: the deploy job's up (deployer)"); err != nil {
		t.Errorf("f: the deployer's up after adoption failed: %v\n%s", err, diagnostics(out))
	}
	for _, r := range mutations(e.requests(t, project, from)) {
		if !strings.HasPrefix(r.Path, "/v2/") {
			t.Errorf("f: the deployer's up after adoption changed %s %s", r.MethodID, r.Path)
		}
	}
	fmt.Printf("    scenario f: %.0fs\n", time.Since(start).Seconds())
}
