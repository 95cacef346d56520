package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/spec"
)

const digestA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func TestDevStackGraph(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, cfg, digestA)
	if res.err != nil {
		t.Fatal(res.err)
	}
	m := res.m
	project, region := cfg["gcp:project"], cfg["gcp:region"]

	apis := map[string]bool{}
	for _, s := range m.all("gcp:projects/service:Service") {
		apis[s.str("service")] = true
		if s.input("disableOnDestroy") != false {
			t.Errorf("API %s would be disabled on destroy", s.str("service"))
		}
	}
	for _, want := range []string{"run.googleapis.com", "apigateway.googleapis.com", "servicemanagement.googleapis.com",
		"servicecontrol.googleapis.com", "artifactregistry.googleapis.com", "iam.googleapis.com", "firebase.googleapis.com",
		"identitytoolkit.googleapis.com", "gatehouse-0a1b2c3d4e5f6.apigateway." + project + ".cloud.goog"} {
		if !apis[want] {
			t.Errorf("API %s not enabled; enabled: %v", want, apis)
		}
	}

	repo := m.one(t, "gcp:artifactregistry/repository:Repository")
	if repo.str("format") != "DOCKER" || repo.str("location") != region || repo.str("repositoryId") != "gatehouse" {
		t.Errorf("repository = %v", repo.Inputs)
	}

	img := m.one(t, "docker:index/image:Image")
	wantImage := region + "-docker.pkg.dev/" + project + "/gatehouse/gatehouse:main"
	if img.str("imageName") != wantImage || img.str("build.platform") != components.ImagePlatform ||
		img.str("build.context") != "../service" || img.str("build.dockerfile") != "../service/cmd/hello/Dockerfile" || img.str("build.args.CMD") != "./cmd/hello" {
		t.Errorf("image = %v, want %s built from ../service/cmd/hello/Dockerfile with CMD=./cmd/hello for %s", img.Inputs, wantImage, components.ImagePlatform)
	}
	if img.str("registry.username") != "oauth2accesstoken" || img.str("registry.server") != region+"-docker.pkg.dev" {
		t.Errorf("registry = %v", img.input("registry"))
	}
	if pw := img.Inputs["registry"].ObjectValue()["password"]; !pw.IsSecret() {
		t.Errorf("registry password is not secret: %v", pw)
	}

	svc := m.one(t, tRunService)
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
		if got := svc.input(path); got != want {
			t.Errorf("Cloud Run %s = %v, want %v", path, got, want)
		}
	}

	for _, typ := range []string{"gcp:firebase/project:Project", "gcp:identityplatform/config:Config", "gcp:firebase/webApp:WebApp",
		"gcp:apigateway/api:Api", "gcp:apigateway/gateway:Gateway", tRunIamMember} {
		m.one(t, typ)
	}
	auth := m.one(t, "gcp:identityplatform/config:Config")
	if auth.input("signIn.email.enabled") != true || auth.input("signIn.email.passwordRequired") != true {
		t.Errorf("email/password sign-in not enabled: %v", auth.input("signIn"))
	}
	gw := m.one(t, "gcp:apigateway/gateway:Gateway")
	if gw.str("region") != region || gw.str("apiConfig") != "gateway-config_id" {
		t.Errorf("gateway = %v", gw.Inputs)
	}
	if gw.CustomTimeouts["create"] == "" {
		t.Error("gateway has no custom create timeout")
	}

	// Every custom resource is parented under a gatehouse component.
	for _, r := range m.resources {
		if r.Custom && !strings.HasPrefix(r.Type, "pulumi:providers:") && !strings.Contains(r.Parent, "gatehouse:components:") {
			t.Errorf("%s %s has parent %q, want a gatehouse component", r.Type, r.Name, r.Parent)
		}
	}
}

func apiConfigDoc(t *testing.T, m *mocks) (registered, string) {
	t.Helper()
	cfg := m.one(t, tApiConfig)
	raw, err := base64.StdEncoding.DecodeString(cfg.str("openapiDocuments.0.document.contents"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, string(raw)
}

func TestRenderedSpecInAPIConfig(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, cfg, digestA)
	if res.err != nil {
		t.Fatal(res.err)
	}
	apiCfg, doc := apiConfigDoc(t, res.m)
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
	gatewaySA := res.outputs["gatewayServiceAccount"].(string)
	if id, want := apiCfg.str("apiConfigId"), spec.ConfigID([]byte(doc), gatewaySA); id != want {
		t.Errorf("apiConfigId = %q, want spec.ConfigID(doc, gateway account) = %q", id, want)
	}
	if apiCfg.DeleteBeforeReplace {
		t.Error("ApiConfig is delete-before-replace; a new config must exist before the old one goes")
	}
	if res.outputs["apiConfigId"] != apiCfg.str("apiConfigId") {
		t.Errorf("apiConfigId output = %v, want %s", res.outputs["apiConfigId"], apiCfg.str("apiConfigId"))
	}
}

func TestUpdateBehaviour(t *testing.T) {
	cfg := devConfig(t)
	a := run(t, cfg, digestA)
	b := run(t, cfg, strings.Repeat("b", 64))
	if a.err != nil || b.err != nil {
		t.Fatal(a.err, b.err)
	}
	ca, _ := apiConfigDoc(t, a.m)
	cb, _ := apiConfigDoc(t, b.m)
	if !ca.Inputs.DeepEquals(cb.Inputs) {
		t.Errorf("a new image digest changed the ApiConfig inputs:\n%v\n%v", ca.Inputs, cb.Inputs)
	}
	ia := a.m.one(t, tRunService).str("template.containers.0.image")
	ib := b.m.one(t, tRunService).str("template.containers.0.image")
	if ia == ib || !strings.HasSuffix(ib, strings.Repeat("b", 64)) {
		t.Errorf("Cloud Run image %q -> %q, want the new digest", ia, ib)
	}

	for _, kv := range [][2]string{
		{"gatehouse:backendDeadline", "20s"},
		{"gatehouse:corsOrigins", `["https://app.example.com"]`},
		{"gatehouse:serviceAccountIssuers", `["robot@my-gcp-project-id.iam.gserviceaccount.com=gatehouse"]`},
	} {
		c := run(t, with(cfg, kv[0], kv[1]), digestA)
		if c.err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], c.err)
		}
		cc, _ := apiConfigDoc(t, c.m)
		if cc.str("apiConfigId") == ca.str("apiConfigId") {
			t.Errorf("%s=%s left the config id at %s", kv[0], kv[1], ca.str("apiConfigId"))
		}
	}
}

func TestFirebaseOff(t *testing.T) {
	cfg := with(devConfig(t), "gatehouse:manageFirebase", "false", "gatehouse:firebaseProjectId", "other-firebase-proj",
		"gatehouse:firebaseApiKey", "AIzaExisting")
	res := run(t, cfg, digestA)
	if res.err != nil {
		t.Fatal(res.err)
	}
	for _, r := range res.m.resources {
		if strings.HasPrefix(r.Type, "gcp:firebase/") || strings.HasPrefix(r.Type, "gcp:identityplatform/") {
			t.Errorf("Firebase off still registers %s %s", r.Type, r.Name)
		}
		if r.Type == "gcp:projects/service:Service" && (r.str("service") == "firebase.googleapis.com" || r.str("service") == "identitytoolkit.googleapis.com") {
			t.Errorf("Firebase off still enables %s", r.str("service"))
		}
	}
	_, doc := apiConfigDoc(t, res.m)
	if !strings.Contains(doc, "x-google-issuer: https://securetoken.google.com/other-firebase-proj") {
		t.Errorf("spec does not use the configured Firebase project:\n%s", doc)
	}
	if res.outputs["firebaseProjectId"] != "other-firebase-proj" || res.outputs["firebaseApiKey"] != "AIzaExisting" {
		t.Errorf("outputs = %v", res.outputs)
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
		if res.err == nil || !strings.Contains(res.err.Error(), tt.want) {
			t.Errorf("run = %v, want error containing %q", res.err, tt.want)
		}
		if n := len(res.m.resources); n != 0 {
			t.Errorf("bad config (%s) registered %d resources, want 0", tt.want, n)
		}
	}
}

func TestDeletionProtection(t *testing.T) {
	for _, on := range []bool{false, true} {
		res := run(t, with(devConfig(t), "gatehouse:deletionProtection", fmt.Sprint(on)), digestA)
		if res.err != nil {
			t.Fatal(res.err)
		}
		for _, typ := range []string{tRunService, tRepo, "gcp:apigateway/api:Api"} {
			if got := res.m.one(t, typ).Protect; got != on {
				t.Errorf("deletionProtection=%v: %s protect = %v", on, typ, got)
			}
		}
	}
}

func TestOutputs(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, cfg, digestA)
	if res.err != nil {
		t.Fatal(res.err)
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
	for k, v := range want {
		if res.outputs[k] != v {
			t.Errorf("output %s = %v, want %v", k, res.outputs[k], v)
		}
	}
	if id, _ := res.outputs["apiConfigId"].(string); !strings.HasPrefix(id, "cfg-") {
		t.Errorf("output apiConfigId = %v", res.outputs["apiConfigId"])
	}
	if len(res.outputs) != len(want)+1 {
		t.Errorf("%d outputs, want %d: %v", len(res.outputs), len(want)+1, res.outputs)
	}
}

// TestImageBuildMatchesImageTest keeps infra's docker.Image build and
// `make image-test` on the same Dockerfile, context and platform.
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
	if filepath.Join("..", vars["IMAGE_CONTEXT"]) != filepath.Clean(components.ImageContext) {
		t.Errorf("Makefile IMAGE_CONTEXT = %q, infra builds %q (relative to infra/)", vars["IMAGE_CONTEXT"], components.ImageContext)
	}
	if vars["IMAGE_DOCKERFILE"] != filepath.Join(vars["IMAGE_CONTEXT"], components.ImageDockerfile) {
		t.Errorf("Makefile IMAGE_DOCKERFILE = %q, infra uses %s/%s", vars["IMAGE_DOCKERFILE"], vars["IMAGE_CONTEXT"], components.ImageDockerfile)
	}
	if _, err := os.Stat(filepath.Join(components.ImageContext, components.ImageDockerfile)); err != nil {
		t.Errorf("infra's Dockerfile does not exist: %v", err)
	}
}

func TestCORSOrigins(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, with(cfg, "gatehouse:corsOrigins", `["https://app.example.com","http://localhost:3000"]`), digestA)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var env string
	for _, e := range asSlice(res.m.one(t, tRunService).input("template.containers.0.envs")) {
		if m, _ := e.(map[string]any); m["name"] == "CORS_ALLOW_ORIGINS" {
			env, _ = m["value"].(string)
		}
	}
	if env != "https://app.example.com,http://localhost:3000" {
		t.Errorf("CORS_ALLOW_ORIGINS = %q", env)
	}
	_, doc := apiConfigDoc(t, res.m)
	for _, want := range []string{"allowCors: true", "name: gatehouse-0a1b2c3d4e5f6.apigateway." + cfg["gcp:project"] + ".cloud.goog", "operationId: cors_v1_hello"} {
		if !strings.Contains(doc, want) {
			t.Errorf("spec lacks %q:\n%s", want, doc)
		}
	}
	// Off by default: no env, no preflight operations.
	off := run(t, cfg, digestA)
	if _, doc := apiConfigDoc(t, off.m); strings.Contains(doc, "allowCors") || strings.Contains(doc, "options:") {
		t.Errorf("CORS off but the spec allows it:\n%s", doc)
	}
	if strings.Contains(fmt.Sprint(off.m.one(t, tRunService).input("template.containers.0.envs")), "CORS_ALLOW_ORIGINS") {
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
			if res.err != nil {
				t.Fatal(res.err)
			}
			m := res.m
			prov := m.one(t, "pulumi:providers:gcp")
			project := tt.cfg["gcp:project"]
			if prov.input("userProjectOverride") != true || prov.str("billingProject") != project || prov.str("project") != project {
				t.Errorf("gcp provider inputs = %v, want userProjectOverride true and billingProject %s", prov.Inputs, project)
			}
			if tok := prov.Inputs["accessToken"]; !tok.IsSecret() || tok.SecretValue().Element.StringValue() != "ya29.from-config" {
				t.Errorf("gcp:accessToken not passed on to the provider as a secret: %v", tok)
			}
			ref := "urn:pulumi:dev::gatehouse::pulumi:providers:gcp::gcp::gcp_id"
			gcpResources := 0
			for _, r := range m.resources {
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
			if len(m.calls) == 0 {
				t.Error("no invokes seen")
			}
			for _, c := range m.calls {
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
			if res.err != nil {
				t.Fatal(res.err)
			}
			auth := res.m.one(t, "gcp:identityplatform/config:Config")
			if !auth.RetainOnDelete {
				t.Error("Identity Platform config is not retained on delete")
			}
			if auth.ImportID != tt.wantImport {
				t.Errorf("import id = %q, want %q", auth.ImportID, tt.wantImport)
			}
		})
	}
}

// gatewayConfigID runs the Gateway component alone and returns the config
// id it gives the ApiConfig.
func gatewayConfigID(t *testing.T, serviceAccount string) string {
	t.Helper()
	m := &mocks{digest: digestA}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		_, err := components.NewGateway(ctx, "gateway", &components.GatewayArgs{
			Project: "my-project-1", Region: "europe-west1", APIID: "gatehouse",
			ServiceAccount: pulumi.String(serviceAccount),
			BackendURL:     pulumi.String("https://gatehouse-abc123xyz-ew.a.run.app"),
			Spec: func(backendURL, _ string, _ map[string]string) spec.Params {
				return spec.Params{BackendURL: backendURL, FirebaseProjectID: "my-project-1"}
			},
		})
		return err
	}, pulumi.WithMocks("gatehouse", "dev", m))
	if err != nil {
		t.Fatal(err)
	}
	return m.one(t, tApiConfig).str("apiConfigId")
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

// TestExistingServiceAccounts: with the accounts the CI bootstrap created,
// the stack creates none and uses exactly those two, in the same places.
func TestExistingServiceAccounts(t *testing.T) {
	cfg := devConfig(t)
	res := run(t, with(cfg, "gatehouse:existingServiceAccounts", "true"), strings.Repeat("1", 64))
	if res.err != nil {
		t.Fatal(res.err)
	}
	m := res.m
	if n := len(m.all(tAccount)); n != 0 {
		t.Errorf("%d service accounts created, want none", n)
	}
	project := cfg["gcp:project"]
	runtime, gateway := "gatehouse-runtime@"+project+".iam.gserviceaccount.com", "gatehouse-gateway@"+project+".iam.gserviceaccount.com"
	if got := m.one(t, tRunService).str("template.serviceAccount"); got != runtime {
		t.Errorf("Cloud Run runs as %q, want %s", got, runtime)
	}
	if got := m.one(t, tRunIamMember).str("member"); got != "serviceAccount:"+gateway {
		t.Errorf("invoker %q, want the gateway account", got)
	}
	if got := m.one(t, tApiConfig).str("gatewayConfig.backendConfig.googleServiceAccount"); got != gateway {
		t.Errorf("API config backend account %q, want %s", got, gateway)
	}
	if res.outputs["runtimeServiceAccount"] != runtime || res.outputs["gatewayServiceAccount"] != gateway {
		t.Errorf("outputs %v / %v", res.outputs["runtimeServiceAccount"], res.outputs["gatewayServiceAccount"])
	}
	// Without the setting the accounts are the stack's own.
	if own := run(t, cfg, strings.Repeat("1", 64)); own.err != nil || len(own.m.all(tAccount)) != 2 {
		t.Errorf("default: %d accounts (%v), want 2", len(own.m.all(tAccount)), own.err)
	}
}

func v2Config(t *testing.T) map[string]string { return stackConfig(t, "../Pulumi.v2.yaml") }

// TestTwoBackends: the two-backend example stack deploys two Cloud Run
// services, each with its own image and runtime account, each invokable by
// the gateway account only, and one API config that routes /v1 to the
// first and /v2 to the notes service; every security invariant holds.
func TestTwoBackends(t *testing.T) {
	res := run(t, v2Config(t), strings.Repeat("1", 64))
	if res.err != nil {
		t.Fatal(res.err)
	}
	m := res.m
	for typ, n := range map[string]int{tRunService: 2, tAccount: 3, tRunIamMember: 2, "docker:index/image:Image": 2, tRepo: 1, tApiConfig: 1} {
		if got := len(m.all(typ)); got != n {
			t.Errorf("%d × %s, want %d", got, typ, n)
		}
	}
	for name, check := range invariants {
		if err := check(m.resources); err != nil {
			t.Errorf("invariant %q fails on the two-backend graph: %v", name, err)
		}
	}
	// Planted violations on this graph: each must fail its invariant.
	good := m.resources
	primaryRuntime := good[0]
	for _, a := range m.all(tAccount) {
		if a.str("accountId") == "gatehouse-runtime" {
			primaryRuntime = a
		}
	}
	shared := append([]registered(nil), good...)
	for i, r := range shared {
		if r.Type == tRunService && r.str("name") == "gatehouse-notes" {
			in := r.Inputs.Mappable()
			in["template"].(map[string]any)["serviceAccount"] = primaryRuntime.str("accountId") + "@" + primaryRuntime.str("project") + ".iam.gserviceaccount.com"
			shared[i].Inputs = resource.NewPropertyMapFromMap(in)
		}
	}
	if err := checkRuntimeAccount(shared); err == nil {
		t.Error("two services sharing a runtime account pass the runtime invariant")
	}
	var noInvoker []registered
	for _, r := range good {
		if !(r.Type == tRunIamMember && r.Name == "backend-notes-invoker") {
			noInvoker = append(noInvoker, r)
		}
	}
	if err := checkInvoker(noInvoker); err == nil {
		t.Error("a service without its invoker binding passes the invoker invariant")
	}

	var notesSvc, notesImg registered
	for _, s := range m.all(tRunService) {
		if s.str("name") == "gatehouse-notes" {
			notesSvc = s
		}
	}
	for _, i := range m.all("docker:index/image:Image") {
		if strings.Contains(i.str("imageName"), "/gatehouse-notes:") {
			notesImg = i
		}
	}
	if notesSvc.Name != "backend-notes-service" || notesSvc.str("template.serviceAccount") != "gatehouse-notes-rt@my-gcp-project-id.iam.gserviceaccount.com" {
		t.Errorf("notes service %s runs as %q", notesSvc.Name, notesSvc.str("template.serviceAccount"))
	}
	if notesImg.str("build.args.CMD") != "./cmd/notes" || notesImg.str("build.context") != "../service" || notesImg.str("build.dockerfile") != "../service/cmd/notes/Dockerfile" {
		t.Errorf("notes image build = %v", notesImg.input("build"))
	}
	if got := fmt.Sprint(notesSvc.input("template.scaling.maxInstanceCount")); got != "2" {
		t.Errorf("notes maxInstances = %s, want 2", got)
	}
	_, doc := apiConfigDoc(t, m)
	for _, want := range []string{"/v2/notes:", "address: https://gatehouse-notes-abc123xyz-ew.a.run.app", "address: https://gatehouse-abc123xyz-ew.a.run.app"} {
		if !strings.Contains(doc, want) {
			t.Errorf("rendered document lacks %q", want)
		}
	}
	if urls := fmt.Sprint(res.outputs["backendUrls"]); urls != "map[notes:https://gatehouse-notes-abc123xyz-ew.a.run.app]" {
		t.Errorf("backendUrls output = %v", res.outputs["backendUrls"])
	}
}

// TestCodeChangeToOneBackend: a new image of the notes backend (a code
// change there) changes its image and Cloud Run service only: the first
// backend, the accounts, the bindings and the gateway's config stay as
// they were.
func TestCodeChangeToOneBackend(t *testing.T) {
	before := runWith(t, v2Config(t), &mocks{digest: strings.Repeat("1", 64)})
	after := runWith(t, v2Config(t), &mocks{digest: strings.Repeat("1", 64), digests: map[string]string{"/gatehouse-notes:": strings.Repeat("2", 64)}})
	if before.err != nil || after.err != nil {
		t.Fatal(before.err, after.err)
	}
	inputs := func(r result) map[string]string {
		out := map[string]string{}
		for _, x := range r.m.resources {
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
	if res.err != nil {
		t.Fatal(res.err)
	}
	if n := len(res.m.all(tAccount)); n != 0 {
		t.Errorf("%d accounts created, want none", n)
	}
	for _, s := range res.m.all(tRunService) {
		if s.str("name") == "gatehouse-notes" && s.str("template.serviceAccount") != "gatehouse-notes-rt@my-gcp-project-id.iam.gserviceaccount.com" {
			t.Errorf("notes runs as %q", s.str("template.serviceAccount"))
		}
	}
}
