package cloud

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestCustomRoles: a project custom role grants exactly its permissions
// where a policy binds it; patched, it grants the new set; deleted, its
// bindings stay and grant nothing, and a create cannot take its id; an
// unknown permission is refused (issue #24: the CI accounts' custom roles).
func TestCustomRoles(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("iam.googleapis.com", "firebase.googleapis.com", "run.googleapis.com")
	dep, _ := f.c.Mint("serviceAccount:dep@proj-one.iam.gserviceaccount.com")
	role := "projects/proj-one/roles/gatehouse_deployer"
	if code, out := f.do(f.owner, "POST", "/iam/v1/projects/proj-one/roles", `{"roleId":"gatehouse_deployer","role":{"title":"t","includedPermissions":["firebase.projects.delete.everything"]}}`); code != 400 {
		t.Errorf("unknown permission: %d %v", code, out)
	}
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/roles", `{"roleId":"gatehouse_deployer","role":{"title":"t","includedPermissions":["iam.serviceAccounts.get"]}}`)
	got := f.must(f.owner, "GET", "/iam/v1/projects/"+strings.TrimPrefix(role, "projects/"), "")
	if got["name"] != role || got["deleted"] != nil {
		t.Errorf("get = %v", got)
	}
	// Reading an account that does not exist: 403 without
	// iam.serviceAccounts.get, 404 with it.
	list := "/iam/v1/projects/proj-one/serviceAccounts/nobody@proj-one.iam.gserviceaccount.com"
	if code, _ := f.do(dep, "GET", list, ""); code != 403 {
		t.Errorf("before the grant: %d", code)
	}
	if code, out := f.do(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:setIamPolicy",
		`{"policy":{"bindings":[{"role":"projects/proj-one/roles/nope","members":["serviceAccount:dep@proj-one.iam.gserviceaccount.com"]}]}}`); code != 400 {
		t.Errorf("binding a role that does not exist: %d %v", code, out)
	}
	p := f.must(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:getIamPolicy", `{}`)
	bindings := append(p["bindings"].([]any), map[string]any{"role": role, "members": []string{"serviceAccount:dep@proj-one.iam.gserviceaccount.com", "serviceAccount:serviceusage@x.iam.gserviceaccount.com"}},
		map[string]any{"role": "roles/serviceusage.serviceUsageConsumer", "members": []string{"serviceAccount:dep@proj-one.iam.gserviceaccount.com"}})
	b, _ := json.Marshal(map[string]any{"policy": map[string]any{"etag": p["etag"], "bindings": bindings}})
	f.must(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:setIamPolicy", string(b))
	if code, out := f.do(dep, "GET", list, ""); code != 404 {
		t.Errorf("with the custom role: %d %v", code, out)
	}
	if code, _ := f.do(dep, "GET", "/run/v2/projects/proj-one/locations/europe-west1/services/x", ""); code != 403 {
		t.Errorf("a permission the role lacks (run.services.get): %d", code)
	}
	f.must(f.owner, "PATCH", "/iam/v1/"+role+"?updateMask=includedPermissions", `{"includedPermissions":["run.services.get"]}`)
	if code, _ := f.do(dep, "GET", list, ""); code != 403 {
		t.Errorf("after the patch took iam.serviceAccounts.get away: %d", code)
	}
	f.must(f.owner, "DELETE", "/iam/v1/"+role, "")
	if got := f.must(f.owner, "GET", "/iam/v1/"+role, ""); got["deleted"] != true {
		t.Errorf("deleted role = %v", got)
	}
	if code, _ := f.do(dep, "GET", "/run/v2/projects/proj-one/locations/europe-west1/services/x", ""); code != 403 {
		t.Errorf("a deleted role still grants: %d", code)
	}
	if code, _ := f.do(f.owner, "POST", "/iam/v1/projects/proj-one/roles", `{"roleId":"gatehouse_deployer","role":{"title":"t","includedPermissions":["run.services.get"]}}`); code != 409 {
		t.Errorf("create over a deleted role: %d, want 409", code)
	}
	f.must(f.owner, "POST", "/iam/v1/"+role+":undelete", `{}`)
	if code, out := f.do(dep, "GET", "/run/v2/projects/proj-one/locations/europe-west1/services/x", ""); code == 403 {
		t.Errorf("undeleted role grants nothing: %d %v", code, out)
	}
	if code, _ := f.do(dep, "POST", "/iam/v1/projects/proj-one/roles", `{"roleId":"mine","role":{"title":"t","includedPermissions":["run.services.get"]}}`); code != 403 {
		t.Errorf("creating a role without iam.roles.create: %d", code)
	}
}

// wifFixture is a project with a GitHub provider mapped and conditioned as
// infra/bootstrap makes it, and a service account the deploy environment
// on main may impersonate.
func wifFixture(t *testing.T) (*fixture, string) {
	f := newFixture(t, Options{})
	f.enable("iam.googleapis.com", "iamcredentials.googleapis.com", "sts.googleapis.com")
	num := projectNumber("proj-one")
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/locations/global/workloadIdentityPools?workloadIdentityPoolId=ghpool", `{"displayName":"gh"}`)
	if code, out := f.do(f.owner, "POST", "/iam/v1/projects/proj-one/locations/global/workloadIdentityPools/ghpool/providers?workloadIdentityPoolProviderId=p2",
		`{"attributeMapping":{"google.subject":"assertion.sub","attribute.x":"assertion.("},"oidc":{"issuerUri":"`+GitHubIssuer+`"}}`); code != 400 {
		t.Errorf("a mapping that does not compile: %d %v", code, out)
	}
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/locations/global/workloadIdentityPools/ghpool/providers?workloadIdentityPoolProviderId=github", `{
		"attributeMapping":{"google.subject":"assertion.sub","attribute.event_name":"assertion.event_name",
			"attribute.environment_ref":"(has(assertion.environment) ? assertion.environment : '') + ':' + assertion.ref"},
		"attributeCondition":"assertion.repository == 'octo/app' && assertion.repository_id == '42'",
		"oidc":{"issuerUri":"`+GitHubIssuer+`"}}`)
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts", `{"accountId":"deployer","serviceAccount":{}}`)
	pool := "principalSet://iam.googleapis.com/projects/" + num + "/locations/global/workloadIdentityPools/ghpool"
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts/deployer@proj-one.iam.gserviceaccount.com:setIamPolicy",
		`{"policy":{"bindings":[{"role":"roles/iam.workloadIdentityUser","members":["`+pool+`/attribute.environment_ref/production:refs/heads/main"]}]}}`)
	return f, "//iam.googleapis.com/projects/" + num + "/locations/global/workloadIdentityPools/ghpool/providers/github"
}

// exchange runs a job's token through STS and generateAccessToken; it
// returns the stage that refused it ("" when the service account's token
// was issued) and the answer.
func exchange(f *fixture, audience string, claims map[string]any) (string, map[string]any) {
	f.t.Helper()
	tok, err := f.c.MintGitHubToken(claims)
	if err != nil {
		f.t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"audience": audience, "grantType": "urn:ietf:params:oauth:grant-type:token-exchange",
		"requestedTokenType": "urn:ietf:params:oauth:token-type:access_token", "scope": "https://www.googleapis.com/auth/cloud-platform",
		"subjectTokenType": "urn:ietf:params:oauth:token-type:jwt", "subjectToken": tok})
	code, out := noQuota(f, "", http.MethodPost, "/sts/v1/token", string(body))
	if code != 200 {
		return "sts", out
	}
	// google-github-actions/auth names no quota project.
	code, out = noQuota(f, out["access_token"].(string), http.MethodPost,
		"/iamcredentials/v1/projects/-/serviceAccounts/deployer@proj-one.iam.gserviceaccount.com:generateAccessToken", `{"scope":["https://www.googleapis.com/auth/cloud-platform"]}`)
	if code != 200 {
		return "generateAccessToken", out
	}
	return "", out
}

// noQuota sends a request without X-Goog-User-Project.
func noQuota(f *fixture, token, method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestWorkloadIdentityFederation: a job's token becomes the service
// account's only through the real routes and only with the attributes the
// binding names; a new repository's immutable subject needs no binding
// change (issue #24 item 1), and each refusal is Google's.
func TestWorkloadIdentityFederation(t *testing.T) {
	f, audience := wifFixture(t)
	aud := "https://iam.googleapis.com/" + strings.TrimPrefix(audience, "//iam.googleapis.com/")
	job := func(kv ...any) map[string]any {
		c := map[string]any{"aud": aud, "repository": "octo/app", "repository_id": "42", "event_name": "push", "ref": "refs/heads/main",
			"environment": "production", "sub": "repo:octo@7/app@42:environment:production"}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	for _, tt := range []struct {
		name, refusedAt, want string
		claims                map[string]any
	}{
		{"deploy job of a new repository (immutable subject)", "", "", job()},
		{"deploy job, old subject format", "", "", job("sub", "repo:octo/app:environment:production")},
		{"a branch claiming the environment", "generateAccessToken", "iam.serviceAccounts.getAccessToken", job("ref", "refs/heads/evil")},
		{"pull request (no environment claim)", "generateAccessToken", "iam.serviceAccounts.getAccessToken", job("environment", nil, "event_name", "pull_request", "ref", "refs/pull/1/merge", "sub", "repo:octo@7/app@42:pull_request")},
		{"same name, another repository", "sts", "rejected by the attribute condition", job("repository_id", "43")},
		{"another audience", "sts", "audience", job("aud", "https://example.com")},
		// google.subject is mapped from sub here: a subject over 127 bytes
		// (long owner and repository names in the new format) is refused.
		{"a mapped subject over 127 bytes", "sts", "127 bytes", job("sub", "repo:"+strings.Repeat("o", 39)+"@123456789/"+strings.Repeat("r", 80)+"@987654321:environment:production")},
	} {
		stage, out := exchange(f, audience, tt.claims)
		msg, _ := json.Marshal(out)
		if stage != tt.refusedAt || !strings.Contains(string(msg), tt.want) {
			t.Errorf("%s: refused at %q (%s), want %q naming %q", tt.name, stage, msg, tt.refusedAt, tt.want)
		}
	}
	// An unknown provider is invalid_target.
	if stage, out := exchange(f, strings.Replace(audience, "/providers/github", "/providers/nope", 1), job()); stage != "sts" || out["error"] != "invalid_target" {
		t.Errorf("unknown provider: %s %v", stage, out)
	}
	// A token the cloud did not sign is refused.
	body := `{"audience":"` + audience + `","grantType":"urn:ietf:params:oauth:grant-type:token-exchange","subjectTokenType":"urn:ietf:params:oauth:token-type:jwt","subjectToken":"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}`
	if code, out := noQuota(f, "", http.MethodPost, "/sts/v1/token", body); code != 400 || out["error"] != "invalid_grant" {
		t.Errorf("unsigned token: %d %v", code, out)
	}
	// A mapping that reads a missing claim without has() fails the
	// exchange: jobs without an environment would never get a token.
	f.must(f.owner, "PATCH", "/iam/v1/projects/"+projectNumber("proj-one")+"/locations/global/workloadIdentityPools/ghpool/providers/github?updateMask=attributeMapping",
		`{"attributeMapping":{"google.subject":"assertion.sub","attribute.environment_ref":"assertion.environment + ':' + assertion.ref"}}`)
	if stage, out := exchange(f, audience, job("environment", nil, "event_name", "pull_request")); stage != "sts" || out["error"] != "invalid_grant" {
		t.Errorf("mapping on a missing claim: %s %v", stage, out)
	}
}
