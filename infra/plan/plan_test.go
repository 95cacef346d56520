// Package plan holds the offline preview (plan.sh) and its test: the real
// Pulumi engine, Go language host and gcp/docker providers run over the
// program, where the mock tests share our assumptions.
package plan

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/infra/internal/invariants"
)

// preview is what `pulumi preview --json` prints, the parts we read.
type preview struct {
	Steps []struct {
		Op          string         `json:"op"`
		URN         string         `json:"urn"`
		DiffReasons []string       `json:"diffReasons"`
		Detailed    map[string]any `json:"detailedDiff"`
		Provider    string         `json:"provider"`
		NewState    struct {
			Type   string         `json:"type"`
			Custom bool           `json:"custom"`
			Parent string         `json:"parent"`
			Inputs map[string]any `json:"inputs"`
		} `json:"newState"`
		OldState struct {
			Type   string `json:"type"`
			Custom bool   `json:"custom"`
		} `json:"oldState"`
	} `json:"steps"`
	Diagnostics []struct {
		Message  string `json:"message"`
		Severity string `json:"severity"`
	} `json:"diagnostics"`
	ChangeSummary map[string]int `json:"changeSummary"`
}

// needPulumi fails under CI and skips loudly elsewhere when the CLI is absent.
func needPulumi(t *testing.T) {
	t.Helper()
	if os.Getenv("GATEHOUSE_PLAN_TEST") != "1" {
		t.Skip("runs the real Pulumi engine: run `make plan-test` (part of make test)")
	}
	if _, err := exec.LookPath("pulumi"); err != nil {
		msg := "THE PULUMI CLI IS NOT INSTALLED: the real-engine plan test cannot run (see README, Preview without a cloud account)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// runPlan runs plan.sh -j on project with extra config; it returns the
// parsed plan (when one was written), everything printed (plan.err
// included), and the exit error.
func runPlan(t *testing.T, project string, config ...string) (*preview, string, error) {
	t.Helper()
	out := t.TempDir()
	// -j: the JSON plan only, which is all the tests read (one preview, not
	// two: each compiles the program anew). make plan keeps the readable diff.
	args := append([]string{"-j", "-o", out, "-p", project}, config...)
	cmd := exec.Command("./plan.sh", args...)
	salt := filepath.Join(project, "Pulumi.plan.yaml")
	_, before := os.Stat(salt)
	printed, err := cmd.CombinedOutput()
	// The throw-away stack leaves nothing in the project (pulumi stack init
	// writes its secrets salt there).
	if _, after := os.Stat(salt); (before == nil) != (after == nil) {
		t.Errorf("plan.sh changed whether %s exists", salt)
	}
	errText, _ := os.ReadFile(filepath.Join(out, "plan.err"))
	all := string(printed) + string(errText)
	b, rerr := os.ReadFile(filepath.Join(out, "plan.json"))
	if rerr != nil || len(b) == 0 {
		return nil, all, err
	}
	var p preview
	if jerr := json.Unmarshal(b, &p); jerr != nil {
		return nil, all + "\n" + string(b), err
	}
	for _, d := range p.Diagnostics {
		all += "\n" + d.Message
	}
	return &p, all, err
}

// copyProject copies the checkout (without .git and caches) to a temp dir,
// for tests that change the program or the backend's code.
func copyProject(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	cp := exec.Command("bash", "-c", `tar -C "$1" --exclude=./.git --exclude=./.cache --exclude=./bin -c . | tar -C "$2" -x`, "cp", repoRoot(t), dst)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	return dst
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// The graph, as the real engine plans it on a fresh stack: every resource,
// by type. A change to the graph must change this on purpose.
var wantTypes = map[string]int{
	"pulumi:pulumi:Stack":                              1,
	"pulumi:providers:gcp":                             1, // the stack's own, with a quota project
	"gatehouse:components:ProjectServices":             1,
	"gatehouse:components:FirebaseAuth":                1,
	"gatehouse:components:ServiceAccounts":             1,
	"gatehouse:components:ImageRepository":             1,
	"gatehouse:components:SecureBackend":               1,
	"gatehouse:components:Gateway":                     1,
	"gcp:projects/service:Service":                     8, // the stack's APIs; not the API's managed service (API keys only)
	"gcp:firebase/project:Project":                     1,
	"gcp:firebase/webApp:WebApp":                       1,
	"gcp:identityplatform/config:Config":               1,
	"gcp:serviceaccount/account:Account":               2,
	"gcp:artifactregistry/repository:Repository":       1,
	"docker:index/image:Image":                         1,
	"gcp:cloudrunv2/service:Service":                   1,
	"gcp:cloudrunv2/serviceIamMember:ServiceIamMember": 1,
	"gcp:apigateway/api:Api":                           1,
	"gcp:apigateway/apiConfig:ApiConfig":               1,
	"gcp:apigateway/gateway:Gateway":                   1,
}

func TestRealPlan(t *testing.T) {
	needPulumi(t)
	p, out, err := runPlan(t, repoRoot(t))
	if err != nil || p == nil {
		t.Fatalf("plan failed: %v\n%s", err, out)
	}
	for _, d := range p.Diagnostics {
		if d.Severity == "error" {
			t.Errorf("error diagnostic: %s", d.Message)
		}
	}
	got := map[string]int{}
	total := 0
	for _, s := range p.Steps {
		got[s.NewState.Type]++
		total++
		if s.Op != "create" {
			t.Errorf("%s: op %s, want create on a fresh stack", s.URN, s.Op)
		}
		typ := s.NewState.Type
		// Provider: gcp resources use the gcp provider, docker the docker one.
		if pkg, _, _ := strings.Cut(typ, ":"); s.NewState.Custom && pkg != "pulumi" && !strings.Contains(s.Provider, "pulumi:providers:"+pkg+"::") {
			t.Errorf("%s: provider %s, want the %s provider", s.URN, s.Provider, pkg)
		}
		// Google resources use the stack's explicit provider, never a default one.
		if strings.HasPrefix(typ, "gcp:") && !strings.Contains(s.Provider, "pulumi:providers:gcp::gcp::") {
			t.Errorf("%s: provider %s, want the stack's explicit gcp provider", s.URN, s.Provider)
		}
		// Parent: every cloud resource hangs under one of our components;
		// components hang under the stack.
		switch {
		case typ == "pulumi:pulumi:Stack", strings.HasPrefix(typ, "pulumi:providers:"):
		case s.NewState.Custom && !strings.Contains(s.NewState.Parent, "::gatehouse:components:"):
			t.Errorf("%s: parent %q, want a gatehouse component", s.URN, s.NewState.Parent)
		case !s.NewState.Custom && !strings.Contains(s.NewState.Parent, "pulumi:pulumi:Stack"):
			t.Errorf("component %s: parent %q, want the stack", s.URN, s.NewState.Parent)
		}
	}
	if total != p.ChangeSummary["create"] {
		t.Errorf("%d steps, summary says %d creates", total, p.ChangeSummary["create"])
	}
	for typ, n := range wantTypes {
		if got[typ] != n {
			t.Errorf("%s: %d planned, want %d", typ, got[typ], n)
		}
	}
	for typ, n := range got {
		if _, ok := wantTypes[typ]; !ok {
			t.Errorf("unexpected %d × %s in the plan", n, typ)
		}
	}
	fmt.Printf("real plan: %d resources to create, %d types, every provider Check passed\n", total, len(got))

	// Security invariants, on the inputs the real engine planned.
	accounts := map[string]bool{}
	for _, s := range p.Steps {
		in := s.NewState.Inputs
		raw, _ := json.Marshal(in)
		for _, public := range []string{"allUsers", "allAuthenticatedUsers"} {
			if strings.Contains(string(raw), public) {
				t.Errorf("%s grants %s: %s", s.URN, public, raw)
			}
		}
		for _, basic := range []string{`"roles/owner"`, `"roles/editor"`, `"roles/viewer"`} {
			if strings.Contains(string(raw), basic) {
				t.Errorf("%s uses a basic role %s", s.URN, basic)
			}
		}
		// No credential in any resource input: inputs are stored in the
		// state, which pull-request jobs can read (issue #24). plan.sh's
		// credential is the environment's dummy token.
		if strings.Contains(string(raw), "offline-dummy-token") {
			t.Errorf("%s holds the run's access token in its inputs: %s", s.URN, raw)
		}
		for _, k := range invariants.CredentialPaths(in, "") {
			t.Errorf("%s input %s", s.URN, k)
		}
		switch s.NewState.Type {
		case "pulumi:providers:gcp":
			if in["userProjectOverride"] != "true" && in["userProjectOverride"] != true {
				t.Errorf("gcp provider without userProjectOverride: %s", raw)
			}
			if in["billingProject"] != "gatehouse-plan-test" {
				t.Errorf("gcp provider billingProject = %v, want the stack's project", in["billingProject"])
			}
		case "gcp:serviceaccount/account:Account":
			id, _ := in["accountId"].(string)
			accounts[id] = true
		case "gcp:cloudrunv2/serviceIamMember:ServiceIamMember":
			if in["role"] != "roles/run.invoker" {
				t.Errorf("the only IAM binding has role %v, want roles/run.invoker", in["role"])
			}
		case "gcp:cloudrunv2/service:Service":
			tmpl, _ := in["template"].(map[string]any)
			if tmpl == nil || tmpl["serviceAccount"] == "" {
				t.Errorf("Cloud Run service without a dedicated service account: %s", raw)
			}
			if strings.Contains(string(raw), "-compute@developer.gserviceaccount.com") {
				t.Errorf("Cloud Run runs as the default compute account: %s", raw)
			}
		}
	}
	if !accounts["gatehouse-runtime"] || !accounts["gatehouse-gateway"] {
		t.Errorf("service accounts %v, want gatehouse-runtime and gatehouse-gateway (dedicated, one each)", accounts)
	}
}

// Bad configuration fails in the real engine with our message, before any
// resource is planned.
func TestRealPlanBadConfig(t *testing.T) {
	needPulumi(t)
	tests := []struct {
		name   string
		config []string
		want   string
	}{
		{"min above max", []string{"gatehouse:minInstances=5", "gatehouse:maxInstances=2"}, "gatehouse:minInstances: 5 is more than maxInstances 2"},
		{"bad service name", []string{"gatehouse:serviceName=Bad_Name"}, `gatehouse:serviceName: "Bad_Name" must be 1-22 lowercase letters`},
		{"bad cpu", []string{"gatehouse:cpu=lots"}, `gatehouse:cpu: "lots"`},
		// stack.Load refuses it before any resource (a string key: unset has a meaning).
		{"bad sign-up setting", []string{"gatehouse:allowSignUp=maybe"}, `gatehouse:allowSignUp: "maybe" is not true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, err := runPlan(t, repoRoot(t), tt.config...)
			if err == nil {
				t.Fatalf("plan passed with %v", tt.config)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out)
			}
			if p != nil {
				for _, s := range p.Steps {
					if s.NewState.Type != "pulumi:pulumi:Stack" {
						t.Errorf("a resource was planned despite bad config: %s", s.URN)
					}
				}
			}
		})
	}
}

// The negative: a copy of the program with a service account id the Google
// provider rejects fails the plan with the provider's own message, which
// the mocks would have accepted.
func TestRealPlanCatchesProviderViolation(t *testing.T) {
	needPulumi(t)
	// Its own copy of the checkout and its own throw-away backend: it runs
	// beside the other copies (the engine mostly waits on its plugins).
	t.Parallel()
	dst := copyProject(t)
	file := filepath.Join(dst, "infra", "components", "accounts.go")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Whatever gofmt's alignment of the struct literal.
	planted := regexp.MustCompile(`AccountId:(\s+)pulumi\.String\(a\.ID\),`).ReplaceAllString(string(src), `AccountId:${1}pulumi.String("X_"),`)
	if planted == string(src) {
		t.Fatal("could not plant the violation: accounts.go changed shape")
	}
	if err := os.WriteFile(file, []byte(planted), 0o644); err != nil {
		t.Fatal(err)
	}
	_, out, err := runPlan(t, dst)
	if err == nil {
		t.Fatalf("the plan passed with account id X_:\n%s", out)
	}
	if !strings.Contains(out, `"X_"`) || !strings.Contains(out, "account_id") {
		t.Errorf("want the gcp provider's account_id check naming \"X_\", got:\n%s", out)
	}
}

// unknown is how `pulumi preview --json` prints a value not known until the
// deployment runs.
const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

// standIns are the outputs Google and Docker compute on create, by resource
// type: what a first `pulumi up` would have recorded. They are plausible
// values of the right shape, not answers from a faked provider: the real
// providers still check and diff everything against them.
func standIns(typ string, in map[string]any) map[string]any {
	str := func(k string) string { s, _ := in[k].(string); return s }
	out := map[string]any{}
	switch typ {
	case "gcp:serviceaccount/account:Account":
		email := str("accountId") + "@" + str("project") + ".iam.gserviceaccount.com"
		out = map[string]any{"email": email, "member": "serviceAccount:" + email, "name": "projects/" + str("project") + "/serviceAccounts/" + email, "uniqueId": "100000000000000000001"}
	case "gcp:cloudrunv2/service:Service":
		out = map[string]any{"uri": "https://" + str("name") + "-abc123xyz-ew.a.run.app", "uid": "standin-uid"}
	case "docker:index/image:Image":
		name := str("imageName")
		// The docker provider diffs against the inputs it checkpointed
		// under __inputs (pulumi-docker provider.go, Diff).
		out = map[string]any{"repoDigest": name[:strings.LastIndex(name, ":")] + "@sha256:" + strings.Repeat("a", 64), "baseImageName": name,
			"registryServer": "europe-west1-docker.pkg.dev", "dockerfile": "../service/cmd/hello/Dockerfile", "context": "../service", "__inputs": in}
	case "gcp:apigateway/api:Api":
		out = map[string]any{"managedService": str("apiId") + "-0a1b2c3d4e5f6.apigateway." + str("project") + ".cloud.goog", "name": "projects/" + str("project") + "/locations/global/apis/" + str("apiId")}
	case "gcp:apigateway/gateway:Gateway":
		out = map[string]any{"defaultHostname": str("gatewayId") + "-3x4mpl3.ew.gateway.dev"}
	case "gcp:firebase/webApp:WebApp":
		out = map[string]any{"appId": "1:123456789:web:abcdef", "name": "projects/" + str("project") + "/webApps/1:123456789:web:abcdef"}
	case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
		out = map[string]any{"name": "projects/123456789012/locations/global/workloadIdentityPools/" + str("workloadIdentityPoolId")}
	case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
		out = map[string]any{"name": "projects/123456789012/locations/global/workloadIdentityPools/" + str("workloadIdentityPoolId") + "/providers/" + str("workloadIdentityPoolProviderId")}
	}
	// Resources with labels record the labels the provider computed.
	switch typ {
	case "gcp:artifactregistry/repository:Repository", "gcp:apigateway/apiConfig:ApiConfig", "gcp:cloudrunv2/service:Service",
		"gcp:apigateway/api:Api", "gcp:apigateway/gateway:Gateway":
		out["effectiveLabels"], out["pulumiLabels"] = map[string]any{}, map[string]any{}
	}
	return out
}

// concrete replaces the preview's markers with state values: unknowns and
// "[secret]" with stand-ins.
func concrete(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			out[k] = concrete(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = concrete(x)
		}
		return out
	case string:
		switch t {
		case unknown:
			return "standin"
		case "[secret]":
			// Plain in the state: a secret needs the throw-away stack's
			// encrypter, and a value's secretness changes no diff.
			return "offline-dummy-token"
		}
	}
	return v
}

// readState reads the resources of a state file (`pulumi stack export`).
func readState(t *testing.T, file string) []stateResource {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return st.Deployment.Resources
}

type stateResource struct {
	URN      string         `json:"urn"`
	Custom   bool           `json:"custom"`
	ID       string         `json:"id,omitempty"`
	Type     string         `json:"type"`
	Inputs   map[string]any `json:"inputs,omitempty"`
	Outputs  map[string]any `json:"outputs,omitempty"`
	Parent   string         `json:"parent,omitempty"`
	Provider string         `json:"provider,omitempty"`
}

// providerRef rewrites a preview provider reference (its id is unknown) to
// the id the state gives that provider.
func providerRef(ref string) (urn, id string) {
	urn = strings.TrimSuffix(ref, "::"+unknown)
	return urn, "standin-provider-" + urn[strings.LastIndex(urn, "::")+2:]
}

// stateFrom builds a deployment from a plan's steps: what the stack would
// hold after `pulumi up` had created that plan. inputs overrides a
// resource's inputs (by URN) with values the engine computed later.
func stateFrom(t *testing.T, p *preview, inputs map[string]map[string]any, file string) {
	t.Helper()
	var res []stateResource
	providers := map[string]bool{}
	for _, s := range p.Steps {
		in := s.NewState.Inputs
		if v, ok := inputs[s.URN]; ok {
			in = v
		}
		in = concrete(in).(map[string]any)
		r := stateResource{URN: s.URN, Custom: s.NewState.Custom, Type: s.NewState.Type, Parent: s.NewState.Parent}
		if r.Custom {
			r.Inputs = in
			r.Outputs = map[string]any{}
			for k, v := range in {
				r.Outputs[k] = v
			}
			for k, v := range standIns(r.Type, in) {
				r.Outputs[k] = v
			}
			r.ID = "standin-" + s.URN[strings.LastIndex(s.URN, "::")+2:]
			if strings.HasPrefix(r.Type, "pulumi:providers:") {
				_, r.ID = providerRef(s.URN)
			}
		}
		if s.Provider != "" {
			urn, id := providerRef(s.Provider)
			r.Provider = urn + "::" + id
			if strings.Contains(urn, "::default_") && !providers[urn] {
				providers[urn] = true
				pkg := strings.TrimPrefix(urn[strings.Index(urn, "pulumi:providers:"):], "pulumi:providers:")
				pkg = pkg[:strings.Index(pkg, "::")]
				ver := strings.ReplaceAll(strings.TrimPrefix(urn[strings.LastIndex(urn, "::")+2:], "default_"), "_", ".")
				res = append(res, stateResource{URN: urn, Custom: true, ID: id, Type: "pulumi:providers:" + pkg,
					Inputs: map[string]any{"version": ver}, Outputs: map[string]any{"version": ver}})
			}
		}
		res = append(res, r)
	}
	// Providers first: the engine wants every reference defined before use.
	sort.SliceStable(res, func(i, j int) bool {
		return strings.HasPrefix(res[i].Type, "pulumi:providers:") && !strings.HasPrefix(res[j].Type, "pulumi:providers:")
	})
	// The stack itself must come before its children.
	sort.SliceStable(res, func(i, j int) bool {
		return res[i].Type == "pulumi:pulumi:Stack" && res[j].Type != "pulumi:pulumi:Stack"
	})
	b, err := json.MarshalIndent(map[string]any{"version": 3, "deployment": map[string]any{
		"manifest": map[string]any{"time": "2026-11-27T00:00:00Z", "magic": "", "version": ""}, "resources": res,
	}}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// changed lists the steps that change a property, as "op type name
// [properties]". An update that names no property is left out: with a
// hand-built state it comes from computed outputs a real provider records
// and the stand-ins lack (a Cloud Run service's conditions, the provider's
// own bookkeeping), not from the program.
func changed(p *preview) []string {
	var out []string
	for _, s := range p.Steps {
		if s.Op == "same" || (s.Op == "update" && len(s.DiffReasons) == 0 && len(s.Detailed) == 0) {
			continue
		}
		var props []string
		for k := range s.Detailed {
			props = append(props, k)
		}
		sort.Strings(props)
		out = append(out, s.Op+" "+s.NewState.Type+" "+s.URN[strings.LastIndex(s.URN, "::")+2:]+" "+fmt.Sprint(props))
	}
	sort.Strings(out)
	return out
}

// TestRealPlanCodeChangeToOneOfTwoBackends: in the two-backend stack, a
// code change to one backend changes that backend's image and service
// only; the other backend and the gateway stay as they are (each image's
// build context, and so its hash, holds only its own and the shared code).
func TestRealPlanCodeChangeToOneOfTwoBackends(t *testing.T) {
	needPulumi(t)
	t.Parallel() // its own copy of the checkout (copyProject)
	dst := copyProject(t)
	conf := append([]string{"-c", filepath.Join(dst, "Pulumi.v2.yaml")}, firebaseOff...)
	state, first := settledState(t, dst, conf)
	for _, tt := range []struct {
		file string
		want []string
	}{
		{filepath.Join("service", "notes", "notes.go"), []string{
			"update docker:index/image:Image backend-notes-image [build]",
			"update gcp:cloudrunv2/service:Service backend-notes-service [template.containers[0].image]",
		}},
		{filepath.Join("service", "hello", "hello.go"), []string{
			"update docker:index/image:Image backend-v1-image [build]",
			"update gcp:cloudrunv2/service:Service backend-v1-service [template.containers[0].image]",
		}},
	} {
		got := planAfterChange(t, dst, state, conf, tt.file)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("a change to %s plans:\n  %s\nwant:\n  %s", tt.file, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
		}
		fmt.Printf("two backends, change to %s: %d of %d resources change: %v\n", tt.file, len(got), len(first.Steps), got)
	}
	// The negative: without /v1's own ignore file its context is the shared
	// one, which holds notes' code, so a notes change would redeploy /v1.
	if err := os.Remove(filepath.Join(dst, "service", "cmd", "hello", "Dockerfile.dockerignore")); err != nil {
		t.Fatal(err)
	}
	got := planAfterChange(t, dst, state, conf, filepath.Join("service", "notes", "notes.go"))
	if !slices.Contains(got, "update docker:index/image:Image backend-v1-image [build]") {
		t.Errorf("without service/cmd/hello/Dockerfile.dockerignore a notes change still leaves /v1's image alone (%v): the check above proves nothing", got)
	}
}

// settledState plans dst, builds a first deployment's state from the plan
// and settles it (see stateFrom), and returns the state file and the plan.
func settledState(t *testing.T, dst string, conf []string) (string, *preview) {
	t.Helper()
	first, out, err := runPlan(t, dst, conf...)
	if err != nil || first == nil {
		t.Fatalf("first plan: %v\n%s", err, out)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	inputs := map[string]map[string]any{}
	for round := 1; round <= 4; round++ {
		stateFrom(t, first, inputs, state)
		p, out, err := runPlan(t, dst, withState(state, conf)...)
		if err != nil || p == nil {
			t.Fatalf("preview against the state (round %d): %v\n%s", round, err, out)
		}
		diff := changed(p)
		if len(diff) == 0 {
			return state, first
		}
		t.Logf("round %d: %d changes to settle: %v", round, len(diff), diff)
		for _, s := range p.Steps {
			if s.Op != "same" {
				inputs[s.URN] = s.NewState.Inputs
			}
		}
	}
	t.Fatal("the state did not settle in 4 rounds: an unchanged program keeps planning changes")
	return "", nil
}

// withState puts -s STATE among plan.sh's options (before any KEY=VALUE).
func withState(state string, conf []string) []string {
	return append([]string{"-s", state}, conf...)
}

// planAfterChange appends a comment to file (relative to dst), previews
// against state, restores the file and returns what changed.
func planAfterChange(t *testing.T, dst, state string, conf []string, file string) []string {
	t.Helper()
	path := filepath.Join(dst, file)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(append([]byte{}, src...), []byte("\n// a code-only change\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = os.WriteFile(path, src, 0o644) }()
	p, out, err := runPlan(t, dst, withState(state, conf)...)
	if err != nil || p == nil {
		t.Fatalf("preview after changing %s: %v\n%s", file, err, out)
	}
	return changed(p)
}

// TestCredentialPathsFindTheOldToken: the check TestRealPlan runs on every
// planned input finds the token main's code before issue #24 put in the
// state (the docker.Image's registry password, in the state recorded from
// 81c0a1b for the upgrade tests), and nothing in a clean input.
func TestCredentialPathsFindTheOldToken(t *testing.T) {
	var hits []string
	for _, r := range readState(t, "testdata/upgrade-from-81c0a1b/v2.state.json") {
		for _, k := range invariants.CredentialPaths(r.Inputs, "") {
			hits = append(hits, r.URN+" "+k)
		}
	}
	if len(hits) == 0 || !strings.Contains(strings.Join(hits, "\n"), "registry.password holds a credential") {
		t.Errorf("the old state's registry password is not found: %v", hits)
	}
	clean := map[string]any{"registry": map[string]any{"server": "h", "username": "oauth2accesstoken", "password": ""}, "name": "x"}
	if got := invariants.CredentialPaths(clean, ""); len(got) != 0 {
		t.Errorf("a clean input is flagged: %v", got)
	}
}
