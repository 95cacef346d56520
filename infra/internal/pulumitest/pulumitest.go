// Package pulumitest runs gatehouse's Pulumi programs and components with
// Pulumi's mocks (pulumi/examples testing-unit-go) and records what they
// register, for the tests of both programs (infra and infra/bootstrap) and
// of single components.
package pulumitest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"
)

// Resource is one resource as a program registered it.
type Resource struct {
	Type, Name          string
	Custom              bool
	Inputs              resource.PropertyMap
	Parent              string // parent URN
	Provider            string // provider reference (URN::ID), "" for the default provider
	ImportID            string
	RetainOnDelete      bool
	Protect             bool
	DeleteBeforeReplace bool
	IgnoreChanges       []string
	CustomTimeouts      map[string]string
	Aliases             []string // alias specs as "name/type/parent" (empty parts omitted)
	Dependencies        []string // URNs of the resources it was registered to depend on
}

// Input returns the input at a dotted path ("template.containers.0.image")
// as a plain Go value, unwrapping secrets.
func (r Resource) Input(path string) any {
	v := any(r.Inputs.Mappable())
	for _, k := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

// Str is the string input at path, or "".
func (r Resource) Str(path string) string { s, _ := r.Input(path).(string); return s }

// Call is one invoke as a program made it.
type Call struct{ Token, Provider string }

// ProjectNumber is the number the mocks give the project in resource names
// that carry it (Workload Identity pools).
const ProjectNumber = "123456789012"

// Mocks answers registrations and invokes with the outputs Google and
// Docker would compute, of the right shape, and records them.
type Mocks struct {
	Digest string // sha256 hex the image push "returns"
	// Digests overrides Digest for images whose name contains the key.
	Digests map[string]string

	mu        sync.Mutex
	resources []Resource
	calls     []Call
}

func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := Resource{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.ImportID = rpc.GetImportId()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.Parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		r.IgnoreChanges = rpc.GetIgnoreChanges()
		r.Dependencies = rpc.GetDependencies()
		if ct := rpc.GetCustomTimeouts(); ct != nil {
			r.CustomTimeouts = map[string]string{"create": ct.GetCreate(), "update": ct.GetUpdate(), "delete": ct.GetDelete()}
		}
		for _, a := range rpc.GetAliases() {
			if spec := a.GetSpec(); spec != nil {
				r.Aliases = append(r.Aliases, strings.Join([]string{spec.GetName(), spec.GetType(), spec.GetParentUrn()}, "/"))
			} else {
				r.Aliases = append(r.Aliases, a.GetUrn())
			}
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	out := args.Inputs.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	project := r.Str("project")
	switch args.TypeToken {
	case "gcp:serviceaccount/account:Account":
		email := r.Str("accountId") + "@" + project + ".iam.gserviceaccount.com"
		set("email", email)
		set("member", "serviceAccount:"+email)
		set("name", "projects/"+project+"/serviceAccounts/"+email)
	case "gcp:cloudrunv2/service:Service":
		set("uri", "https://"+r.Str("name")+"-abc123xyz-ew.a.run.app")
	case "docker:index/image:Image":
		name := r.Str("imageName")
		digest := m.Digest
		for k, d := range m.Digests {
			if strings.Contains(name, k) {
				digest = d
			}
		}
		set("repoDigest", name[:strings.LastIndex(name, ":")]+"@sha256:"+digest)
	case "gcp:apigateway/api:Api":
		set("managedService", r.Str("apiId")+"-0a1b2c3d4e5f6.apigateway."+project+".cloud.goog")
	case "gcp:apigateway/gateway:Gateway":
		set("defaultHostname", r.Str("gatewayId")+"-3x4mpl3.ew.gateway.dev")
	case "gcp:firebase/webApp:WebApp":
		set("appId", "1:123456789:web:abcdef")
	case "gcp:projects/iAMCustomRole:IAMCustomRole":
		set("name", "projects/"+project+"/roles/"+r.Str("roleId"))
	case "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
		set("name", "projects/"+ProjectNumber+"/locations/global/workloadIdentityPools/"+r.Str("workloadIdentityPoolId"))
	case "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
		set("name", "projects/"+ProjectNumber+"/locations/global/workloadIdentityPools/"+r.Str("workloadIdentityPoolId")+"/providers/"+r.Str("workloadIdentityPoolProviderId"))
	}
	return args.Name + "_id", out, nil
}

func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, Call{args.Token, args.Provider})
	m.mu.Unlock()
	switch args.Token {
	case "gcp:organizations/getClientConfig:getClientConfig":
		return resource.NewPropertyMapFromMap(map[string]any{"accessToken": "ya29.mock-token"}), nil
	case "gcp:firebase/getWebAppConfig:getWebAppConfig":
		return resource.NewPropertyMapFromMap(map[string]any{"apiKey": "AIzaMockKey", "webAppId": "1:123456789:web:abcdef"}), nil
	}
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Resources are the registrations so far, in order.
func (m *Mocks) Resources() []Resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Resource(nil), m.resources...)
}

// Calls are the invokes so far.
func (m *Mocks) Calls() []Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Call(nil), m.calls...)
}

// All are the registered resources of type typ.
func (m *Mocks) All(typ string) []Resource { return ByType(m.Resources(), typ) }

// One is the one registered resource of type typ; the test fails unless
// there is exactly one.
func (m *Mocks) One(t testing.TB, typ string) Resource {
	t.Helper()
	rs := m.All(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	return rs[0]
}

// ByType are the resources of rs of type typ.
func ByType(rs []Resource, typ string) []Resource {
	var out []Resource
	for _, r := range rs {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Result is one mocked run of a program.
type Result struct {
	Mocks   *Mocks
	Outputs map[string]any
	Err     error
}

// Resources are the run's registrations.
func (r Result) Resources() []Resource { return r.Mocks.Resources() }

// Program is a Pulumi program as gatehouse writes it: build the graph and
// hand each stack output to export.
type Program func(ctx *pulumi.Context, export func(string, pulumi.Input)) error

// Run executes program with cfg as the stack's config (keys with their
// namespace, such as gcp:project), in project and stack, with m as the
// mocks, and collects the stack outputs.
func Run(t testing.TB, project, stack string, cfg map[string]string, m *Mocks, program Program) Result {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(js))
	outputs := map[string]any{}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		exported := pulumi.Map{}
		if err := program(ctx, func(name string, v pulumi.Input) {
			ctx.Export(name, v)
			exported[name] = v
		}); err != nil {
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
	}, pulumi.WithMocks(project, stack, m))
	return Result{Mocks: m, Outputs: outputs, Err: err}
}

// RunComponent builds one component (or several) with the mocks, outside
// any program: its tests pass literal args.
func RunComponent(t testing.TB, m *Mocks, build func(ctx *pulumi.Context) error) error {
	t.Helper()
	return pulumi.RunErr(build, pulumi.WithMocks("gatehouse", "test", m))
}

// With is a copy of cfg with the key-value pairs kv set.
func With(cfg map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// StackConfig reads a stack file's config block as Pulumi passes it to the
// program: structured values as JSON.
func StackConfig(t testing.TB, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range f.Config {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = string(js)
	}
	return out
}

// Edit is a copy of rs with the inputs of the first resource of type typ
// whose name contains name ("" for any) changed by change. The test fails
// when there is no such resource: a planted violation must be planted.
func Edit(t testing.TB, rs []Resource, typ, name string, change func(map[string]any)) []Resource {
	t.Helper()
	out := append([]Resource(nil), rs...)
	for i, r := range out {
		if r.Type == typ && strings.Contains(r.Name, name) {
			m := r.Inputs.Mappable()
			change(m)
			out[i].Inputs = resource.NewPropertyMapFromMap(m)
			return out
		}
	}
	t.Fatalf("no %s named like %q to edit", typ, name)
	return nil
}

// Plus is a copy of rs with one more custom resource of type typ.
func Plus(rs []Resource, typ, name string, inputs map[string]any) []Resource {
	return append(append([]Resource(nil), rs...), Resource{Type: typ, Name: name, Custom: true, Inputs: resource.NewPropertyMapFromMap(inputs)})
}

// Without is a copy of rs without the resources keep rejects.
func Without(rs []Resource, drop func(Resource) bool) []Resource {
	var out []Resource
	for _, r := range rs {
		if !drop(r) {
			out = append(out, r)
		}
	}
	return out
}
