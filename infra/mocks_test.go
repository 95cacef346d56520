package main

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

// registered is one resource as the program registered it.
type registered struct {
	Type, Name          string
	Custom              bool
	Inputs              resource.PropertyMap
	Parent              string // parent URN
	Provider            string // provider reference (URN::ID), "" for the default provider
	ImportID            string
	RetainOnDelete      bool
	Protect             bool
	DeleteBeforeReplace bool
	CustomTimeouts      map[string]string
}

// input returns the input at a dotted path ("template.containers.0.image")
// as a plain Go value, unwrapping secrets.
func (r registered) input(path string) any {
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

func (r registered) str(path string) string { s, _ := r.input(path).(string); return s }

// mocks answers the program's resource registrations and calls.
type mocks struct {
	digest string // sha256 hex the image push "returns"
	// digests overrides digest for images whose name contains the key.
	digests map[string]string

	mu        sync.Mutex
	resources []registered
	calls     []call
}

// call is one invoke as the program made it.
type call struct{ Token, Provider string }

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := registered{Type: args.TypeToken, Name: args.Name, Custom: args.Custom, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.ImportID = rpc.GetImportId()
		r.RetainOnDelete = rpc.GetRetainOnDelete()
		r.Parent = rpc.GetParent()
		r.Protect = rpc.GetProtect()
		r.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		if ct := rpc.GetCustomTimeouts(); ct != nil {
			r.CustomTimeouts = map[string]string{"create": ct.GetCreate(), "update": ct.GetUpdate(), "delete": ct.GetDelete()}
		}
	}
	m.mu.Lock()
	m.resources = append(m.resources, r)
	m.mu.Unlock()

	out := args.Inputs.Copy()
	set := func(k string, v any) { out[resource.PropertyKey(k)] = resource.NewPropertyValue(v) }
	project := r.str("project")
	switch args.TypeToken {
	case "gcp:serviceaccount/account:Account":
		email := r.str("accountId") + "@" + project + ".iam.gserviceaccount.com"
		set("email", email)
		set("member", "serviceAccount:"+email)
	case "gcp:cloudrunv2/service:Service":
		set("uri", "https://"+r.str("name")+"-abc123xyz-ew.a.run.app")
	case "docker:index/image:Image":
		name := r.str("imageName")
		digest := m.digest
		for k, d := range m.digests {
			if strings.Contains(name, k) {
				digest = d
			}
		}
		set("repoDigest", name[:strings.LastIndex(name, ":")]+"@sha256:"+digest)
	case "gcp:apigateway/api:Api":
		set("managedService", r.str("apiId")+"-0a1b2c3d4e5f6.apigateway."+project+".cloud.goog")
	case "gcp:apigateway/gateway:Gateway":
		set("defaultHostname", r.str("gatewayId")+"-3x4mpl3.ew.gateway.dev")
	case "gcp:firebase/webApp:WebApp":
		set("appId", "1:123456789:web:abcdef")
	}
	return args.Name + "_id", out, nil
}

func (m *mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, call{args.Token, args.Provider})
	m.mu.Unlock()
	switch args.Token {
	case "gcp:organizations/getClientConfig:getClientConfig":
		return resource.NewPropertyMapFromMap(map[string]any{"accessToken": "ya29.mock-token"}), nil
	case "gcp:firebase/getWebAppConfig:getWebAppConfig":
		return resource.NewPropertyMapFromMap(map[string]any{"apiKey": "AIzaMockKey", "webAppId": "1:123456789:web:abcdef"}), nil
	}
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

func (m *mocks) all(typ string) []registered {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []registered
	for _, r := range m.resources {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (m *mocks) one(t *testing.T, typ string) registered {
	t.Helper()
	rs := m.all(typ)
	if len(rs) != 1 {
		t.Fatalf("%d resources of type %s, want 1", len(rs), typ)
	}
	return rs[0]
}

// stackConfig reads a stack file's config block.
func stackConfig(t *testing.T, file string) map[string]string {
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
	// Structured values reach the program as JSON, as Pulumi passes them.
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

func devConfig(t *testing.T) map[string]string { return stackConfig(t, "../Pulumi.dev.yaml") }

// result is one mocked run of the program.
type result struct {
	m       *mocks
	outputs map[string]any
	err     error
}

// run executes the program with cfg as the stack's config.
func run(t *testing.T, cfg map[string]string, digest string) result {
	return runWith(t, cfg, &mocks{digest: digest})
}

// runWith executes the program with the given mocks.
func runWith(t *testing.T, cfg map[string]string, m *mocks) result {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(pulumi.EnvConfig, string(js))
	outputs := map[string]any{}
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		exported := pulumi.Map{}
		if err := build(ctx, func(name string, v pulumi.Input) {
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
	}, pulumi.WithMocks("gatehouse", "dev", m))
	return result{m: m, outputs: outputs, err: err}
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
