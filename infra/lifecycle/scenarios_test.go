package lifecycle

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const owner = "user:owner@example.com"

// checkRequests holds for every run: each Google API call carried the
// stack's quota project (X-Goog-User-Project: the provider sets
// user_project_override, without which Firebase and Identity Toolkit answer
// 403 to user credentials), none hit an unimplemented route, none got a 5xx.
func checkRequests(t *testing.T, log []logEntry, project string) {
	t.Helper()
	for _, r := range log {
		if strings.HasPrefix(r.Path, "/v2/") {
			continue // the registry
		}
		if r.Code == http.StatusNotImplemented || r.Code >= 500 {
			t.Errorf("request %d %s %s answered %d %s: %s", r.Seq, r.Method, r.Path, r.Code, r.Status, r.Message)
		}
		if r.QuotaProject != project {
			t.Errorf("request %d %s %s: X-Goog-User-Project %q, want %q", r.Seq, r.Method, r.Path, r.QuotaProject, project)
		}
	}
}

// TestScenarioABC is scenarios a (first deploy, no change that never
// settles, the CLI finds the endpoint), b (a code change updates the image
// and the Cloud Run service only) and c (destroy, then up again: the clear
// error and the fix), on one stack.
func TestScenarioABC(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project = "gatehouse-abc"
	e.project(t, project, 0)
	s := e.newStack(t, project, false, "", nil)
	started := time.Now()

	// a. First deploy as the project owner.
	from := e.seq(t) + 1
	s.mustUp("a: first pulumi up (owner)")
	log := e.requests(t, project, from)
	checkRequests(t, log, project)
	out := s.outputs()
	gw, _ := out["gatewayUrl"].(string)
	if !regexp.MustCompile(`^https://gatehouse-[0-9a-f]+\.ew\.gateway\.dev$`).MatchString(gw) {
		t.Errorf("gatewayUrl = %q, want the gateway's defaultHostname", gw)
	}
	if be, _ := out["backendUrl"].(string); !regexp.MustCompile(`^https://gatehouse-[0-9a-f]+-ew\.a\.run\.app$`).MatchString(be) {
		t.Errorf("backendUrl = %q, want Cloud Run's uri", be)
	}
	image, _ := out["image"].(string)
	wantImage := e.registry + "/" + project + "/gatehouse/gatehouse@sha256:"
	if !strings.HasPrefix(image, wantImage) {
		t.Fatalf("image = %q, want %s...", image, wantImage)
	}
	st := e.state(t)
	svc := st["projects/"+project+"/locations/europe-west1/services/gatehouse"]
	if got := fmt.Sprint(svc["template"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]); got != image {
		t.Errorf("Cloud Run runs %q, the stack says %q", got, image)
	}
	if _, pushed := st["registry/"+strings.TrimPrefix(image, e.registry+"/")]; !pushed {
		t.Errorf("the digest Cloud Run runs was never pushed to the registry: %s", image)
	}
	if firstSeq(log, "registry.manifests.put", project+"/gatehouse/gatehouse", 201) == 0 {
		t.Error("no image push in the request log")
	}
	for _, want := range []string{"run.projects.locations.services.create", "apigateway.projects.locations.gateways.create",
		"identitytoolkit.projects.identityPlatform.initializeAuth", "firebase.projects.addFirebase", "serviceusage.services.batchEnable"} {
		if firstSeq(log, want, "", 200) == 0 {
			t.Errorf("the first up made no successful %s", want)
		}
	}
	// No change that never settles.
	from = e.seq(t) + 1
	if out, err := s.run("preview", "--expect-no-changes", "--stack", s.name); err != nil {
		t.Errorf("preview --expect-no-changes after the first up: %v\n%s", err, tail(out, 40))
	}
	for _, r := range mutations(e.requests(t, project, from)) {
		t.Errorf("preview changed something: %s %s", r.Method, r.Path)
	}
	// The CLI finds the endpoint from the real `pulumi stack output`: it signs
	// up with the stack's Firebase API key (against the cloud's sign-up), then
	// `call --stack dev` goes to the stack's gateway URL, which it reads from
	// pulumi (unreachable offline: the error names it).
	cliHome := t.TempDir() // the CLI keeps its session here between calls
	cli := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(e.cliBin, args...)
		cmd.Dir = s.dir
		cmd.Env = append(s.environ(), "PATH="+filepath.Dir(e.pulumiBin)+":"+os.Getenv("PATH"),
			"FIREBASE_AUTH_EMULATOR_HOST="+e.registry, "XDG_CONFIG_HOME="+filepath.Join(cliHome, "config"), "HOME="+cliHome)
		cmd.Stdin = strings.NewReader(stdin)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	// With FIREBASE_AUTH_EMULATOR_HOST set the CLI takes any key, as the
	// emulator does; the cloud's sign-up checks it is the stack's.
	key, _ := out["firebaseApiKey"].(string)
	if out, err := cli("s3cret-pass\n", "signup", "--email", "ada@example.com", "--password-stdin", "--stack", "dev", "--api-key", key); err != nil {
		plain, _ := s.run("stack", "output", "--json", "--stack", "dev")
		var signups []string
		for _, r := range e.requests(t, "", 1) {
			if r.MethodID == "identitytoolkit.accounts.signUp" {
				signups = append(signups, fmt.Sprintf("%d %s", r.Code, r.Message))
			}
		}
		t.Errorf("gatehouse signup --stack dev: %v\n%s\nthe CLI's stack output: %s\nthe cloud's sign-ups: %v", err, out, plain, signups)
	} else if out, err := cli("", "call", "/v1/hello", "--stack", "dev"); err == nil || !strings.Contains(out, gw+"/v1/hello") {
		t.Errorf("gatehouse call --stack dev did not go to the stack's gateway %s: %v\n%s", gw, err, out)
	}

	// b. A change to the backend's code: the image and the Cloud Run service
	// change, nothing else.
	if err := changeBackendCode(s.checkout); err != nil {
		t.Fatal(err)
	}
	steps := s.previewSteps()
	for urn, op := range steps {
		if urn != "backend-v1-image" && urn != "backend-v1-service" {
			t.Errorf("b: the code change plans %s on %s", op, urn)
		}
	}
	if steps["backend-v1-image"] == "" || steps["backend-v1-service"] != "update" {
		t.Errorf("b: want the image rebuilt and the service updated, plan: %v", steps)
	}
	from = e.seq(t) + 1
	s.mustUp("b: up after a code change")
	var changed []string
	for _, r := range mutations(e.requests(t, project, from)) {
		if !strings.HasPrefix(r.Path, "/v2/") {
			changed = append(changed, r.MethodID)
		}
	}
	if strings.Join(changed, ",") != "run.projects.locations.services.patch" {
		t.Errorf("b: the cloud saw changes %v, want only the Cloud Run service's patch", changed)
	}
	if img2, _ := s.outputs()["image"].(string); img2 == image || !strings.HasPrefix(img2, wantImage) {
		t.Errorf("b: image %q after the change, before %q", img2, image)
	}

	// c. Destroy, then up again.
	from = e.seq(t) + 1
	s.mustRun("destroy", "--yes", "--skip-preview", "--stack", s.name)
	log = e.requests(t, project, from)
	for _, m := range []string{"run.projects.locations.services.delete", "apigateway.projects.locations.gateways.delete",
		"apigateway.projects.locations.apis.configs.delete", "apigateway.projects.locations.apis.delete",
		"artifactregistry.projects.locations.repositories.delete", "firebase.projects.webApps.remove"} {
		if firstSeq(log, m, "", 200) == 0 {
			t.Errorf("c: destroy made no %s", m)
		}
	}
	// The stack's accounts are retained on delete (issue #24: a live
	// service runs as them, and CI adoption takes them out of the stack
	// without a delete); the next up adopts them.
	if n := firstSeq(log, "iam.projects.serviceAccounts.delete", "", 200); n != 0 {
		t.Errorf("c: destroy deleted a service account (#%d)", n)
	}
	st = e.state(t)
	if _, ok := st["projects/"+project+"/config"]; !ok {
		t.Error("c: Identity Platform's config is gone after destroy; Google keeps it")
	}
	if _, ok := st["firebase/projects/"+project]; !ok {
		t.Error("c: the Firebase project is gone after destroy; Google never deletes it")
	}
	out2, err := s.up("c: up again, identityPlatformExists false")
	if err == nil {
		t.Fatal("c: up after destroy with identityPlatformExists false succeeded; initializeAuth works once per project")
	}
	if !strings.Contains(out2, "Identity Platform has already been enabled for this project") {
		t.Errorf("c: the failure is not initializeAuth's:\n%s", tail(out2, 30))
	}
	// What the user meets names the fix through the README's troubleshooting.
	row := ""
	for _, l := range lines(readme(t, e)) {
		if strings.Contains(l, "Identity Platform") && strings.Contains(l, "already") && strings.HasPrefix(l, "|") {
			row = l
		}
	}
	if !strings.Contains(row, "pulumi config set gatehouse:identityPlatformExists true") {
		t.Errorf("c: the README's troubleshooting has no row naming the fix for this error: %q", row)
	}
	s.config(map[string]string{"gatehouse:identityPlatformExists": "true"})
	from = e.seq(t) + 1
	s.mustUp("c: up again, identityPlatformExists true")
	for _, r := range e.requests(t, project, from) {
		if r.MethodID == "iam.projects.serviceAccounts.create" && r.Code != http.StatusConflict {
			t.Errorf("c: up again created an account (%d %s) instead of adopting the retained one", r.Code, r.Path)
		}
	}
	if out, err := s.run("preview", "--expect-no-changes", "--stack", s.name); err != nil {
		t.Errorf("c: preview --expect-no-changes after the second up: %v\n%s", err, tail(out, 40))
	}
	fmt.Printf("    scenarios a, b, c: %.0fs (programs compiled once for all scenarios in %.0fs)\n", time.Since(started).Seconds(), e.compile.Seconds())
}

// changeBackendCode edits a string in the /v1 backend's handlers, so the
// image's binary changes.
func changeBackendCode(checkout string) error {
	var target string
	err := filepath.Walk(filepath.Join(checkout, "service"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || target != "" || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
			strings.Contains(path, string(filepath.Separator)+"notes"+string(filepath.Separator)) {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), `"/v1/hello"`) {
			target = path
		}
		return err
	})
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("no /v1 handler file under service/")
	}
	f, err := os.OpenFile(target, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\nfunc init() { lifecycleMarker = %q }\n\nvar lifecycleMarker string\n", time.Now().Format(time.RFC3339Nano))
	return err
}

// TestScenarioD is scenario d: the two-backend stack, then its notes
// backend removed. The gateway moves to a new config before the old config
// and the notes backend are deleted.
func TestScenarioD(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project = "gatehouse-d"
	e.project(t, project, 0)
	s := e.newStack(t, project, false, "Pulumi.v2.yaml", nil)
	start := time.Now()
	from := e.seq(t) + 1
	s.mustUp("d: up of Pulumi.v2.yaml")
	checkRequests(t, e.requests(t, project, from), project)
	out := s.outputs()
	urls, _ := out["backendUrls"].(map[string]any)
	if u, _ := urls["notes"].(string); !strings.HasSuffix(u, ".a.run.app") {
		t.Errorf("backendUrls = %v, want the notes service's uri", urls)
	}
	oldConfig, _ := out["apiConfigId"].(string)

	// Remove the backend entry from the stack.
	s.mustRun("config", "rm", "--stack", s.name, "gatehouse:backends")
	from = e.seq(t) + 1
	s.mustUp("d: up without the notes backend")
	log := e.requests(t, project, from)
	checkRequests(t, log, project)
	newConfig, _ := s.outputs()["apiConfigId"].(string)
	if newConfig == oldConfig {
		t.Fatalf("the config id did not change (%s)", newConfig)
	}
	created := firstSeq(log, "apigateway.projects.locations.apis.configs.create", "", 200)
	moved := firstSeq(log, "apigateway.projects.locations.gateways.patch", "", 200)
	deletedCfg := firstSeq(log, "apigateway.projects.locations.apis.configs.delete", "/configs/"+oldConfig, 200)
	deletedSvc := firstSeq(log, "run.projects.locations.services.delete", "/services/gatehouse-notes", 200)
	t.Logf("request log: config %s created at #%d, gateway moved at #%d, old config %s deleted at #%d, notes service deleted at #%d",
		newConfig, created, moved, oldConfig, deletedCfg, deletedSvc)
	if created == 0 || moved == 0 || deletedCfg == 0 || deletedSvc == 0 {
		t.Fatalf("missing steps in the request log: create %d, move %d, delete config %d, delete service %d", created, moved, deletedCfg, deletedSvc)
	}
	if !(created < moved && moved < deletedCfg && moved < deletedSvc) {
		t.Errorf("order: want new config (#%d) < gateway moved (#%d) < old config deleted (#%d) and notes deleted (#%d)", created, moved, deletedCfg, deletedSvc)
	}
	for _, r := range log {
		if r.Code == http.StatusBadRequest && strings.Contains(r.Message, "in use by gateway") {
			t.Errorf("a config was deleted while in use: #%d %s", r.Seq, r.Message)
		}
	}
	fmt.Printf("    scenario d: %.0fs\n", time.Since(start).Seconds())
}

// TestScenarioG is scenario g: a fresh project whose newly enabled APIs
// answer SERVICE_DISABLED for a while. The user sees Google's message; the
// README's advice (wait, then `pulumi up` again) gets them through.
func TestScenarioG(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	const project = "gatehouse-g"
	const delay = 30 * time.Second
	e.project(t, project, delay)
	s := e.newStack(t, project, false, "", nil)
	start := time.Now()
	out, err := s.up("g: first up on a fresh project (API propagation lag)")
	if err == nil {
		t.Fatal("g: the first up succeeded although newly enabled APIs still answer SERVICE_DISABLED")
	}
	if !strings.Contains(out, "SERVICE_DISABLED") && !strings.Contains(out, "has not been used in project") {
		t.Fatalf("g: the first up failed otherwise:\n%s", tail(out, 40))
	}
	// The README's row for this message.
	advice := ""
	for _, l := range lines(readme(t, e)) {
		if strings.HasPrefix(l, "|") && strings.Contains(l, "SERVICE_DISABLED") {
			advice = l
		}
	}
	if !strings.Contains(advice, "run `pulumi up` again") {
		t.Errorf("g: the README's troubleshooting does not say what to do: %q", advice)
	}
	// The advice: wait (every API was enabled during the first up), then up again.
	time.Sleep(delay)
	s.mustUp("g: up again after the wait")
	if out, err := s.run("preview", "--expect-no-changes", "--stack", s.name); err != nil {
		t.Errorf("g: preview --expect-no-changes: %v\n%s", err, tail(out, 40))
	}
	fmt.Printf("    scenario g: %.0fs (propagation delay %v)\n", time.Since(start).Seconds(), delay)
}
