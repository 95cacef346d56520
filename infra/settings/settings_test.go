package settings

import (
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

func TestDefaults(t *testing.T) {
	c, err := Load(gcp, mapSource{})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Project: "my-project-1", Region: "europe-west1", ServiceName: "gatehouse", MinInstances: 0, MaxInstances: 3,
		CPU: "1", Memory: "512Mi", Concurrency: 80, RequestTimeout: 30 * time.Second, Deadline: 15 * time.Second,
		LogLevel: "info", ManageFirebase: true, FirebaseProjectID: "my-project-1", ImageTag: "main",
	}
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("Load(defaults) = %+v, want %+v", c, want)
	}
}

func TestLoadValues(t *testing.T) {
	c, err := Load(gcp, mapSource{
		"serviceName": "api", "minInstances": "1", "maxInstances": "10", "cpu": "500m", "memory": "1Gi",
		"concurrency": "20", "requestTimeout": "60s", "backendDeadline": "45s", "deletionProtection": "true",
		"manageFirebase": "false", "firebaseProjectId": "other-proj", "firebaseApiKey": "AIza", "corsOrigins": `["https://app.example.com/","*"]`,
		"serviceAccountIssuers": `["a-robot@p-123456.iam.gserviceaccount.com=aud1","b-robot@p-123456.iam.gserviceaccount.com=aud2"]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceName != "api" || c.MinInstances != 1 || c.MaxInstances != 10 || c.CPU != "500m" || !c.DeletionProtection ||
		c.ManageFirebase || c.FirebaseProjectID != "other-proj" || fmt.Sprint(c.CORSOrigins) != "[https://app.example.com *]" || c.Deadline != 45*time.Second || len(c.ServiceAccountIssuers) != 2 ||
		c.ServiceAccountIssuers[1] != (spec.ServiceAccount{Email: "b-robot@p-123456.iam.gserviceaccount.com", Audience: "aud2"}) {
		t.Errorf("Load = %+v", c)
	}
	p := c.SpecParams("https://x.a.run.app", "api-1.apigateway.p.cloud.goog")
	if p.EndpointsName == "" || !p.CORS || p.FirebaseProjectID != "other-proj" || p.Deadline != 45*time.Second {
		t.Errorf("SpecParams = %+v", p)
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
		{gcp, mapSource{"serviceAccountIssuers": `["no-equals-sign"]`}, "want EMAIL=AUDIENCE"},
		{gcp, mapSource{"serviceAccountIssuers": `["bob@gmail.com=aud"]`}, "gatehouse:serviceAccountIssuers"},
	}
	for _, tt := range tests {
		own := tt.own
		if own == nil {
			own = mapSource{}
		}
		_, err := Load(tt.gcp, own)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%v, %v) = %v, want error containing %q", tt.gcp, own, err, tt.want)
		}
	}
}

// TestPulumiYAMLMatchesDefaults keeps Pulumi.yaml's config block and the Go
// defaults in step: same keys, same defaults, each with a description.
func TestPulumiYAMLMatchesDefaults(t *testing.T) {
	b, err := os.ReadFile("../../Pulumi.yaml")
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
		"serviceAccountIssuers": "[]", "corsOrigins": "[]", "imageTag": DefaultImageTag,
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
		if l, ok := c.Default.([]any); ok && len(l) == 0 {
			got = "[]"
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
