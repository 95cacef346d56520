package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/infra/internal/invariants"
	pt "github.com/gatehouse/gatehouse/infra/internal/pulumitest"
	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

const digestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestDevStackGraph(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, cfg, digestA)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m := res.Mocks
	project, region := cfg["gcp:project"], cfg["gcp:region"]

	apis := map[string]bool{}
	for _, s := range m.All("gcp:projects/service:Service") {
		apis[s.Str("service")] = true
		if s.Input("disableOnDestroy") != false {
			t.Errorf("API %s would be disabled on destroy", s.Str("service"))
		}
	}
	for _, want := range []string{"run.googleapis.com", "apigateway.googleapis.com", "servicemanagement.googleapis.com",
		"servicecontrol.googleapis.com", "artifactregistry.googleapis.com", "iam.googleapis.com", "firebase.googleapis.com",
		"identitytoolkit.googleapis.com"} {
		if !apis[want] {
			t.Errorf("API %s not enabled; enabled: %v", want, apis)
		}
	}
	// The API's own managed service is enabled only for API keys and
	// quotas, which the spec does not use; enabling it needs
	// servicemanagement.services.bind, which the CI deployer lacks.
	for api := range apis {
		if strings.HasSuffix(api, ".cloud.goog") {
			t.Errorf("the API's managed service %s is enabled", api)
		}
	}

	repo := m.One(t, "gcp:artifactregistry/repository:Repository")
	if repo.Str("format") != "DOCKER" || repo.Str("location") != region || repo.Str("repositoryId") != "gatehouse" {
		t.Errorf("repository = %v", repo.Inputs)
	}

	img := m.One(t, "docker:index/image:Image")
	wantImage := region + "-docker.pkg.dev/" + project + "/gatehouse/gatehouse:main"
	if img.Str("imageName") != wantImage || img.Str("build.platform") != components.ImagePlatform ||
		img.Str("build.context") != "../service" || img.Str("build.dockerfile") != "../service/cmd/hello/Dockerfile" || img.Str("build.args.CMD") != "./cmd/hello" {
		t.Errorf("image = %v, want %s built from ../service/cmd/hello/Dockerfile with CMD=./cmd/hello for %s", img.Inputs, wantImage, components.ImagePlatform)
	}
	// The push uses the host's Docker credentials for the registry host,
	// never a credential in the image's inputs (TestNoCredentialInInputs).
	if reg, _ := img.Input("registry").(map[string]any); len(reg) != 1 || reg["server"] != region+"-docker.pkg.dev" {
		t.Errorf("registry = %v, want the server only", img.Input("registry"))
	}

	svc := m.One(t, tRunService)
	digestRef := wantImage[:strings.LastIndex(wantImage, ":")] + "@sha256:" + digestA
	checks := map[string]any{
		"name": "gatehouse", "location": region, "ingress": "INGRESS_TRAFFIC_ALL",
		"template.serviceAccount":                          "gatehouse-runtime@" + project + ".iam.gserviceaccount.com",
		"template.containers.0.image":                      digestRef,
		"template.containers.0.ports.0.containerPort":      8080.0,
		"template.containers.0.startupProbe.httpGet.path":  "/healthz",
		"template.containers.0.livenessProbe.httpGet.path": "/healthz",
		"template.containers.0.resources.limits.cpu":       "1",
		"template.containers.0.resources.limits.memory":    "512Mi",
		"template.maxInstanceRequestConcurrency":           80.0,
		"template.scaling.minInstanceCount":                0.0,
		"template.scaling.maxInstanceCount":                2.0,
		"template.timeout":                                 "30s",
		"template.containers.0.envs.0.value":               project,
	}
	for path, want := range checks {
		if got := svc.Input(path); got != want {
			t.Errorf("Cloud Run %s = %v, want %v", path, got, want)
		}
	}

	for _, typ := range []string{"gcp:firebase/project:Project", "gcp:identityplatform/config:Config", "gcp:firebase/webApp:WebApp",
		"gcp:apigateway/api:Api", "gcp:apigateway/gateway:Gateway", tRunIamMember} {
		m.One(t, typ)
	}
	auth := m.One(t, "gcp:identityplatform/config:Config")
	if auth.Input("signIn.email.enabled") != true || auth.Input("signIn.email.passwordRequired") != true {
		t.Errorf("email/password sign-in not enabled: %v", auth.Input("signIn"))
	}
	gw := m.One(t, "gcp:apigateway/gateway:Gateway")
	if gw.Str("region") != region || gw.Str("apiConfig") != "gateway-config_id" {
		t.Errorf("gateway = %v", gw.Inputs)
	}
	if gw.CustomTimeouts["create"] == "" {
		t.Error("gateway has no custom create timeout")
	}

	// Every custom resource is parented under a gatehouse component.
	for _, r := range m.Resources() {
		if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") && !strings.Contains(r.Parent, "gatehouse:components:") {
			t.Errorf("%s %s has parent %q, want a gatehouse component", r.Type, r.Name, r.Parent)
		}
	}
}

func apiConfigDoc(t *testing.T, m *pt.Mocks) (registered, string) {
	t.Helper()
	cfg := m.One(t, tApiConfig)
	raw, err := base64.StdEncoding.DecodeString(cfg.Str("openapiDocuments.0.document.contents"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, string(raw)
}

func TestRenderedSpecInAPIConfig(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, cfg, digestA)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	apiCfg, doc := apiConfigDoc(t, res.Mocks)
	for _, want := range []string{
		"address: https://gatehouse-abc123xyz-ew.a.run.app",
		"jwt_audience: https://gatehouse-abc123xyz-ew.a.run.app",
		"x-google-issuer: https://securetoken.google.com/" + cfg["gcp:project"],
		"x-google-audiences: " + cfg["gcp:project"],
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("rendered document lacks %q:\n%s", want, doc)
		}
	}
	if err := spec.Validate([]byte(doc), spec.Options{}); err != nil {
		t.Errorf("document in the ApiConfig is invalid: %v", err)
	}
	gatewaySA := res.Outputs["gatewayServiceAccount"].(string)
	if id, want := apiCfg.Str("apiConfigId"), spec.ConfigID([]byte(doc), gatewaySA); id != want {
		t.Errorf("apiConfigId = %q, want spec.ConfigID(doc, gateway account) = %q", id, want)
	}
	if apiCfg.DeleteBeforeReplace {
		t.Error("ApiConfig is delete-before-replace; a new config must exist before the old one goes")
	}
	if res.Outputs["apiConfigId"] != apiCfg.Str("apiConfigId") {
		t.Errorf("apiConfigId output = %v, want %s", res.Outputs["apiConfigId"], apiCfg.Str("apiConfigId"))
	}
}

func TestUpdateBehaviour(t *testing.T) {
	cfg := devConfig(t)
	a := run(t, cfg, digestA)
	b := run(t, cfg, strings.Repeat("b", 64))
	if a.Err != nil || b.Err != nil {
		t.Fatal(a.Err, b.Err)
	}
	ca, _ := apiConfigDoc(t, a.Mocks)
	cb, _ := apiConfigDoc(t, b.Mocks)
	if !ca.Inputs.DeepEquals(cb.Inputs) {
		t.Errorf("a new image digest changed the ApiConfig inputs:\n%v\n%v", ca.Inputs, cb.Inputs)
	}
	ia := a.Mocks.One(t, tRunService).Str("template.containers.0.image")
	ib := b.Mocks.One(t, tRunService).Str("template.containers.0.image")
	if ia == ib || !strings.HasSuffix(ib, strings.Repeat("b", 64)) {
		t.Errorf("Cloud Run image %q -> %q, want the new digest", ia, ib)
	}

	for _, kv := range [][2]string{
		{"gatehouse:backendDeadline", "20s"},
		{"gatehouse:corsOrigins", `["https://app.example.com"]`},
		{"gatehouse:serviceAccountIssuers", `["robot@my-gcp-project-id.iam.gserviceaccount.com=gatehouse"]`},
	} {
		c := run(t, with(cfg, kv[0], kv[1]), digestA)
		if c.Err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], c.Err)
		}
		cc, _ := apiConfigDoc(t, c.Mocks)
		if cc.Str("apiConfigId") == ca.Str("apiConfigId") {
			t.Errorf("%s=%s left the config id at %s", kv[0], kv[1], ca.Str("apiConfigId"))
		}
	}
}

func TestFirebaseOff(t *testing.T) {
	cfg := with(devConfig(t), "gatehouse:manageFirebase", "false", "gatehouse:firebaseProjectId", "other-firebase-proj",
		"gatehouse:firebaseApiKey", "AIzaExisting")
	res := run(t, cfg, digestA)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, r := range res.Resources() {
		if strings.HasPrefix(r.Type, "gcp:firebase/") || strings.HasPrefix(r.Type, "gcp:identityplatform/") {
			t.Errorf("Firebase off still registers %s %s", r.Type, r.Name)
		}
		if r.Type == "gcp:projects/service:Service" && (r.Str("service") == "firebase.googleapis.com" || r.Str("service") == "identitytoolkit.googleapis.com") {
			t.Errorf("Firebase off still enables %s", r.Str("service"))
		}
	}
	_, doc := apiConfigDoc(t, res.Mocks)
	if !strings.Contains(doc, "x-google-issuer: https://securetoken.google.com/other-firebase-proj") {
		t.Errorf("spec does not use the configured Firebase project:\n%s", doc)
	}
	if res.Outputs["firebaseProjectId"] != "other-firebase-proj" || res.Outputs["firebaseApiKey"] != "AIzaExisting" {
		t.Errorf("outputs = %v", res.Outputs)
	}
}

func TestBadConfigRegistersNothing(t *testing.T) {
	dev := devConfig(t)
	tests := []struct {
		cfg  map[string]string
		want string
	}{
		{with(dev, "gcp:project", ""), "gcp:project: is required"},
		{with(dev, "gcp:project", "Not_A_Project"), "gcp:project"},
		{with(dev, "gcp:region", "us-west1"), `gcp:region: "us-west1" has no API Gateway`},
		{with(dev, "gatehouse:minInstances", "5"), "gatehouse:minInstances: 5 is more than maxInstances 2"},
		{with(dev, "gatehouse:maxInstances", "lots"), "gatehouse:maxInstances"},
		{with(dev, "gatehouse:serviceName", "Bad_Name"), "gatehouse:serviceName"},
		{with(dev, "gatehouse:memory", "lots"), "gatehouse:memory"},
		{with(dev, "gatehouse:backendDeadline", "60s"), "gatehouse:backendDeadline"},
		{with(dev, "gatehouse:serviceAccountIssuers", `["not-an-email=aud"]`), "gatehouse:serviceAccountIssuers"},
		{with(dev, "gatehouse:deletionProtection", "yes"), "gatehouse:deletionProtection"},
	}
	for _, tt := range tests {
		res := run(t, tt.cfg, digestA)
		if res.Err == nil || !strings.Contains(res.Err.Error(), tt.want) {
			t.Errorf("run = %v, want error containing %q", res.Err, tt.want)
		}
		if n := len(res.Resources()); n != 0 {
			t.Errorf("bad config (%s) registered %d resources, want 0", tt.want, n)
		}
	}
}

func TestDeletionProtection(t *testing.T) {
	for _, on := range []bool{false, true} {
		res := run(t, with(devConfig(t), "gatehouse:deletionProtection", fmt.Sprint(on)), digestA)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, typ := range []string{tRunService, tRepo, "gcp:apigateway/api:Api"} {
			if got := res.Mocks.One(t, typ).Protect; got != on {
				t.Errorf("deletionProtection=%v: %s protect = %v", on, typ, got)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, cfg, digestA)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	project, region := cfg["gcp:project"], cfg["gcp:region"]
	want := map[string]any{
		"gatewayUrl":            "https://gatehouse-3x4mpl3.ew.gateway.dev",
		"backendUrl":            "https://gatehouse-abc123xyz-ew.a.run.app",
		"gatewayServiceAccount": "gatehouse-gateway@" + project + ".iam.gserviceaccount.com",
		"runtimeServiceAccount": "gatehouse-runtime@" + project + ".iam.gserviceaccount.com",
		"image":                 region + "-docker.pkg.dev/" + project + "/gatehouse/gatehouse@sha256:" + digestA,
		"firebaseProjectId":     project,
		"firebaseApiKey":        "AIzaMockKey",
		"region":                region,
		"project":               project,
	}
	// Every backend's, by name, whatever the stack's backends are.
	wantMaps := map[string]string{
		"backendUrls":            "map[v1:https://gatehouse-abc123xyz-ew.a.run.app]",
		"runtimeServiceAccounts": "map[v1:gatehouse-runtime@" + project + ".iam.gserviceaccount.com]",
		"images":                 "map[v1:" + region + "-docker.pkg.dev/" + project + "/gatehouse/gatehouse@sha256:" + digestA + "]",
	}
	for k, v := range wantMaps {
		if got := fmt.Sprint(res.Outputs[k]); got != v {
			t.Errorf("output %s = %s, want %s", k, got, v)
		}
	}
	for k, v := range want {
		if res.Outputs[k] != v {
			t.Errorf("output %s = %v, want %v", k, res.Outputs[k], v)
		}
	}
	if id, _ := res.Outputs["apiConfigId"].(string); !strings.HasPrefix(id, "cfg-") {
		t.Errorf("output apiConfigId = %v", res.Outputs["apiConfigId"])
	}
	if len(res.Outputs) != len(want)+len(wantMaps)+1 {
		t.Errorf("%d outputs, want %d: %v", len(res.Outputs), len(want)+len(wantMaps)+1, res.Outputs)
	}
}

// TestImageBuildMatchesImageTest keeps infra's docker.Image build of /v1
// (the dev stack's first entry) and `make image-test` on the same
// Dockerfile, context and platform.
func TestImageBuildMatchesImageTest(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for _, line := range strings.Split(string(mk), "\n") {
		if k, v, ok := strings.Cut(line, ":="); ok && strings.HasPrefix(k, "IMAGE_") {
			vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if vars["IMAGE_PLATFORM"] != components.ImagePlatform {
		t.Errorf("Makefile IMAGE_PLATFORM = %q, infra builds for %q", vars["IMAGE_PLATFORM"], components.ImagePlatform)
	}
	cfg, err := stack.LoadFile("../Pulumi.dev.yaml", repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	v1, ok := cfg.Backend(stack.OriginalBackend)
	if !ok || v1.Build == nil {
		t.Fatalf("the dev stack has no /v1 build: %+v", cfg.Backends)
	}
	if filepath.Join("..", vars["IMAGE_CONTEXT"]) != v1.Build.Context {
		t.Errorf("Makefile IMAGE_CONTEXT = %q, infra builds %q (relative to infra/)", vars["IMAGE_CONTEXT"], v1.Build.Context)
	}
	if filepath.Join("..", vars["IMAGE_DOCKERFILE"]) != v1.Build.Dockerfile {
		t.Errorf("Makefile IMAGE_DOCKERFILE = %q, infra uses %s", vars["IMAGE_DOCKERFILE"], v1.Build.Dockerfile)
	}
	if _, err := os.Stat(v1.Build.Dockerfile); err != nil {
		t.Errorf("infra's Dockerfile does not exist: %v", err)
	}
}

func TestCORSOrigins(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, with(cfg, "gatehouse:corsOrigins", `["https://app.example.com","http://localhost:3000"]`), digestA)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var env string
	for _, e := range asSlice(res.Mocks.One(t, tRunService).Input("template.containers.0.envs")) {
		if m, _ := e.(map[string]any); m["name"] == "CORS_ALLOW_ORIGINS" {
			env, _ = m["value"].(string)
		}
	}
	if env != "https://app.example.com,http://localhost:3000" {
		t.Errorf("CORS_ALLOW_ORIGINS = %q", env)
	}
	_, doc := apiConfigDoc(t, res.Mocks)
	for _, want := range []string{"allowCors: true", "name: gatehouse-0a1b2c3d4e5f6.apigateway." + cfg["gcp:project"] + ".cloud.goog", "operationId: cors_v1_hello"} {
		if !strings.Contains(doc, want) {
			t.Errorf("spec lacks %q:\n%s", want, doc)
		}
	}
	// Off by default: no env, no preflight operations.
	off := run(t, cfg, digestA)
	if _, doc := apiConfigDoc(t, off.Mocks); strings.Contains(doc, "allowCors") || strings.Contains(doc, "options:") {
		t.Errorf("CORS off but the spec allows it:\n%s", doc)
	}
	if strings.Contains(fmt.Sprint(off.Mocks.One(t, tRunService).Input("template.containers.0.envs")), "CORS_ALLOW_ORIGINS") {
		t.Error("CORS off but the backend gets CORS_ALLOW_ORIGINS")
	}
}

// Every Google resource and invoke goes through the stack's own provider,
// which names the stack's project as quota project (issue: 403 "requires a
// quota project" with user credentials).
func TestExplicitGoogleProvider(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  map[string]string
	}{
		{"managed Firebase", devConfig(t)},
		{"existing Firebase", with(devConfig(t), "gatehouse:manageFirebase", "false", "gatehouse:firebaseProjectId", "other-proj-1", "gatehouse:firebaseApiKey", "AIza")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, with(tt.cfg, "gcp:accessToken", "ya29.from-config"), digestA)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			m := res.Mocks
			prov := m.One(t, "pulumi:providers:gcp")
			project := tt.cfg["gcp:project"]
			if prov.Input("userProjectOverride") != true || prov.Str("billingProject") != project || prov.Str("project") != project {
				t.Errorf("gcp provider inputs = %v, want userProjectOverride true and billingProject %s", prov.Inputs, project)
			}
			if tok := prov.Inputs["accessToken"]; !tok.IsSecret() || tok.SecretValue().Element.StringValue() != "ya29.from-config" {
				t.Errorf("gcp:accessToken not passed on to the provider as a secret: %v", tok)
			}
			ref := "urn:pulumi:dev::gatehouse::pulumi:providers:gcp::gcp::gcp_id"
			gcpResources := 0
			for _, r := range m.Resources() {
				if !r.Custom || !strings.HasPrefix(r.Type, "gcp:") {
					continue
				}
				gcpResources++
				if r.Provider != ref {
					t.Errorf("%s %s uses provider %q, want %q", r.Type, r.Name, r.Provider, ref)
				}
			}
			if gcpResources < 8 {
				t.Errorf("only %d gcp resources seen", gcpResources)
			}
			if len(m.Calls()) == 0 && tt.name == "managed Firebase" {
				t.Error("no invokes seen")
			}
			for _, c := range m.Calls() {
				if strings.HasPrefix(c.Token, "gcp:") && c.Provider != ref {
					t.Errorf("invoke %s uses provider %q, want %q", c.Token, c.Provider, ref)
				}
			}
		})
	}
}

// The Identity Platform config is never deleted by the engine (its delete is
// a no-op at Google), and with identityPlatformExists it is adopted by import
// instead of initialized.
func TestIdentityPlatformConfig(t *testing.T) {
	for _, tt := range []struct {
		exists     string
		wantImport string
	}{
		{"false", ""},
		{"true", "projects/my-gcp-project-id/config"},
	} {
		t.Run("exists="+tt.exists, func(t *testing.T) {
			res := run(t, with(devConfig(t), "gatehouse:identityPlatformExists", tt.exists), digestA)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			auth := res.Mocks.One(t, "gcp:identityplatform/config:Config")
			if !auth.RetainOnDelete {
				t.Error("Identity Platform config is not retained on delete")
			}
			if auth.ImportID != tt.wantImport {
				t.Errorf("import id = %q, want %q", auth.ImportID, tt.wantImport)
			}
		})
	}
}

// TestSignUpSetting: gatehouse:allowSignUp sets Identity Platform's
// client.permissions.disabledUserSignup (its opposite); unset, the config
// carries no such input (Identity Platform's default, open). Adopting an
// existing config (identityPlatformExists) leaves every setting as it is in
// Google, the sign-up setting too unless the stack sets one: then only that
// field is updated after the import.
func TestSignUpSetting(t *testing.T) {
	for _, tt := range []struct {
		allow, exists string
		want          any // disabledUserSignup input; nil: none
		ignoresClient bool
	}{
		{"", "false", nil, false},
		{"false", "false", true, false},
		{"true", "false", false, false},
		{"", "true", nil, true},
		{"false", "true", true, false},
	} {
		t.Run("allowSignUp="+tt.allow+",exists="+tt.exists, func(t *testing.T) {
			cfg := with(devConfig(t), "gatehouse:identityPlatformExists", tt.exists)
			if tt.allow != "" {
				cfg = with(cfg, "gatehouse:allowSignUp", tt.allow)
			}
			res := run(t, cfg, digestA)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			auth := res.Mocks.One(t, "gcp:identityplatform/config:Config")
			if got := auth.Input("client.permissions.disabledUserSignup"); got != tt.want {
				t.Errorf("client.permissions.disabledUserSignup = %v, want %v (client %v)", got, tt.want, auth.Input("client"))
			}
			if tt.exists != "true" {
				if len(auth.IgnoreChanges) > 0 {
					t.Errorf("a config the stack created ignores %v", auth.IgnoreChanges)
				}
				return
			}
			ignores := strings.Join(auth.IgnoreChanges, ",")
			if got := slices.Contains(auth.IgnoreChanges, "client"); got != tt.ignoresClient {
				t.Errorf("adopted config ignores %s: ignoring client = %v, want %v", ignores, got, tt.ignoresClient)
			}
			if !tt.ignoresClient && !slices.Contains(auth.IgnoreChanges, "client.permissions.disabledUserDeletion") {
				t.Errorf("adopted config with a sign-up setting ignores %s: the other permission must stay as it is", ignores)
			}
			if !slices.Contains(auth.IgnoreChanges, "signIn") || !slices.Contains(auth.IgnoreChanges, "mfa") {
				t.Errorf("adopted config ignores %s: its owner's settings must stay as they are", ignores)
			}
		})
	}
}

// TestRequireVerifiedEmailEnv: gatehouse:requireVerifiedEmail puts
// REQUIRE_EMAIL_VERIFIED=true in every backend's environment, and nothing
// when off (services are not changed by upgrading).
func TestRequireVerifiedEmailEnv(t *testing.T) {
	for _, on := range []bool{false, true} {
		cfg := v2Config(t)
		if on {
			cfg = with(cfg, "gatehouse:requireVerifiedEmail", "true")
		}
		res := run(t, cfg, digestA)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		services := res.Mocks.All(tRunService)
		if len(services) != 2 {
			t.Fatalf("%d Cloud Run services, want 2", len(services))
		}
		for _, svc := range services {
			got := ""
			for _, e := range asSlice(svc.Input("template.containers.0.envs")) {
				if m, _ := e.(map[string]any); m["name"] == "REQUIRE_EMAIL_VERIFIED" {
					got, _ = m["value"].(string)
				}
			}
			if want := map[bool]string{true: "true", false: ""}[on]; got != want {
				t.Errorf("requireVerifiedEmail %v: %s has REQUIRE_EMAIL_VERIFIED=%q, want %q", on, svc.Name, got, want)
			}
		}
	}
}

// gatewayConfigID runs the Gateway component alone, with a literal
// contract, and returns the config id it gives the ApiConfig.
func gatewayConfigID(t *testing.T, serviceAccount string) string {
	t.Helper()
	frag, err := os.ReadFile("../service/hello/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := &pt.Mocks{Digest: digestA}
	err = pt.RunComponent(t, m, func(ctx *pulumi.Context) error {
		_, err := components.NewGateway(ctx, "gateway", &components.GatewayArgs{
			Project: "my-project-1", Region: "europe-west1", APIID: "gatehouse",
			ServiceAccount: pulumi.String(serviceAccount),
			Contract:       spec.Contract{FirebaseProjectID: "my-project-1", Backends: []spec.Fragment{{Name: "v1", Document: frag}}},
			BackendURLs:    pulumi.StringMap{"v1": pulumi.String("https://gatehouse-abc123xyz-ew.a.run.app")},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m.One(t, tApiConfig).Str("apiConfigId")
}

// gatewayConfig (the backend service account) forces the ApiConfig's
// replacement, so changing only it must change the config id, or the new
// config would collide with the old one ("already exists").
func TestConfigIDCoversGatewayServiceAccount(t *testing.T) {
	a := gatewayConfigID(t, "gatehouse-gateway@my-project-1.iam.gserviceaccount.com")
	again := gatewayConfigID(t, "gatehouse-gateway@my-project-1.iam.gserviceaccount.com")
	b := gatewayConfigID(t, "other-gateway@my-project-1.iam.gserviceaccount.com")
	if a != again {
		t.Errorf("same inputs, different ids: %s %s", a, again)
	}
	if a == b {
		t.Errorf("changing only the gateway service account kept the config id %s", a)
	}
}

// TestNoCredentialInInputs: no resource input of the stack as CI runs it
// (credentials from the environment, none in the stack's config) holds a
// credential. Resource inputs are stored in the state, which pull-request
// jobs can read: before, the image's registry password was the deployer's
// OAuth access token (organizations.getClientConfig).
func TestNoCredentialInInputs(t *testing.T) {
	for _, cfg := range []map[string]string{devConfig(t), v2Config(t)} {
		res := run(t, cfg, digestA)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		for _, r := range res.Mocks.Resources() {
			for _, hit := range invariants.CredentialPaths(r.Inputs.Mappable(), "") {
				t.Errorf("%s %s input %s", r.Type, r.Name, hit)
			}
		}
	}
	// The check itself: a password or an access token anywhere is found.
	planted := map[string]any{"registry": map[string]any{"server": "h", "password": "x"}, "envs": []any{map[string]any{"value": "ya29.a0AfB"}}}
	if got := invariants.CredentialPaths(planted, ""); len(got) != 2 {
		t.Errorf("planted credentials found: %v, want 2", got)
	}
}

// TestStackAccountsRetained: the stack's own accounts are retained on
// delete (a Cloud Run service runs as them; the CI bootstrap takes them
// over without the engine deleting them) and adopted when they exist (an
// up after a destroy).
func TestStackAccountsRetained(t *testing.T) {
	res := run(t, v2Config(t), digestA)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	accounts := res.Mocks.All(tAccount)
	if len(accounts) != 3 {
		t.Fatalf("%d accounts, want 3", len(accounts))
	}
	for _, a := range accounts {
		if !a.RetainOnDelete || a.Input("createIgnoreAlreadyExists") != true {
			t.Errorf("%s: retained %v, createIgnoreAlreadyExists %v", a.Name, a.RetainOnDelete, a.Input("createIgnoreAlreadyExists"))
		}
	}
}

// TestFirstGenerationBelowOneCPU: below 1 CPU the Cloud Run service pins
// the first-generation execution environment, as Cloud Run requires; at 1
// CPU and more it leaves the choice to Cloud Run.
func TestFirstGenerationBelowOneCPU(t *testing.T) {
	for cpu, want := range map[string]any{"500m": "EXECUTION_ENVIRONMENT_GEN1", "1": nil} {
		cfg := with(devConfig(t), "gatehouse:cpu", cpu, "gatehouse:concurrency", "1")
		res := run(t, cfg, digestA)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if got := res.Mocks.One(t, tRunService).Input("template.executionEnvironment"); got != want {
			t.Errorf("cpu %s: executionEnvironment %v, want %v", cpu, got, want)
		}
	}
}

// TestExistingServiceAccounts: with the accounts the CI bootstrap created,
// the stack creates none and uses exactly those two, in the same places.
func TestExistingServiceAccounts(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, with(cfg, "gatehouse:existingServiceAccounts", "true"), strings.Repeat("1", 64))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m := res.Mocks
	if n := len(m.All(tAccount)); n != 0 {
		t.Errorf("%d service accounts created, want none", n)
	}
	project := cfg["gcp:project"]
	runtime, gateway := "gatehouse-runtime@"+project+".iam.gserviceaccount.com", "gatehouse-gateway@"+project+".iam.gserviceaccount.com"
	if got := m.One(t, tRunService).Str("template.serviceAccount"); got != runtime {
		t.Errorf("Cloud Run runs as %q, want %s", got, runtime)
	}
	if got := m.One(t, tRunIamMember).Str("member"); got != "serviceAccount:"+gateway {
		t.Errorf("invoker %q, want the gateway account", got)
	}
	if got := m.One(t, tApiConfig).Str("gatewayConfig.backendConfig.googleServiceAccount"); got != gateway {
		t.Errorf("API config backend account %q, want %s", got, gateway)
	}
	if res.Outputs["runtimeServiceAccount"] != runtime || res.Outputs["gatewayServiceAccount"] != gateway {
		t.Errorf("outputs %v / %v", res.Outputs["runtimeServiceAccount"], res.Outputs["gatewayServiceAccount"])
	}
	// Without the setting the accounts are the stack's own.
	if own := run(t, cfg, strings.Repeat("1", 64)); own.Err != nil || len(own.Mocks.All(tAccount)) != 2 {
		t.Errorf("default: %d accounts (%v), want 2", len(own.Mocks.All(tAccount)), own.Err)
	}
}

// TestTwoBackends: the two-backend example stack deploys two Cloud Run
// services, each with its own image and runtime account, each invokable by
// the gateway account only, and one API config that routes /v1 to the
// first and /v2 to the notes service; every security invariant holds.
func TestTwoBackends(t *testing.T) {
	res := run(t, v2Config(t), strings.Repeat("1", 64))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	m := res.Mocks
	for typ, n := range map[string]int{tRunService: 2, tAccount: 3, tRunIamMember: 2, "docker:index/image:Image": 2, tRepo: 1, tApiConfig: 1} {
		if got := len(m.All(typ)); got != n {
			t.Errorf("%d × %s, want %d", got, typ, n)
		}
	}
	if err := invariants.Run(m.Resources()); err != nil {
		t.Errorf("invariants fail on the two-backend graph: %v", err)
	}
	// Planted violations on this graph: each must fail its invariant.
	good := m.Resources()
	primaryRuntime := good[0]
	for _, a := range m.All(tAccount) {
		if a.Str("accountId") == "gatehouse-runtime" {
			primaryRuntime = a
		}
	}
	shared := append([]registered(nil), good...)
	for i, r := range shared {
		if r.Type == tRunService && r.Str("name") == "gatehouse-notes" {
			in := r.Inputs.Mappable()
			in["template"].(map[string]any)["serviceAccount"] = primaryRuntime.Str("accountId") + "@" + primaryRuntime.Str("project") + ".iam.gserviceaccount.com"
			shared[i].Inputs = resource.NewPropertyMapFromMap(in)
		}
	}
	if err := invariants.RuntimeAccount(shared); err == nil {
		t.Error("two services sharing a runtime account pass the runtime invariant")
	}
	var noInvoker []registered
	for _, r := range good {
		if !(r.Type == tRunIamMember && r.Name == "backend-notes-invoker") {
			noInvoker = append(noInvoker, r)
		}
	}
	if err := invariants.Invoker(noInvoker); err == nil {
		t.Error("a service without its invoker binding passes the invoker invariant")
	}

	var notesSvc, notesImg registered
	for _, s := range m.All(tRunService) {
		if s.Str("name") == "gatehouse-notes" {
			notesSvc = s
		}
	}
	for _, i := range m.All("docker:index/image:Image") {
		if strings.Contains(i.Str("imageName"), "/gatehouse-notes:") {
			notesImg = i
		}
	}
	if notesSvc.Name != "backend-notes-service" || notesSvc.Str("template.serviceAccount") != "gatehouse-notes-rt@my-gcp-project-id.iam.gserviceaccount.com" {
		t.Errorf("notes service %s runs as %q", notesSvc.Name, notesSvc.Str("template.serviceAccount"))
	}
	if notesImg.Str("build.args.CMD") != "./cmd/notes" || notesImg.Str("build.context") != "../service" || notesImg.Str("build.dockerfile") != "../service/cmd/notes/Dockerfile" {
		t.Errorf("notes image build = %v", notesImg.Input("build"))
	}
	if got := fmt.Sprint(notesSvc.Input("template.scaling.maxInstanceCount")); got != "2" {
		t.Errorf("notes maxInstances = %s, want 2", got)
	}
	_, doc := apiConfigDoc(t, m)
	for _, want := range []string{"/v2/notes:", "address: https://gatehouse-notes-abc123xyz-ew.a.run.app", "address: https://gatehouse-abc123xyz-ew.a.run.app"} {
		if !strings.Contains(doc, want) {
			t.Errorf("rendered document lacks %q", want)
		}
	}
	if urls := fmt.Sprint(res.Outputs["backendUrls"]); urls != "map[notes:https://gatehouse-notes-abc123xyz-ew.a.run.app v1:https://gatehouse-abc123xyz-ew.a.run.app]" {
		t.Errorf("backendUrls output = %v", res.Outputs["backendUrls"])
	}
}

// TestCodeChangeToOneBackend: a new image of the notes backend (a code
// change there) changes its image and Cloud Run service only: the first
// backend, the accounts, the bindings and the gateway's config stay as
// they were.
func TestCodeChangeToOneBackend(t *testing.T) {
	before := runWith(t, v2Config(t), &pt.Mocks{Digest: strings.Repeat("1", 64)})
	after := runWith(t, v2Config(t), &pt.Mocks{Digest: strings.Repeat("1", 64), Digests: map[string]string{"/gatehouse-notes:": strings.Repeat("2", 64)}})
	if before.Err != nil || after.Err != nil {
		t.Fatal(before.Err, after.Err)
	}
	inputs := func(r pt.Result) map[string]string {
		out := map[string]string{}
		for _, x := range r.Resources() {
			js, _ := json.Marshal(x.Inputs.Mappable())
			out[x.Type+" "+x.Name] = string(js)
		}
		return out
	}
	b, a := inputs(before), inputs(after)
	var changed []string
	for k, v := range a {
		if b[k] != v {
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	if want := []string{tRunService + " backend-notes-service"}; fmt.Sprint(changed) != fmt.Sprint(want) {
		t.Errorf("changed inputs: %v, want only %v (the image resource's inputs are the build's; its digest output feeds the service)", changed, want)
	}
}

// TestExistingServiceAccountsWithBackends: with the bootstrap's accounts,
// a further backend runs as the account the bootstrap made for it.
func TestExistingServiceAccountsWithBackends(t *testing.T) {
	res := run(t, with(v2Config(t), "gatehouse:existingServiceAccounts", "true"), strings.Repeat("1", 64))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if n := len(res.Mocks.All(tAccount)); n != 0 {
		t.Errorf("%d accounts created, want none", n)
	}
	for _, s := range res.Mocks.All(tRunService) {
		if s.Str("name") == "gatehouse-notes" && s.Str("template.serviceAccount") != "gatehouse-notes-rt@my-gcp-project-id.iam.gserviceaccount.com" {
			t.Errorf("notes runs as %q", s.Str("template.serviceAccount"))
		}
	}
}
