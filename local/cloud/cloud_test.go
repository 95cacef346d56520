package cloud

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

// fixture is a cloud with one project, owned by owner, served over HTTP.
type fixture struct {
	t     *testing.T
	c     *Cloud
	srv   *httptest.Server
	now   time.Time
	owner string // the owner's token
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)}
	if opts.Projects == nil {
		opts.Projects = []string{"proj-one"}
	}
	opts.Now = func() time.Time { return f.now }
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	f.owner, err = c.Mint(DefaultOwner)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// do sends a request as token with the project as quota project; it
// returns the status and the decoded body.
func (f *fixture) do(token, method, path, body string) (int, map[string]any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("X-Goog-User-Project", "proj-one")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (f *fixture) must(token, method, path, body string) map[string]any {
	f.t.Helper()
	code, out := f.do(token, method, path, body)
	if code != http.StatusOK {
		f.t.Fatalf("%s %s = %d %v", method, path, code, out)
	}
	return out
}

func errStatus(out map[string]any) (string, string) {
	e, _ := out["error"].(map[string]any)
	s, _ := e["status"].(string)
	m, _ := e["message"].(string)
	return s, m
}

func (f *fixture) enable(services ...string) {
	f.t.Helper()
	ids, _ := json.Marshal(services)
	f.must(f.owner, "POST", "/serviceusage/v1/projects/proj-one/services:batchEnable", `{"serviceIds":`+string(ids)+`}`)
}

func TestUnknownRouteIs501(t *testing.T) {
	f := newFixture(t, Options{})
	for _, path := range []string{"/nowhere/v1/x", "/run/v2/projects/proj-one/locations/l/jobs", "/run/v9/what"} {
		code, out := f.do(f.owner, "GET", path, "")
		if s, _ := errStatus(out); code != http.StatusNotImplemented || s != "UNIMPLEMENTED" {
			t.Errorf("GET %s = %d %v, want 501 UNIMPLEMENTED", path, code, out)
		}
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tok := range []string{"", "ya29.forged"} {
		code, out := f.do(tok, "GET", "/cloudresourcemanager/v1/projects/proj-one", "")
		if s, _ := errStatus(out); code != 401 || s != "UNAUTHENTICATED" {
			t.Errorf("token %q: %d %v, want 401", tok, code, out)
		}
	}
	out := f.must(f.owner, "GET", "/cloudresourcemanager/v1/projects/proj-one", "")
	if out["lifecycleState"] != "ACTIVE" || out["projectNumber"] != projectNumber("proj-one") {
		t.Errorf("project = %v", out)
	}
}

// SERVICE_DISABLED in Google's shape, then, with a propagation delay, still
// for a while after enabling.
func TestServiceDisabledAndPropagation(t *testing.T) {
	f := newFixture(t, Options{PropagationDelay: 30 * time.Second})
	code, out := f.do(f.owner, "GET", "/run/v2/projects/proj-one/locations/europe-west1/services/x", "")
	s, msg := errStatus(out)
	if code != 403 || s != "PERMISSION_DENIED" || !strings.Contains(msg, "Cloud Run Admin API has not been used in project "+projectNumber("proj-one")) {
		t.Fatalf("disabled API: %d %v", code, out)
	}
	details, _ := out["error"].(map[string]any)["details"].([]any)
	if info, _ := details[0].(map[string]any); info["reason"] != "SERVICE_DISABLED" {
		t.Errorf("details = %v", details)
	}
	f.enable("run.googleapis.com")
	if code, _ := f.do(f.owner, "GET", "/run/v2/projects/proj-one/locations/europe-west1/services/x", ""); code != 403 {
		t.Errorf("right after enabling, with a 30 s propagation delay: %d, want 403", code)
	}
	f.now = f.now.Add(31 * time.Second)
	if code, out := f.do(f.owner, "GET", "/run/v2/projects/proj-one/locations/europe-west1/services/x", ""); code != 404 {
		t.Errorf("after the delay: %d %v, want 404 NOT_FOUND", code, out)
	}
}

func TestValidationNamesTheField(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("run.googleapis.com", "iam.googleapis.com")
	cases := []struct{ body, field string }{
		{`{"template":{"containers":[{"image":"x"}]},"ingres":"INGRESS_TRAFFIC_ALL"}`, "ingres"},
		{`{"template":{"containers":[{"image":"x"}],"maxInstanceRequestConcurrency":"many"}}`, "template.maxInstanceRequestConcurrency"},
		{`{"ingress":"EVERYWHERE","template":{"containers":[{"image":"x"}]}}`, "ingress"},
		{`{"template":{"containers":[{"image":"x","ports":[{"containerPort":true}]}]}}`, "template.containers[0].ports[0].containerPort"},
		{`{"template":`, ""},
	}
	for _, tc := range cases {
		code, out := f.do(f.owner, "POST", "/run/v2/projects/proj-one/locations/europe-west1/services?serviceId=s", tc.body)
		s, msg := errStatus(out)
		if code != 400 || s != "INVALID_ARGUMENT" {
			t.Errorf("%s: %d %v, want 400 INVALID_ARGUMENT", tc.body, code, out)
			continue
		}
		if tc.field != "" {
			viol := out["error"].(map[string]any)["details"].([]any)[0].(map[string]any)["fieldViolations"].([]any)[0].(map[string]any)
			if viol["field"] != tc.field || !strings.Contains(msg, "Invalid") {
				t.Errorf("%s: field %v message %q, want %s", tc.body, viol["field"], msg, tc.field)
			}
		}
	}
	code, out := f.do(f.owner, "POST", "/run/v2/projects/proj-one/locations/europe-west1/services?serviceId=s&bogus=1", `{}`)
	if s, msg := errStatus(out); code != 400 || s != "INVALID_ARGUMENT" || !strings.Contains(msg, `"bogus"`) {
		t.Errorf("unknown query parameter: %d %v", code, out)
	}
}

// IAM policies: etags change on every set; a stale etag is 409 ABORTED.
func TestPolicyEtags(t *testing.T) {
	f := newFixture(t, Options{})
	p1 := f.must(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:getIamPolicy", `{"options":{"requestedPolicyVersion":3}}`)
	etag := p1["etag"].(string)
	set := func(etag string) (int, map[string]any) {
		body := `{"policy":{"etag":"` + etag + `","bindings":[{"role":"roles/owner","members":["user:owner@example.com"]},{"role":"roles/run.admin","members":["serviceAccount:d@proj-one.iam.gserviceaccount.com"]}]}}`
		return f.do(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:setIamPolicy", body)
	}
	code, p2 := set(etag)
	if code != 200 || p2["etag"] == etag {
		t.Fatalf("set = %d %v", code, p2)
	}
	code, out := set(etag)
	if s, _ := errStatus(out); code != 409 || s != "ABORTED" {
		t.Errorf("stale etag: %d %v, want 409 ABORTED", code, out)
	}
}

// A denial is 403 PERMISSION_DENIED naming the permission; actAs is
// checked on the account a Cloud Run service runs as.
func TestPermissionsAndActAs(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("run.googleapis.com", "iam.googleapis.com")
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts", `{"accountId":"runtime-sa","serviceAccount":{"displayName":"r"}}`)
	dep, _ := f.c.Mint("serviceAccount:deployer@proj-one.iam.gserviceaccount.com")
	body := `{"template":{"serviceAccount":"runtime-sa@proj-one.iam.gserviceaccount.com","containers":[{"image":"gcr.io/x/y"}]}}`
	path := "/run/v2/projects/proj-one/locations/europe-west1/services?serviceId=svc"
	deny := func(want string) {
		t.Helper()
		code, out := f.do(dep, "POST", path, body)
		s, msg := errStatus(out)
		if code != 403 || s != "PERMISSION_DENIED" || !strings.Contains(msg, want) {
			t.Errorf("%d %s %q, want 403 naming %s", code, s, msg, want)
		}
	}
	deny("serviceusage.services.use") // the quota project first
	grant := func(role string) {
		p := f.must(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:getIamPolicy", `{}`)
		b, _ := json.Marshal(p["bindings"])
		var bindings []map[string]any
		_ = json.Unmarshal(b, &bindings)
		bindings = append(bindings, map[string]any{"role": role, "members": []string{"serviceAccount:deployer@proj-one.iam.gserviceaccount.com"}})
		nb, _ := json.Marshal(map[string]any{"policy": map[string]any{"etag": p["etag"], "bindings": bindings}})
		f.must(f.owner, "POST", "/cloudresourcemanager/v1/projects/proj-one:setIamPolicy", string(nb))
	}
	grant("roles/serviceusage.serviceUsageConsumer")
	deny("run.services.create")
	grant("roles/run.admin")
	deny("iam.serviceaccounts.actAs")
	// actAs on that account only (the policy of the service account).
	pol := f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts/runtime-sa@proj-one.iam.gserviceaccount.com:getIamPolicy", ``)
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts/runtime-sa@proj-one.iam.gserviceaccount.com:setIamPolicy",
		`{"policy":{"etag":"`+pol["etag"].(string)+`","bindings":[{"role":"roles/iam.serviceAccountUser","members":["serviceAccount:deployer@proj-one.iam.gserviceaccount.com"]}]}}`)
	op := f.must(dep, "POST", path, body)
	resp, _ := op["response"].(map[string]any)
	if op["done"] != true || resp["@type"] != "type.googleapis.com/google.cloud.run.v2.Service" || !strings.HasSuffix(resp["uri"].(string), "-ew.a.run.app") {
		t.Errorf("create operation = %v", op)
	}
	code, out := f.do(dep, "POST", path, body)
	if s, _ := errStatus(out); code != 409 || s != "ALREADY_EXISTS" {
		t.Errorf("second create: %d %v, want 409 ALREADY_EXISTS", code, out)
	}
}

// Enabling an API's managed service needs servicemanagement.services.bind.
func TestManagedServiceNeedsBind(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("apigateway.googleapis.com")
	api := f.must(f.owner, "POST", "/apigateway/v1beta/projects/proj-one/locations/global/apis?apiId=demo", `{"displayName":"demo"}`)
	ms := api["response"].(map[string]any)["managedService"].(string)
	if !strings.HasPrefix(ms, "demo-") || !strings.HasSuffix(ms, ".apigateway.proj-one.cloud.goog") {
		t.Fatalf("managedService = %q", ms)
	}
	f.c.mu.Lock()
	f.c.st.Policies["projects/proj-one"].Bindings = append(f.c.st.Policies["projects/proj-one"].Bindings,
		Binding{Role: "roles/serviceusage.serviceUsageAdmin", Members: []string{"serviceAccount:d@proj-one.iam.gserviceaccount.com"}})
	f.c.mu.Unlock()
	dep, _ := f.c.Mint("serviceAccount:d@proj-one.iam.gserviceaccount.com")
	code, out := f.do(dep, "POST", "/serviceusage/v1/projects/proj-one/services/"+ms+":enable", `{}`)
	if _, msg := errStatus(out); code != 403 || !strings.Contains(msg, "servicemanagement.services.bind") {
		t.Errorf("enable managed service without bind: %d %v", code, out)
	}
	if code, out := f.do(dep, "POST", "/serviceusage/v1/projects/proj-one/services/run.googleapis.com:enable", `{}`); code != 200 {
		t.Errorf("enable a Google API: %d %v", code, out)
	}
	f.must(f.owner, "POST", "/serviceusage/v1/projects/proj-one/services/"+ms+":enable", `{}`)
}

// Create-once and soft delete: initializeAuth once; a deleted pool keeps its id.
func TestCreateOnceAndSoftDelete(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("identitytoolkit.googleapis.com", "iam.googleapis.com")
	f.must(f.owner, "POST", "/identitytoolkit/v2/projects/proj-one/identityPlatform:initializeAuth", `{}`)
	code, out := f.do(f.owner, "POST", "/identitytoolkit/v2/projects/proj-one/identityPlatform:initializeAuth", `{}`)
	if _, msg := errStatus(out); code != 400 || !strings.Contains(msg, "already been enabled") {
		t.Errorf("second initializeAuth: %d %v", code, out)
	}
	pools := "/iam/v1/projects/proj-one/locations/global/workloadIdentityPools"
	f.must(f.owner, "POST", pools+"?workloadIdentityPoolId=gh-pool", `{"displayName":"GitHub"}`)
	pool := f.must(f.owner, "GET", pools+"/gh-pool", "")
	if pool["name"] != "projects/"+projectNumber("proj-one")+"/locations/global/workloadIdentityPools/gh-pool" {
		t.Errorf("pool name %v, want the project number form", pool["name"])
	}
	f.must(f.owner, "DELETE", pools+"/gh-pool", "")
	if got := f.must(f.owner, "GET", pools+"/gh-pool", ""); got["state"] != "DELETED" {
		t.Errorf("deleted pool reads %v, want state DELETED", got)
	}
	if code, out := f.do(f.owner, "POST", pools+"?workloadIdentityPoolId=gh-pool", `{}`); code != 409 {
		t.Errorf("re-create within 30 days: %d %v, want 409", code, out)
	}
	f.now = f.now.Add(31 * 24 * time.Hour)
	f.must(f.owner, "POST", pools+"?workloadIdentityPoolId=gh-pool", `{}`)
}

// The sign-up stand-in takes the key the web app's config gives.
func TestSignUpWithTheStacksKey(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("firebase.googleapis.com", "identitytoolkit.googleapis.com")
	f.must(f.owner, "POST", "/fb/v1beta1/projects/proj-one:addFirebase", `{}`)
	f.must(f.owner, "POST", "/identitytoolkit/v2/projects/proj-one/identityPlatform:initializeAuth", `{}`)
	f.must(f.owner, "PATCH", "/identitytoolkit/v2/projects/proj-one/config?updateMask=signIn", `{"signIn":{"email":{"enabled":true,"passwordRequired":true}}}`)
	op := f.must(f.owner, "POST", "/fb/v1beta1/projects/proj-one/webApps", `{"displayName":"web"}`)
	appID := op["response"].(map[string]any)["appId"].(string)
	// getWebAppConfig's framework client doubles the version over http.
	cfg := f.must(f.owner, "GET", "/fb/v1beta1/v1beta1/projects/proj-one/webApps/"+appID+"/config", "")
	key := cfg["apiKey"].(string)
	signUp := func(key string) int {
		resp, err := http.Post(f.srv.URL+"/identitytoolkit.googleapis.com/v1/accounts:signUp?key="+key, "application/json",
			strings.NewReader(`{"email":"ada@example.com","password":"s3cret-pass","returnSecureToken":true}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := signUp(key); code != 200 {
		t.Errorf("sign-up with the web app's key: %d", code)
	}
	if code := signUp("AIzaWrong"); code != 400 {
		t.Errorf("sign-up with another key: %d, want 400", code)
	}
}

func TestStateBucket(t *testing.T) {
	f := newFixture(t, Options{})
	b := f.must(f.owner, "POST", "/storage/v1/b?project=proj-one&alt=json&prettyPrint=false",
		`{"name":"proj-one-state","location":"europe-west1","iamConfiguration":{"uniformBucketLevelAccess":{"enabled":true},"publicAccessPrevention":"enforced"},"versioning":{"enabled":true}}`)
	if b["location"] != "EUROPE-WEST1" || b["projectNumber"] != projectNumber("proj-one") {
		t.Errorf("bucket = %v", b)
	}
	p := f.must(f.owner, "GET", "/storage/v1/b/proj-one-state/iam?optionsRequestedPolicyVersion=3", "")
	code, out := f.do(f.owner, "PUT", "/storage/v1/b/proj-one-state/iam", `{"etag":"`+p["etag"].(string)+`","bindings":[{"role":"roles/storage.objectUser","members":["user:a@example.com"],"condition":{"title":"locks","expression":"true"}}]}`)
	if s, msg := errStatus(out); code != 400 || !strings.Contains(msg, "version 3") {
		t.Errorf("conditional binding without version 3: %d %s %s", code, s, msg)
	}
	f.must(f.owner, "PUT", "/storage/v1/b/proj-one-state/iam", `{"version":3,"etag":"`+p["etag"].(string)+`","bindings":[{"role":"roles/storage.objectUser","members":["user:a@example.com"],"condition":{"title":"locks","expression":"true"}}]}`)
	f.must(f.owner, "GET", "/storage/v1/b/proj-one-state/o?versions=true", "")
	f.must(f.owner, "DELETE", "/storage/v1/b/proj-one-state", "")
	if code, _ := f.do(f.owner, "GET", "/storage/v1/b/proj-one-state", ""); code != 404 {
		t.Errorf("deleted bucket: %d", code)
	}
}

// FuzzServe: whatever the method, path and body, the cloud answers JSON with
// a status that is never a 5xx the provider would retry (only 501), and
// never panics.
func FuzzServe(f *testing.F) {
	c, err := New(Options{Projects: []string{"proj-one"}})
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := c.Mint(DefaultOwner)
	for _, s := range []string{
		"/run/v2/projects/proj-one/locations/l/services?serviceId=s",
		"/serviceusage/v1/projects/proj-one/services:batchEnable",
		"/apigateway/v1beta/projects/proj-one/locations/global/apis/a/configs?apiConfigId=c",
		"/storage/v1/b?project=proj-one", "/fb/v1beta1/v1beta1/projects/proj-one/webApps/1:2:web:3/config",
		"/_cloud/tokens", "/v2/", "/%zz",
	} {
		f.Add("POST", s, []byte(`{"serviceIds":["run.googleapis.com"],"template":{"containers":[{"image":"x"}]}}`))
		f.Add("GET", s, []byte(``))
	}
	f.Fuzz(func(t *testing.T, method, path string, body []byte) {
		req := httptest.NewRequest("GET", "/", strings.NewReader(string(body)))
		req.Method = method
		req.URL.Path = path
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Goog-User-Project", "proj-one")
		rec := httptest.NewRecorder()
		c.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusNotImplemented {
			t.Fatalf("%s %s → %d %s", method, path, rec.Code, rec.Body.String())
		}
	})
}

// An API config's document is validated as API Gateway would (spec.Validate),
// and the config it serves cannot be deleted from under a gateway.
func TestAPIConfigDocuments(t *testing.T) {
	f := newFixture(t, Options{})
	f.enable("apigateway.googleapis.com", "iam.googleapis.com")
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts", `{"accountId":"gw-account","serviceAccount":{}}`)
	f.must(f.owner, "POST", "/apigateway/v1beta/projects/proj-one/locations/global/apis?apiId=demo", `{}`)
	frag, err := os.ReadFile(filepath.Join("..", "..", "service", "hello", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := spec.Render(spec.Params{Backends: []spec.BackendRoute{{Name: "v1", URL: "https://demo-abc-ew.a.run.app", Fragment: frag}}, FirebaseProjectID: "proj-one"})
	if err != nil {
		t.Fatal(err)
	}
	config := func(id string, doc []byte) (int, map[string]any) {
		b, _ := json.Marshal(map[string]any{
			"openapiDocuments": []any{map[string]any{"document": map[string]any{"path": "openapi.yaml", "contents": base64.StdEncoding.EncodeToString(doc)}}},
			"gatewayConfig":    map[string]any{"backendConfig": map[string]any{"googleServiceAccount": "gw-account@proj-one.iam.gserviceaccount.com"}},
		})
		return f.do(f.owner, "POST", "/apigateway/v1beta/projects/proj-one/locations/global/apis/demo/configs?apiConfigId="+id, string(b))
	}
	bad := []byte(strings.Replace(string(good), "swagger: \"2.0\"", "swagger: \"3.0\"", 1))
	if code, out := config("bad", bad); code != 400 {
		t.Errorf("a document API Gateway refuses: %d %v, want 400", code, out)
	}
	if code, out := config("cfg-1", good); code != 200 {
		t.Fatalf("good document: %d %v", code, out)
	}
	got := f.must(f.owner, "GET", "/apigateway/v1beta/projects/proj-one/locations/global/apis/demo/configs/cfg-1?view=FULL", "")
	docs := got["openapiDocuments"].([]any)[0].(map[string]any)["document"].(map[string]any)
	if raw, _ := base64.StdEncoding.DecodeString(docs["contents"].(string)); string(raw) != string(good) {
		t.Error("the document does not come back byte for byte")
	}
	if !strings.HasPrefix(got["name"].(string), "projects/"+projectNumber("proj-one")+"/") {
		t.Errorf("config name %v, want the project-number form", got["name"])
	}
	f.must(f.owner, "POST", "/apigateway/v1beta/projects/proj-one/locations/europe-west1/gateways?gatewayId=gw",
		`{"apiConfig":"projects/proj-one/locations/global/apis/demo/configs/cfg-1"}`)
	code, out := f.do(f.owner, "DELETE", "/apigateway/v1beta/projects/proj-one/locations/global/apis/demo/configs/cfg-1", "")
	if s, _ := errStatus(out); code != 400 || s != "FAILED_PRECONDITION" {
		t.Errorf("delete a config a gateway serves: %d %v", code, out)
	}
}

// With an operation delay, an operation is not done in its first answer and
// is done once the delay has passed (the provider polls {base}{name}).
func TestOperationDelay(t *testing.T) {
	f := newFixture(t, Options{OperationDelay: 20 * time.Second})
	f.enable("artifactregistry.googleapis.com")
	op := f.must(f.owner, "POST", "/artifactregistry/v1/projects/proj-one/locations/europe-west1/repositories?repository_id=images", `{"format":"DOCKER"}`)
	if op["done"] == true {
		t.Fatalf("operation done at once with a delay: %v", op)
	}
	name := op["name"].(string)
	if !strings.HasPrefix(name, "projects/proj-one/locations/europe-west1/operations/") {
		t.Errorf("operation name %q", name)
	}
	if got := f.must(f.owner, "GET", "/artifactregistry/v1/"+name, ""); got["done"] == true {
		t.Errorf("done before the delay: %v", got)
	}
	f.now = f.now.Add(21 * time.Second)
	got := f.must(f.owner, "GET", "/artifactregistry/v1/"+name, "")
	resp, _ := got["response"].(map[string]any)
	if got["done"] != true || resp["name"] != "projects/proj-one/locations/europe-west1/repositories/images" || resp["mode"] != "STANDARD_REPOSITORY" {
		t.Errorf("after the delay: %v", got)
	}
}

// State survives a restart with a state directory.
func TestStatePersists(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, Options{StateDir: dir})
	f.enable("iam.googleapis.com")
	f.must(f.owner, "POST", "/iam/v1/projects/proj-one/serviceAccounts", `{"accountId":"kept-account","serviceAccount":{}}`)
	again, err := New(Options{StateDir: dir, Projects: []string{"proj-one"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(again)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/iam/v1/projects/proj-one/serviceAccounts/kept-account@proj-one.iam.gserviceaccount.com", nil)
	req.Header.Set("Authorization", "Bearer "+f.owner) // tokens persist too
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after a restart: %d", resp.StatusCode)
	}
}
