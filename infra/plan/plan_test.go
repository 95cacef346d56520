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
	"strings"
	"testing"
)

// preview is what `pulumi preview --json` prints, the parts we read.
type preview struct {
	Steps []struct {
		Op       string `json:"op"`
		URN      string `json:"urn"`
		Provider string `json:"provider"`
		NewState struct {
			Type   string         `json:"type"`
			Custom bool           `json:"custom"`
			Parent string         `json:"parent"`
			Inputs map[string]any `json:"inputs"`
		} `json:"newState"`
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

// runPlan runs plan.sh on project with extra config; it returns the parsed
// plan (when one was written), everything printed, and the exit error.
func runPlan(t *testing.T, project string, config ...string) (*preview, string, error) {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"-o", out, "-p", project}, config...)
	cmd := exec.Command("./plan.sh", args...)
	printed, err := cmd.CombinedOutput()
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
	"gatehouse:components:ProjectServices":             1,
	"gatehouse:components:Identity":                    1,
	"gatehouse:components:ServiceAccounts":             1,
	"gatehouse:components:SecureBackend":               1,
	"gatehouse:components:Gateway":                     1,
	"gcp:projects/service:Service":                     9, // 8 APIs + the API's managed service
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
		if pkg, _, _ := strings.Cut(typ, ":"); s.NewState.Custom && !strings.Contains(s.Provider, "pulumi:providers:"+pkg+"::") {
			t.Errorf("%s: provider %s, want the %s provider", s.URN, s.Provider, pkg)
		}
		// Parent: every cloud resource hangs under one of our components;
		// components hang under the stack.
		switch {
		case typ == "pulumi:pulumi:Stack":
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
		switch s.NewState.Type {
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
	root := repoRoot(t)
	dst := t.TempDir()
	cp := exec.Command("bash", "-c", `tar -C "$1" --exclude=./.git --exclude=./.cache --exclude=./bin -c . | tar -C "$2" -x`, "cp", root, dst)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	file := filepath.Join(dst, "infra", "components", "accounts.go")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	planted := strings.Replace(string(src), `pulumi.String(args.Prefix + "-runtime")`, `pulumi.String("X_")`, 1)
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
