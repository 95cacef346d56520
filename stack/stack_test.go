package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/spec"
)

type mapSource map[string]string

func (m mapSource) Get(k string) string { return m[k] }

var gcp = mapSource{"project": "my-project-1", "region": "europe-west1"}

// load is Load with this checkout as the repository.
func load(gcp, own Source) (Config, error) { return Load(gcp, own, "..") }

func TestDefaults(t *testing.T) {
	c, err := load(gcp, mapSource{})
	if err != nil {
		t.Fatal(err)
	}
	run := RunSettings{MinInstances: 0, MaxInstances: 3, CPU: "1", Memory: "512Mi", Concurrency: 80, RequestTimeout: 30 * time.Second}
	want := Config{
		Project: "my-project-1", Region: "europe-west1", ServiceName: "gatehouse", Defaults: run, Deadline: 15 * time.Second,
		LogLevel: "info", ManageFirebase: true, FirebaseProjectID: "my-project-1", ImageTag: "main",
	}
	backends := c.Backends
	c.Backends = nil
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("load(defaults) = %+v, want %+v", c, want)
	}
	// The default list is /v1's entry, with the stack's Cloud Run settings.
	if len(backends) != 1 {
		t.Fatalf("default backends = %+v, want /v1's entry", backends)
	}
	b := backends[0]
	if b.Name != "v1" || b.Spec != "service/hello/openapi.yaml" || fmt.Sprint(b.Paths) != "[/v1/]" || b.Run != run || len(b.Fragment) == 0 ||
		b.Build == nil || b.Build.Context != "../service" || b.Build.Dockerfile != "../service/cmd/hello/Dockerfile" || b.Build.Args["CMD"] != "./cmd/hello" {
		t.Errorf("default backend = %+v (build %+v)", b, b.Build)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := load(gcp, mapSource{
		"serviceName": "api", "minInstances": "1", "maxInstances": "10", "cpu": "500m", "memory": "1Gi",
		"concurrency": "1", "requestTimeout": "60s", "backendDeadline": "45s", "deletionProtection": "true",
		"manageFirebase": "false", "firebaseProjectId": "other-proj", "firebaseApiKey": "AIza", "corsOrigins": `["https://app.example.com/","*"]`,
		"serviceAccountIssuers": `["a-robot@p-123456.iam.gserviceaccount.com=aud1","b-robot@p-123456.iam.gserviceaccount.com=aud2"]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceName != "api" || c.Defaults.MinInstances != 1 || c.Defaults.MaxInstances != 10 || c.Defaults.CPU != "500m" || !c.DeletionProtection ||
		c.ManageFirebase || c.FirebaseProjectID != "other-proj" || fmt.Sprint(c.CORSOrigins) != "[https://app.example.com *]" || c.Deadline != 45*time.Second || len(c.ServiceAccountIssuers) != 2 ||
		c.ServiceAccountIssuers[1] != (spec.ServiceAccount{Email: "b-robot@p-123456.iam.gserviceaccount.com", Audience: "aud2"}) {
		t.Errorf("Load = %+v", c)
	}
	p := c.Contract().Params(map[string]string{"v1": "https://x.a.run.app"}, "api-1.apigateway.p.cloud.goog")
	if p.EndpointsName == "" || !p.CORS || p.FirebaseProjectID != "other-proj" || p.Deadline != 45*time.Second || p.Title != "api" ||
		len(p.Backends) != 1 || p.Backends[0].URL != "https://x.a.run.app" || len(p.ServiceAccounts) != 2 {
		t.Errorf("Contract().Params = %+v", p)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		gcp  mapSource
		own  mapSource
		want string
	}{
		{mapSource{"region": "europe-west1"}, nil, "gcp:project: is required"},
		{mapSource{"project": "my-project-1"}, nil, "gcp:region: is required"},
		{mapSource{"project": "my-project-1", "region": "mars-north1"}, nil, "has no API Gateway"},
		{mapSource{"project": "my-project-1", "region": "Europe"}, nil, "not a region name"},
		{gcp, mapSource{"serviceName": "a-very-long-service-name-indeed"}, "gatehouse:serviceName"},
		{gcp, mapSource{"minInstances": "-1"}, "gatehouse:minInstances: must be 0 or more"},
		{gcp, mapSource{"maxInstances": "0"}, "gatehouse:maxInstances"},
		{gcp, mapSource{"maxInstances": "1.5"}, "gatehouse:maxInstances: \"1.5\" is not an integer"},
		{gcp, mapSource{"cpu": "3"}, "gatehouse:cpu"},
		{mapSource{"project": "my-project-1", "region": "asia-east1"}, nil, `"asia-east1" has no API Gateway`},
		{gcp, mapSource{"extraGatewayRegions": `["Mars"]`}, "gatehouse:extraGatewayRegions"},
		{gcp, mapSource{"memory": "512MB"}, "gatehouse:memory"},
		{gcp, mapSource{"concurrency": "0"}, "gatehouse:concurrency"},
		{gcp, mapSource{"requestTimeout": "forever"}, "gatehouse:requestTimeout"},
		{gcp, mapSource{"requestTimeout": "2h"}, "gatehouse:requestTimeout"},
		{gcp, mapSource{"backendDeadline": "0s"}, "gatehouse:backendDeadline"},
		{gcp, mapSource{"logLevel": "loud"}, "gatehouse:logLevel"},
		{gcp, mapSource{"corsOrigins": `["app.example.com"]`}, "gatehouse:corsOrigins"},
		{gcp, mapSource{"corsOrigins": `["https://app.example.com/path"]`}, "gatehouse:corsOrigins"},
		{gcp, mapSource{"firebaseProjectId": "other-proj"}, "gatehouse:firebaseProjectId: with manageFirebase on"},
		{gcp, mapSource{"firebaseApiKey": "AIza"}, "gatehouse:firebaseApiKey"},
		{gcp, mapSource{"manageFirebase": "false", "firebaseProjectId": "BAD"}, "gatehouse:firebaseProjectId"},
		{gcp, mapSource{"imageTag": "bad tag"}, "gatehouse:imageTag"},
		{gcp, mapSource{"imageRegistry": "europe-west1-docker.pkg.dev"}, "gatehouse:imageRegistry"},
		{gcp, mapSource{"imageRegistry": "10.0.0.1:5000"}, "gatehouse:imageRegistry"},
		{gcp, mapSource{"serviceAccountIssuers": `["no-equals-sign"]`}, "want EMAIL=AUDIENCE"},
		{gcp, mapSource{"serviceAccountIssuers": `["bob@gmail.com=aud"]`}, "gatehouse:serviceAccountIssuers"},
	}
	for _, tt := range tests {
		own := tt.own
		if own == nil {
			own = mapSource{}
		}
		_, err := load(tt.gcp, own)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("load(%v, %v) = %v, want error containing %q", tt.gcp, own, err, tt.want)
		}
	}
}

// TestPulumiYAMLMatchesDefaults keeps Pulumi.yaml's config block and the Go
// defaults in step: same keys, same defaults, each with a description.
func TestPulumiYAMLMatchesDefaults(t *testing.T) {
	b, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var project struct {
		Name    string `yaml:"name"`
		Runtime string `yaml:"runtime"`
		Main    string `yaml:"main"`
		Config  map[string]struct {
			Type        string `yaml:"type"`
			Default     any    `yaml:"default"`
			Description string `yaml:"description"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &project); err != nil {
		t.Fatal(err)
	}
	if project.Name != Namespace || project.Runtime != "go" || project.Main != "infra/" {
		t.Errorf("Pulumi.yaml name/runtime/main = %s/%s/%s", project.Name, project.Runtime, project.Main)
	}
	// What Load reads with nothing set, as config strings.
	want := map[string]string{
		"serviceName": DefaultServiceName, "minInstances": fmt.Sprint(DefaultMinInstances), "maxInstances": fmt.Sprint(DefaultMaxInstances),
		"cpu": DefaultCPU, "memory": DefaultMemory, "concurrency": fmt.Sprint(DefaultConcurrency), "requestTimeout": DefaultRequestTimeout,
		"backendDeadline": DefaultBackendDeadline, "logLevel": DefaultLogLevel, "deletionProtection": fmt.Sprint(DefaultDeletionProtect),
		"manageFirebase": fmt.Sprint(DefaultManageFirebase), "firebaseProjectId": "", "firebaseApiKey": "",
		"serviceAccountIssuers": "[]", "corsOrigins": "[]", "imageTag": DefaultImageTag, "imageRegistry": "",
		"identityPlatformExists": fmt.Sprint(DefaultIdentityExists), "extraGatewayRegions": "[]",
		"existingServiceAccounts": fmt.Sprint(DefaultExistingSAs), "backends": DefaultBackends,
		"allowSignUp":          "", // unset has a meaning of its own: Identity Platform's default, or what an adopted config has
		"requireVerifiedEmail": fmt.Sprint(DefaultRequireVerified),
	}
	for key, w := range want {
		c, ok := project.Config[key]
		if !ok {
			t.Errorf("Pulumi.yaml lacks config key %s", key)
			continue
		}
		if c.Description == "" || c.Type == "" {
			t.Errorf("Pulumi.yaml %s has no type or description", key)
		}
		got := fmt.Sprint(c.Default)
		if l, ok := c.Default.([]any); ok {
			got = "[]"
			if len(l) > 0 {
				js, _ := json.Marshal(l)
				got = string(js)
				var wantList any
				_ = json.Unmarshal([]byte(w), &wantList)
				ws, _ := json.Marshal(wantList)
				w = string(ws) // both as JSON with sorted keys
			}
		}
		if got != w {
			t.Errorf("Pulumi.yaml %s default = %q, Go default = %q", key, got, w)
		}
	}
	for key := range project.Config {
		if _, ok := want[key]; !ok {
			t.Errorf("Pulumi.yaml declares %s, which settings.Load does not read", key)
		}
	}
}

// The CPU, memory and concurrency combinations of Cloud Run's tables
// (services/cpu and services/memory-limits): valid ones load, invalid ones
// fail naming the keys involved.
func TestCPUMemoryRules(t *testing.T) {
	tests := []struct {
		cpu, memory, concurrency string
		want                     []string // empty: valid
	}{
		{"1", "512Mi", "80", nil},
		{"1", "4Gi", "80", nil},
		{"1", "128Mi", "80", nil},
		{"2", "8Gi", "80", nil},
		{"4", "2Gi", "80", nil},
		{"4", "16Gi", "80", nil},
		{"6", "4Gi", "80", nil}, // 6 vCPU is valid
		{"6", "24Gi", "80", nil},
		{"8", "32Gi", "1000", nil},
		{"2000m", "1Gi", "80", nil},
		{"500m", "512Mi", "1", nil},
		{"500m", "1Gi", "1", nil},
		{"80m", "512Mi", "1", nil},
		{"990m", "1Gi", "1", nil},
		{"500m", "512Mi", "80", []string{"gatehouse:concurrency: must be 1 with cpu 500m below 1 CPU"}},
		{"250m", "1Gi", "1", []string{"gatehouse:memory: above 512Mi needs cpu of at least 500m, got cpu 250m"}},
		{"500m", "2Gi", "1", []string{"gatehouse:memory: above 1Gi needs cpu of at least 1, got cpu 500m"}},
		{"1", "8Gi", "80", []string{"gatehouse:memory: with cpu 1 must be from 128Mi to 4Gi"}},
		{"2", "16Gi", "80", []string{"gatehouse:memory: with cpu 2 must be from 128Mi to 8Gi"}},
		{"4", "1Gi", "80", []string{"gatehouse:memory: with cpu 4 must be from 2Gi to 16Gi"}},
		{"6", "2Gi", "80", []string{"gatehouse:memory: with cpu 6 must be from 4Gi to 24Gi"}},
		{"8", "2Gi", "80", []string{"gatehouse:memory: with cpu 8 must be from 4Gi to 32Gi"}},
		{"3", "1Gi", "80", []string{"gatehouse:cpu: \"3\" must be 1, 2, 4, 6 or 8"}},
		{"16", "1Gi", "80", []string{"gatehouse:cpu"}},
		{"50m", "256Mi", "1", []string{"gatehouse:cpu: \"50m\""}},
		{"505m", "256Mi", "1", []string{"gatehouse:cpu"}},
		{"1500m", "1Gi", "80", []string{"gatehouse:cpu"}},
		{"1", "64Mi", "80", []string{"gatehouse:memory: \"64Mi\" must be from 128Mi to 32Gi"}},
		{"8", "64Gi", "80", []string{"gatehouse:memory"}},
		{"250m", "2Gi", "80", []string{"gatehouse:concurrency", "gatehouse:memory: above 1Gi"}},
	}
	for _, tt := range tests {
		t.Run(tt.cpu+"/"+tt.memory+"/"+tt.concurrency, func(t *testing.T) {
			_, err := load(gcp, mapSource{"cpu": tt.cpu, "memory": tt.memory, "concurrency": tt.concurrency})
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("valid combination refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("invalid combination accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// The region list follows the deployment-model page; an extra region opens
// one it lacks, and only that one.
func TestGatewayRegions(t *testing.T) {
	for _, r := range []string{"us-west3", "us-west4", "europe-west1", "asia-northeast1"} {
		if _, err := load(mapSource{"project": "my-project-1", "region": r}, mapSource{}); err != nil {
			t.Errorf("region %s refused: %v", r, err)
		}
	}
	if _, err := load(mapSource{"project": "my-project-1", "region": "europe-west9"}, mapSource{}); err == nil || !strings.Contains(err.Error(), "extraGatewayRegions") {
		t.Errorf("europe-west9 without the escape hatch: %v, want a refusal naming extraGatewayRegions", err)
	}
	c, err := load(mapSource{"project": "my-project-1", "region": "europe-west9"}, mapSource{"extraGatewayRegions": `["europe-west9"]`})
	if err != nil || c.Region != "europe-west9" {
		t.Errorf("europe-west9 with extraGatewayRegions: %+v %v", c, err)
	}
}

func TestIdentityAndCredentials(t *testing.T) {
	c, err := load(mapSource{"project": "my-project-1", "region": "europe-west1", "accessToken": "ya29.x", "impersonateServiceAccount": "d@p.iam.gserviceaccount.com"},
		mapSource{"identityPlatformExists": "true"})
	if err != nil || !c.IdentityPlatformExists || c.AccessToken != "ya29.x" || c.ImpersonateServiceAccount != "d@p.iam.gserviceaccount.com" {
		t.Errorf("Load = %+v %v", c, err)
	}
	if _, err := load(gcp, mapSource{"identityPlatformExists": "yes"}); err == nil || !strings.Contains(err.Error(), "gatehouse:identityPlatformExists") {
		t.Errorf("identityPlatformExists yes: %v", err)
	}
}

// TestSignUpSettings: gatehouse:allowSignUp is unset (nil: Identity
// Platform's default for a new config, the adopted config's own setting
// otherwise), true or false; gatehouse:requireVerifiedEmail is false unless
// set. Bad values, and a sign-up setting for a Firebase project the stack
// does not manage, fail naming the key.
func TestSignUpSettings(t *testing.T) {
	for _, tt := range []struct {
		own         mapSource
		allow       string // "<nil>", "true", "false"
		requireMail bool
		err         string
	}{
		{mapSource{}, "<nil>", false, ""},
		{mapSource{"allowSignUp": "false"}, "false", false, ""},
		{mapSource{"allowSignUp": "true", "requireVerifiedEmail": "true"}, "true", true, ""},
		{mapSource{"allowSignUp": "no"}, "", false, `gatehouse:allowSignUp: "no" is not true or false`},
		{mapSource{"requireVerifiedEmail": "yes"}, "", false, `gatehouse:requireVerifiedEmail: "yes" is not true or false`},
		{mapSource{"allowSignUp": "false", "manageFirebase": "false", "firebaseProjectId": "other-proj", "firebaseApiKey": "AIza"}, "", false,
			"gatehouse:allowSignUp: applies to the Firebase project the stack manages; with manageFirebase false, set sign-up in other-proj's own Firebase console"},
	} {
		c, err := load(gcp, tt.own)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%v: err = %v, want %q", tt.own, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.own, err)
		}
		got := "<nil>"
		if c.AllowSignUp != nil {
			got = fmt.Sprint(*c.AllowSignUp)
		}
		if got != tt.allow || c.RequireVerifiedEmail != tt.requireMail {
			t.Errorf("%v: AllowSignUp %s, RequireVerifiedEmail %v; want %s, %v", tt.own, got, c.RequireVerifiedEmail, tt.allow, tt.requireMail)
		}
	}
}
