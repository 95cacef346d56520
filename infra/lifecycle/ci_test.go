package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(method, e.base+path, bytes.NewReader(b))
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
var permissionRe = regexp.MustCompile(`Permission '([a-z]+\.[A-Za-z.]+)' denied|with the ([a-z]+\.[A-Za-z.]+) permission`)

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

// TestScenarioE is scenario e, the CI path: the bootstrap as the owner;
// the main stack's up as the deployer (its own token, least privilege);
// every deployer role needed (taken away, up fails with a 403 naming a
// permission); preview as the previewer succeeds, up as the previewer
// fails with 403.
func TestScenarioE(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project = "gatehouse-e"
	e.project(t, project, 0)
	start := time.Now()
	boot := e.newStack(t, project, true, "", map[string]string{
		"gatehouse-bootstrap:githubRepository": "octo-org/gatehouse",
		"gatehouse-bootstrap:stateBucket":      project + "-pulumi-state",
	})
	if out, err := boot.up("e: bootstrap up (owner)"); err != nil {
		t.Fatalf("e: the bootstrap as the owner failed: %v\n%s", err, diagnostics(out))
	}
	bo := boot.outputs()
	deployer, _ := bo["GCP_DEPLOY_SERVICE_ACCOUNT"].(string)
	previewer, _ := bo["GCP_PREVIEW_SERVICE_ACCOUNT"].(string)
	if !strings.HasSuffix(deployer, "@"+project+".iam.gserviceaccount.com") || !strings.HasSuffix(previewer, "@"+project+".iam.gserviceaccount.com") {
		t.Fatalf("bootstrap outputs: %v", bo)
	}
	if wip, _ := bo["GCP_WORKLOAD_IDENTITY_PROVIDER"].(string); !regexp.MustCompile(`^projects/[0-9]+/locations/global/workloadIdentityPools/github-actions/providers/github$`).MatchString(wip) {
		t.Errorf("GCP_WORKLOAD_IDENTITY_PROVIDER = %q, want the project-number form", wip)
	}
	ownerToken := e.token(t, owner)

	// The main stack as the deployer, as the deploy workflow runs it.
	main := e.newStack(t, project, false, "", map[string]string{
		"gatehouse:existingServiceAccounts": "true", "gatehouse:identityPlatformExists": "true",
	})
	main.token = e.impersonate(t, ownerToken, deployer)
	baseline := ""
	if out, err := main.up("e: main stack up (deployer)"); err != nil {
		baseline = namedPermission(out)
		t.Errorf("e: the main stack's up as the deployer failed: %v\n%s", err, diagnostics(out))
	}

	// Every deployer role is needed: without it, a first deploy fails
	// with a 403 naming a permission.
	member := "serviceAccount:" + deployer
	roles := e.rolesOf(t, ownerToken, project, member)
	if len(roles) == 0 {
		t.Fatalf("the deployer holds no project role")
	}
	for _, role := range roles {
		ownerRun := *main
		ownerRun.token = ownerToken
		if out, err := ownerRun.run("destroy", "--yes", "--skip-preview", "--stack", main.name); err != nil {
			t.Fatalf("e: destroy as the owner: %v\n%s", err, tail(out, 20))
		}
		e.setRoleMember(t, ownerToken, project, role, member, false)
		out, err := main.up("e: up as the deployer without " + role)
		e.setRoleMember(t, ownerToken, project, role, member, true)
		perm := namedPermission(out)
		switch {
		case err == nil:
			t.Errorf("e: %s is not needed: the deployer's up succeeded without it", role)
		case perm == "" || !strings.Contains(out, "403"):
			t.Errorf("e: without %s the up failed, but not with a 403 naming a permission:\n%s", role, diagnostics(out))
		case perm == baseline:
			t.Errorf("e: without %s the up fails on %s, as it does with every role: this does not show the role is needed", role, perm)
		default:
			fmt.Printf("    without %-40s 403 on %s\n", role, perm)
		}
	}

	// The previewer: preview succeeds, up is refused.
	pre := *main
	pre.token = e.impersonate(t, ownerToken, previewer)
	if out, err := pre.run("preview", "--stack", main.name); err != nil {
		t.Errorf("e: preview as the previewer failed: %v\n%s", err, diagnostics(out))
	}
	out, err := pre.up("e: up as the previewer")
	if err == nil || !strings.Contains(out, "403") {
		t.Errorf("e: up as the previewer was not refused with 403: %v\n%s", err, diagnostics(out))
	}
	fmt.Printf("    scenario e: %.0fs\n", time.Since(start).Seconds())
}

// TestScenarioF is scenario f: the README's steps for a stack deployed from
// a laptop before the bootstrap, run as written ("take them out of the
// main stack's state with pulumi state delete URN for accounts-runtime and
// accounts-gateway, set gatehouse-bootstrap:adoptServiceAccounts true ...,
// and set gatehouse:existingServiceAccounts true in the main stack before
// its next pulumi up"), on the two-backend stack.
func TestScenarioF(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project = "gatehouse-f"
	e.project(t, project, 0)
	start := time.Now()
	main := e.newStack(t, project, false, "Pulumi.v2.yaml", nil)
	main.mustUp("f: main stack up from a laptop (owner)")

	// pulumi stack --show-urns lists the URNs; pulumi state delete each account.
	urns := main.mustRun("stack", "--show-urns", "--stack", main.name)
	for _, name := range []string{"accounts-runtime", "accounts-gateway"} {
		urn := regexp.MustCompile(`urn:pulumi:\S+::` + name + `\b`).FindString(urns)
		if urn == "" {
			t.Fatalf("f: no URN for %s in pulumi stack --show-urns:\n%s", name, urns)
		}
		if out, err := main.run("state", "delete", urn, "--yes", "--stack", main.name); err != nil {
			t.Errorf("f: pulumi state delete %s: %v\n%s", name, err, tail(out, 12))
		}
	}

	// The bootstrap with adoptServiceAccounts, run by the owner.
	boot := e.newStack(t, project, true, "", map[string]string{
		"gatehouse-bootstrap:githubRepository":     "octo-org/gatehouse",
		"gatehouse-bootstrap:adoptServiceAccounts": "true",
		"gatehouse-bootstrap:backends[0]":          "notes",
	})
	if out, err := boot.up("f: bootstrap up with adoptServiceAccounts (owner)"); err != nil {
		t.Errorf("f: the bootstrap with adoptServiceAccounts failed: %v\n%s", err, diagnostics(out))
	}

	// The main stack's next up, with existingServiceAccounts, as the deployer.
	main.config(map[string]string{"gatehouse:existingServiceAccounts": "true", "gatehouse:identityPlatformExists": "true"})
	if deployer, _ := boot.outputs()["GCP_DEPLOY_SERVICE_ACCOUNT"].(string); deployer != "" {
		main.token = e.impersonate(t, e.token(t, owner), deployer)
	}
	from := e.seq(t) + 1
	if out, err := main.up("f: main stack's next up (existingServiceAccounts)"); err != nil {
		t.Errorf("f: the main stack's next up failed: %v\n%s", err, diagnostics(out))
	}
	// Adoption never deletes or recreates an account.
	for _, r := range e.requests(t, project, from) {
		if r.MethodID == "iam.projects.serviceAccounts.delete" && r.Code == 200 {
			t.Errorf("f: adoption deleted a service account: %s", r.Path)
		}
	}
	fmt.Printf("    scenario f: %.0fs\n", time.Since(start).Seconds())
}
