package lifecycle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestScenarioUpgrade is issue #26 items 1 and 2 in the local Google Cloud,
// as a user meets them: a dev stack deployed with the program as it was
// before "one list of backends" (/v1 the stack's own backend, further
// backends apart) is upgraded in place by `pulumi up` with today's program
// (in-place); then it takes Pulumi.v2.yaml's backends, and /v1's entry is
// removed (retire-v1). The second step needs the first: retiring /v1 from a
// stack that came through the upgrade also proves the aliased resources are
// deleted as any others.
func TestScenarioUpgrade(t *testing.T) {
	e := needLifecycle(t)
	t.Parallel()
	commit, archive := formerLayout(t, e)
	const project = "gatehouse-upgrade"
	e.project(t, project, 0)
	start := time.Now()

	// Today's checkout and stack first: it owns the throw-away backend, and
	// the former program runs on the same stack (same state, same
	// encryption salt), as a user's checkout before and after `git pull`.
	s := e.newStack(t, project, false, "", nil)
	old, compile := e.formerStack(t, s, commit, archive)
	fmt.Printf("    upgrade: %s's program compiled in %.0fs\n", commit[:7], compile.Seconds())

	// Each step's stacks fail the step that runs them.
	if !t.Run("in-place", func(t *testing.T) { old.t, s.t = t, t; upgradeInPlace(t, e, old, s) }) {
		t.Fatal("retiring /v1 needs the upgraded stack")
	}
	t.Run("retire-v1", func(t *testing.T) { s.t = t; retireV1(t, e, s) })
	fmt.Printf("    scenario upgrade (#26 items 1, 2): %.0fs\n", time.Since(start).Seconds())
}

// formerLayout is the commit whose first deployment infra/plan's upgrade
// fixtures hold (testdata/upgrade-from-SHORT, written by its
// TestGenerateUpgradeFixtures): the last commit with the layout before one
// list of backends. Its program is read from testdata/former-SHORT.tar.gz
// (git archive of the folders `pulumi up` reads), so the scenario does not
// depend on how deep the clone is; TestFormerArchive keeps it equal to the
// commit in history, and GATEHOUSE_UPGRADE_FIXTURES=1 writes it anew.
func formerLayout(t *testing.T, e *env) (commit, archive string) {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(e.root, "infra", "plan", "testdata", "upgrade-from-*"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("want one infra/plan/testdata/upgrade-from-COMMIT, found %v (%v)", dirs, err)
	}
	commit = strings.TrimPrefix(filepath.Base(dirs[0]), "upgrade-from-")
	return commit, filepath.Join(e.root, "infra", "lifecycle", "testdata", "former-"+commit+".tar.gz")
}

// formerPaths are the files and folders of the former commit the scenario
// deploys from: the project and stack files and what `pulumi up` builds.
var formerPaths = []string{"Pulumi.yaml", "Pulumi.dev.yaml", "infra", "spec", "service"}

// formerPatch is what is changed in the former program, in the test's copy
// only (history is not edited); each text must occur once.
//   - Its registry: it pushed to REGION-docker.pkg.dev, written into the
//     code, where today's program pushes to the TEST-ONLY
//     gatehouse:imageRegistry when it is set, building on the host's network
//     for it (the offline Docker daemon has no bridge). Patched, the former
//     program pushes exactly where today's does with the key, so the two name
//     the same image, as both do on Google Cloud.
//   - What its image is built from: the stand-in context standIn
//     (formerImageStandIn) instead of its service/ folder. The local cloud
//     runs no container, so the image's content has no part in the upgrade;
//     the build does: a cold build of the former backend (its own go.mod, so
//     no layer is shared with today's) took 175 s of a 290 s scenario on this
//     machine, and make test runs on a fresh Docker store. The resource, its
//     name, tag, registry, digest and push are the former program's own.
func formerPatch(registry, standIn string) [][2]string {
	return [][2]string{
		{`registry := fmt.Sprintf("%s-docker.pkg.dev", args.Region)`,
			fmt.Sprintf(`registry := fmt.Sprint(%q) // PATCHED by infra/lifecycle: the local cloud's registry`, registry)},
		{`Platform:   pulumi.String(ImagePlatform),`,
			`Platform:   pulumi.String(ImagePlatform), Network: pulumi.String("host"), // PATCHED by infra/lifecycle`},
		{`Context:    pulumi.String(build.Context),`,
			fmt.Sprintf(`Context:    pulumi.String(%q), // PATCHED by infra/lifecycle: a stand-in image`, standIn)},
		{`Dockerfile: pulumi.String(build.Dockerfile),`,
			fmt.Sprintf(`Dockerfile: pulumi.String(%q), // PATCHED by infra/lifecycle`, filepath.Join(standIn, "Dockerfile"))},
	}
}

// formerImageStandIn writes the stand-in the former program's image is
// built from into dir: today's runtime base image (the ARG default of
// /v1's Dockerfile, which make test's Docker has as a local stand-in) with
// a label naming the commit. It builds in a second, whatever the cache.
func (e *env) formerImageStandIn(t *testing.T, dir, commit string) string {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(e.root, "service", "cmd", "hello", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	base := regexp.MustCompile(`(?m)^ARG RUNTIME_IMAGE=(\S+)$`).FindSubmatch(df)
	if base == nil {
		t.Fatal("service/cmd/hello/Dockerfile has no ARG RUNTIME_IMAGE=IMAGE")
	}
	standIn := filepath.Join(dir, "former-image")
	if err := os.MkdirAll(standIn, 0o755); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("# infra/lifecycle's stand-in for the backend image of %s (the local cloud runs no container)\nFROM %s\nLABEL gatehouse.former-commit=%q\n", commit[:7], base[1], commit)
	if err := os.WriteFile(filepath.Join(standIn, "Dockerfile"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return standIn
}

// formerStack checks out commit's program (the project and stack files and
// the folders `pulumi up` reads: infra, spec, service) into a directory of
// its own, patches it (formerPatch), compiles it and sets
// it up on s's stack: the same backend, stack name and encryption salt, its
// own stack file as it was then, with the stack's project and region.
func (e *env) formerStack(t *testing.T, s *stack, commit, archive string) (*stack, time.Duration) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-C", dir, "-xzf", archive).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s's program (%s; GATEHOUSE_UPGRADE_FIXTURES=1 go test -run TestFormerArchive ./lifecycle/ writes it from history): %v\n%s",
			commit, archive, err, out)
	}
	backend := filepath.Join(dir, "infra", "components", "backend.go")
	src, err := os.ReadFile(backend)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range formerPatch(e.registry, e.formerImageStandIn(t, dir, commit)) {
		if n := strings.Count(string(src), p[0]); n != 1 {
			t.Fatalf("patch of %s's backend.go: %q occurs %d times, want once", commit[:7], p[0], n)
		}
		src = []byte(strings.Replace(string(src), p[0], p[1], 1))
	}
	if err := os.WriteFile(backend, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// Compiled once, as the harness does for today's programs; on its own
	// (GOWORK=off: the archive holds only the modules it needs).
	bin := filepath.Join(dir, "program")
	started := time.Now()
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(dir, "infra")
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s's program: %v\n%s", commit[:7], err, out)
	}
	compile := time.Since(started)

	runBinary(t, dir, bin)
	// The stack file as it was then, with the stack's encryption salt.
	cur, err := os.ReadFile(filepath.Join(s.dir, "Pulumi."+s.name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	salt := regexp.MustCompile(`(?m)^encryptionsalt: .*$`).Find(cur)
	stackFile := filepath.Join(dir, "Pulumi."+s.name+".yaml")
	was, err := os.ReadFile(filepath.Join(dir, "Pulumi.dev.yaml"))
	if err != nil || salt == nil {
		t.Fatalf("stack files: %v (salt %q)", err, salt)
	}
	if err := os.WriteFile(stackFile, append(append(salt, '\n'), was...), 0o644); err != nil {
		t.Fatal(err)
	}
	old := &stack{e: e, t: t, dir: dir, checkout: dir, project: s.project, name: s.name, home: s.home, token: s.token}
	old.config(map[string]string{"gcp:project": s.project, "gcp:region": "europe-west1"})
	return old, compile
}

// upgradeInPlace: the former program's first deployment, then `pulumi up`
// with today's program on the same state and cloud.
func upgradeInPlace(t *testing.T, e *env, old, s *stack) {
	project := s.project
	from := e.seq(t) + 1
	old.mustUp("upgrade: first up, the former program")
	checkRequests(t, e.requests(t, project, from), project)
	before := exportState(t, old)
	// Not vacuous: the state is the former layout's (/v1 the component
	// "backend", its account "accounts-runtime").
	for _, want := range []string{"backend-service", "backend-image", "backend-repo", "accounts-runtime"} {
		if before.byName(want) == nil {
			t.Fatalf("the former program's state has no %s: not the layout before one list of backends (%v)", want, before.names())
		}
	}
	if before.byName("backend-v1-service") != nil {
		t.Fatal("the former program's state already has backend-v1-service")
	}
	outBefore := old.outputs()
	cloudBefore := e.projectObjects(t, project)
	physical := upgradePhysical(project)
	for _, n := range physical {
		if cloudBefore[n] == nil {
			t.Fatalf("the first deployment left no %s in the cloud", n)
		}
		if obj := cloudBefore[n]; obj["uid"] == nil && obj["uniqueId"] == nil && obj["createTime"] == nil {
			t.Fatalf("%s has no uid, uniqueId or createTime: a recreation would not show", n)
		}
	}
	oldConfig, _ := outBefore["apiConfigId"].(string)

	// The upgrade: today's program, the same state, the same cloud, and the
	// user's stack file as it was (no gatehouse:backends: /v1 by default).
	was, err := os.ReadFile(filepath.Join(old.dir, "Pulumi."+old.name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(was), "backends") {
		t.Fatalf("the former dev stack file lists backends:\n%s", was)
	}
	if err := os.WriteFile(filepath.Join(s.dir, "Pulumi."+s.name+".yaml"), was, 0o644); err != nil {
		t.Fatal(err)
	}
	s.config(map[string]string{"gatehouse:imageRegistry": e.registry})

	// What `pulumi preview` (a CI's check) shows the user first, on the
	// state and cloud of the real deployment: the plan the up then runs.
	plan, planSummary := planOps(t, s)
	fmt.Printf("    upgrade: pulumi preview's change summary %v; steps: %s\n", planSummary, strings.Join(plan, "; "))
	checkUpgradeOps(t, "preview", plan, planSummary)

	log, ops, summary := upSteps(t, s, "upgrade", "up with today's program")
	checkUpgradeOps(t, "up", ops, summary)
	if !slices.Equal(ops, plan) {
		t.Errorf("upgrade: the up did\n  %s\nthe preview planned\n  %s", strings.Join(ops, "\n  "), strings.Join(plan, "\n  "))
	}
	after := exportState(t, s)
	// Every Google resource of the first deployment is in the new state
	// under the same id (its physical name), but the old API config.
	for _, r := range before.Resources {
		if !r.Custom || strings.HasPrefix(r.Type, "pulumi:providers:") || r.Type == "docker:index/image:Image" {
			continue
		}
		switch got := after.byID(r.Type, r.ID); {
		case r.Type == "gcp:projects/service:Service" && r.name() == "gateway-managed-service":
			// Dropped from the state only (#24); the cloud keeps it enabled.
			if got != nil {
				t.Errorf("upgrade: the API's managed service %s is still in the state", r.ID)
			}
		case r.Type == "gcp:apigateway/apiConfig:ApiConfig":
			if got != nil {
				t.Errorf("upgrade: the old API config %s is still in the state", r.ID)
			}
		case got == nil:
			t.Errorf("upgrade: %s %s (%s) is not in the upgraded state under the same id", r.Type, r.ID, r.name())
		}
	}
	if after.byName("backend-v1-service") == nil || after.byName("accounts-v1-runtime") == nil || after.byName("backend-service") != nil {
		t.Errorf("upgrade: the upgraded state is not today's layout: %v", after.names())
	}

	// The cloud: only the API config was created and deleted, the gateway
	// moved between the two (create-before-delete), and /v1's Cloud Run
	// service patched with its new image.
	var changes []string
	for _, r := range mutations(log) {
		if !strings.HasPrefix(r.Path, "/v2/") {
			changes = append(changes, r.MethodID)
		}
	}
	sort.Strings(changes)
	wantChanges := []string{"apigateway.projects.locations.apis.configs.create", "apigateway.projects.locations.apis.configs.delete",
		"apigateway.projects.locations.gateways.patch", "run.projects.locations.services.patch"}
	if strings.Join(changes, ",") != strings.Join(wantChanges, ",") {
		t.Errorf("upgrade: the cloud saw changes\n  %s\nwant\n  %s", strings.Join(changes, "\n  "), strings.Join(wantChanges, "\n  "))
	}
	newConfig, _ := s.outputs()["apiConfigId"].(string)
	created := firstSeq(log, "apigateway.projects.locations.apis.configs.create", "", 200)
	moved := firstSeq(log, "apigateway.projects.locations.gateways.patch", "", 200)
	deleted := firstSeq(log, "apigateway.projects.locations.apis.configs.delete", "/configs/"+oldConfig, 200)
	fmt.Printf("    upgrade: request log: config %s created at #%d, gateway moved at #%d, old config %s deleted at #%d; every change: %s\n",
		newConfig, created, moved, oldConfig, deleted, changeLog(log))
	if newConfig == oldConfig || created == 0 || !(created < moved && moved < deleted) {
		t.Errorf("upgrade: want a new config created (#%d), the gateway moved (#%d), then the old one %s deleted (#%d)", created, moved, oldConfig, deleted)
	}
	// Every Google resource kept its physical name and its identity: none
	// was recreated under the same name (uid, uniqueId, createTime).
	cloudAfter := e.projectObjects(t, project)
	for _, n := range physical {
		if b, a := fingerprint(cloudBefore[n]), fingerprint(cloudAfter[n]); a != b {
			t.Errorf("upgrade: %s was recreated or is gone: %s before, %s after", n, b, a)
		}
	}
	for n := range cloudBefore {
		if _, ok := cloudAfter[n]; !ok && !strings.HasSuffix(n, "/configs/"+oldConfig) {
			t.Errorf("upgrade: %s is gone from the cloud", n)
		}
	}
	for n := range cloudAfter {
		if _, ok := cloudBefore[n]; !ok && !strings.HasSuffix(n, "/configs/"+newConfig) && !strings.HasPrefix(n, "registry/") {
			t.Errorf("upgrade: %s is new in the cloud", n)
		}
	}
	// The API keeps serving: the gateway serves the new config, whose
	// document routes every path the old one routed to the same Cloud Run
	// service at the same address; paths added since the former commit go
	// there too. (The cloud has no data plane: what the gateway serves is
	// the document of its config.)
	v1Service := upgradePhysical(project)[0]
	uri, _ := cloudAfter[v1Service]["uri"].(string)
	if was, _ := cloudBefore[v1Service]["uri"].(string); uri == "" || uri != was {
		t.Errorf("upgrade: /v1's Cloud Run uri %q, before %q", uri, was)
	}
	gw := cloudAfter["projects/"+project+"/locations/europe-west1/gateways/gatehouse"]
	if served, _ := gw["apiConfig"].(string); !strings.HasSuffix(served, "/configs/"+newConfig) {
		t.Errorf("upgrade: the gateway serves %q, want the new config %s", served, newConfig)
	}
	oldRoutes, newRoutes := storedRoutes(t, cloudBefore, project, oldConfig), storedRoutes(t, cloudAfter, project, newConfig)
	if len(oldRoutes) == 0 {
		t.Errorf("upgrade: the old config %s routes nothing", oldConfig)
	}
	var added []string
	for p, addrs := range oldRoutes {
		if !slices.Equal(addrs, []string{uri}) || !slices.Equal(newRoutes[p], addrs) {
			t.Errorf("upgrade: %s routed to %v by the old config, %v by the new one; want /v1's service %s by both", p, addrs, newRoutes[p], uri)
		}
	}
	for p, addrs := range newRoutes {
		if _, was := oldRoutes[p]; !was {
			added = append(added, p)
		}
		if !strings.HasPrefix(p, "/v1/") || !slices.Equal(addrs, []string{uri}) {
			t.Errorf("upgrade: the new config routes %s to %v, want /v1's service %s", p, addrs, uri)
		}
	}
	sort.Strings(added)
	fmt.Printf("    upgrade: the gateway serves %s, routing %v to %s as %s did (added since: %v)\n", newConfig, slices.Sorted(maps.Keys(oldRoutes)), uri, oldConfig, added)
	outAfter := s.outputs()
	for _, k := range []string{"gatewayUrl", "backendUrl", "runtimeServiceAccount", "gatewayServiceAccount", "firebaseApiKey"} {
		if outAfter[k] != outBefore[k] || outAfter[k] == nil {
			t.Errorf("upgrade: output %s %v, before %v", k, outAfter[k], outBefore[k])
		}
	}

	// Settled: a second preview changes nothing, with the stack file as it
	// was and with today's example, which lists /v1's entry.
	for _, file := range []string{"", "Pulumi.dev.yaml"} {
		if file != "" {
			useStackFile(t, s, file)
		}
		from = e.seq(t) + 1
		if out, err := s.run("preview", "--expect-no-changes", "--stack", s.name); err != nil {
			t.Errorf("upgrade: preview --expect-no-changes after the upgrade (stack file %q): %v\n%s", file, err, tail(out, 40))
		}
		for _, r := range mutations(e.requests(t, project, from)) {
			t.Errorf("upgrade: preview changed something: %s %s", r.Method, r.Path)
		}
	}
}

// retireV1: the upgraded stack takes Pulumi.v2.yaml's backends (/v1 and
// notes), then /v1's entry is removed from its stack file.
func retireV1(t *testing.T, e *env, s *stack) {
	project := s.project
	useStackFile(t, s, "Pulumi.v2.yaml")
	from := e.seq(t) + 1
	s.mustUp("retire /v1: up of Pulumi.v2.yaml")
	checkRequests(t, e.requests(t, project, from), project)
	out := s.outputs()
	oldConfig, _ := out["apiConfigId"].(string)
	cloudBefore := e.projectObjects(t, project)
	v1Service := "projects/" + project + "/locations/europe-west1/services/gatehouse"
	v1Account := "projects/" + project + "/serviceAccounts/gatehouse-runtime@" + project + ".iam.gserviceaccount.com"
	notesService := v1Service + "-notes"
	image, _ := out["image"].(string)
	// Not vacuous: /v1 is deployed and routed.
	if cloudBefore[v1Service] == nil || cloudBefore[v1Account] == nil || cloudBefore[notesService] == nil {
		t.Fatalf("retire /v1: before, want /v1's service and account and notes' service in the cloud")
	}
	if paths := storedPaths(t, cloudBefore, project, oldConfig); !hasPrefix(paths, "/v1/") || !hasPrefix(paths, "/v2/") {
		t.Fatalf("retire /v1: the config before routes %v, want /v1/ and /v2/", paths)
	}
	if _, pushed := cloudBefore["registry/"+strings.TrimPrefix(image, e.registry+"/")]; !strings.HasPrefix(image, e.registry+"/") || !pushed {
		t.Fatalf("retire /v1: /v1's image %s is not in the cloud's registry", image)
	}

	// The stack file without /v1's entry, as the README's "Retiring a
	// version" says.
	file := filepath.Join(s.dir, "Pulumi."+s.name+".yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	retired := regexp.MustCompile(`(?s)    - name: v1\n.*?(    - name: notes)`).ReplaceAll(b, []byte("$1"))
	if strings.Contains(string(retired), "name: v1") || !strings.Contains(string(retired), "name: notes") {
		t.Fatalf("retire /v1: could not remove the entry:\n%s", retired)
	}
	if err := os.WriteFile(file, retired, 0o644); err != nil {
		t.Fatal(err)
	}
	log, ops, _ := upSteps(t, s, "retire /v1", "up without /v1's entry")
	newConfig, _ := s.outputs()["apiConfigId"].(string)

	// The engine: /v1's component, image, service, invoker binding and
	// account deleted; the config replaced, the gateway moved; nothing else.
	var deleted []string
	for _, op := range ops {
		kind, rest, _ := strings.Cut(op, " ")
		switch {
		case kind == "delete":
			deleted = append(deleted, rest)
		case op == "replace gcp:apigateway:ApiConfig gateway-config", op == "update gcp:apigateway:Gateway gateway-gateway":
		default:
			t.Errorf("retire /v1: the engine did %s", op)
		}
	}
	sort.Strings(deleted)
	wantDeleted := []string{"docker:index:Image backend-v1-image", "gatehouse:components:SecureBackend backend-v1",
		"gcp:cloudrunv2:Service backend-v1-service", "gcp:cloudrunv2:ServiceIamMember backend-v1-invoker", "gcp:serviceaccount:Account accounts-v1-runtime"}
	if strings.Join(deleted, ",") != strings.Join(wantDeleted, ",") {
		t.Errorf("retire /v1: the engine deleted\n  %s\nwant\n  %s", strings.Join(deleted, "\n  "), strings.Join(wantDeleted, "\n  "))
	}

	// The cloud: the new config created and the gateway moved to it before
	// anything goes; then the old config and /v1's service. /v1's account
	// leaves the stack, not Google: stack accounts are retained on delete
	// (infra/components NewStackAccount), so its delete calls nothing.
	created := firstSeq(log, "apigateway.projects.locations.apis.configs.create", "", 200)
	moved := firstSeq(log, "apigateway.projects.locations.gateways.patch", "", 200)
	deletedCfg := firstSeq(log, "apigateway.projects.locations.apis.configs.delete", "/configs/"+oldConfig, 200)
	deletedSvc := firstSeq(log, "run.projects.locations.services.delete", "/services/gatehouse", 200)
	fmt.Printf("    retire /v1: request log: config %s created at #%d, gateway moved at #%d, then old config %s deleted at #%d, /v1's Cloud Run service at #%d; every change: %s\n",
		newConfig, created, moved, oldConfig, deletedCfg, deletedSvc, changeLog(log))
	if created == 0 || moved == 0 || deletedCfg == 0 || deletedSvc == 0 {
		t.Fatalf("retire /v1: missing steps in the request log: create %d, move %d, delete config %d, service %d", created, moved, deletedCfg, deletedSvc)
	}
	if !(created < moved && moved < deletedCfg && moved < deletedSvc) {
		t.Errorf("retire /v1: want the config created (#%d), the gateway moved (#%d), then the deletions (#%d, #%d)", created, moved, deletedCfg, deletedSvc)
	}
	for _, r := range log {
		if r.MethodID == "iam.projects.serviceAccounts.delete" {
			t.Errorf("retire /v1: #%d deleted an account (%s): stack accounts are retained", r.Seq, r.Path)
		}
	}
	for _, r := range mutations(log) {
		if r.Seq < moved && r.Seq != created {
			t.Errorf("retire /v1: #%d %s %s before the gateway moved", r.Seq, r.MethodID, r.Path)
		}
		if strings.Contains(r.Path, "gatehouse-notes") {
			t.Errorf("retire /v1: notes touched: #%d %s %s", r.Seq, r.MethodID, r.Path)
		}
		if r.Code == http.StatusBadRequest && strings.Contains(r.Message, "in use by gateway") {
			t.Errorf("retire /v1: a config was deleted while in use: #%d %s", r.Seq, r.Message)
		}
	}
	// The cloud serves no data plane, so /v1/* cannot be called: what the
	// gateway would serve is the document stored with its new config.
	cloudAfter := e.projectObjects(t, project)
	gw, _ := cloudAfter["projects/"+project+"/locations/europe-west1/gateways/gatehouse"]["apiConfig"].(string)
	if !strings.HasSuffix(gw, "/configs/"+newConfig) {
		t.Errorf("retire /v1: the gateway serves %s, want the new config %s", gw, newConfig)
	}
	if paths := storedPaths(t, cloudAfter, project, newConfig); hasPrefix(paths, "/v1/") || !hasPrefix(paths, "/v2/") {
		t.Errorf("retire /v1: the new config's document routes %v, want /v2/ and no /v1/", paths)
	}
	if cloudAfter[v1Service] != nil {
		t.Errorf("retire /v1: %s is still in the cloud", v1Service)
	}
	if cloudAfter[v1Account] == nil {
		t.Errorf("retire /v1: %s left the cloud; stack accounts are retained on delete", v1Account)
	}
	if fingerprint(cloudAfter[notesService]) != fingerprint(cloudBefore[notesService]) || cloudAfter[notesService] == nil {
		t.Errorf("retire /v1: notes' Cloud Run service changed")
	}
	// The image leaves the stack, not the registry: pulumi-docker's Image
	// never deletes what it pushed (by design:
	// https://github.com/pulumi/pulumi-docker/issues/588), so /v1's digest
	// stays in Artifact Registry until the repository's cleanup policy or
	// `gcloud artifacts docker images delete` removes it.
	if _, kept := cloudAfter["registry/"+strings.TrimPrefix(image, e.registry+"/")]; !kept {
		t.Errorf("retire /v1: /v1's image %s left the registry; pulumi-docker never deletes a pushed image", image)
	}
}

// checkUpgradeOps: the upgrade's steps (what) create, delete or replace
// nothing in Google but the API config, whose id is the rendered
// document's hash and so changes with it; they update only the gateway
// (moved to the new config) and /v1's image and Cloud Run service (its
// code moved to service/hello since the former commit). A component is
// logical: a new one (the image repository's) creates nothing in Google.
func checkUpgradeOps(t *testing.T, what string, ops []string, summary map[string]int) {
	t.Helper()
	// The one deletion is the API's managed service, which left the program
	// (#24): created with disableOnDestroy false, its delete drops it from
	// the state and calls nothing (the request log below has no
	// services.disable).
	if summary["delete"] != 1 || summary["replace"] != 1 {
		t.Errorf("upgrade (%s): the engine's summary %v, want one replacement (the API config) and one deletion (the managed service, from the state)", what, summary)
	}
	for _, op := range ops {
		kind, rest, _ := strings.Cut(op, " ")
		typ, name, _ := strings.Cut(rest, " ")
		switch {
		case !customType(typ) && kind == "create":
		case typ == "gcp:apigateway:ApiConfig" && name == "gateway-config" && kind == "replace":
		case typ == "gcp:projects:Service" && name == "gateway-managed-service" && kind == "delete":
		case kind == "update" && slices.Contains([]string{"gateway-gateway", "backend-v1-image", "backend-v1-service"}, name):
		default:
			t.Errorf("upgrade (%s): the engine would %s", what, op)
		}
	}
	if !slices.Contains(ops, "replace gcp:apigateway:ApiConfig gateway-config") || !slices.Contains(ops, "update gcp:apigateway:Gateway gateway-gateway") {
		t.Errorf("upgrade (%s): want the API config replaced and the gateway moved to it, the engine: %v", what, ops)
	}
}

// planOps runs `pulumi preview --json` and returns its steps as engineOps
// does ("OP TYPE NAME", the type as the display shows it, a replacement's
// steps as one "replace"), and the plan's change summary.
func planOps(t *testing.T, s *stack) ([]string, map[string]int) {
	t.Helper()
	out, err := s.run("preview", "--json", "--stack", s.name)
	i, j := strings.Index(out, "{"), strings.LastIndex(out, "}")
	if err != nil || i < 0 || j < i {
		t.Fatalf("preview: %v\n%s", err, tail(out, 40))
	}
	var p struct {
		Steps []struct {
			Op  string `json:"op"`
			URN string `json:"urn"`
		} `json:"steps"`
		ChangeSummary map[string]int `json:"changeSummary"`
	}
	if err := json.Unmarshal([]byte(out[i:j+1]), &p); err != nil {
		t.Fatalf("preview json: %v\n%s", err, tail(out, 40))
	}
	seen := map[string]bool{}
	var ops []string
	for _, st := range p.Steps {
		op := st.Op
		switch op {
		case "same":
			continue
		case "create-replacement", "delete-replaced", "replace":
			op = "replace"
		}
		parts := strings.Split(st.URN, "::") // urn:pulumi:STACK, PROJECT, PARENT$...$TYPE, NAME
		if len(parts) != 4 {
			t.Fatalf("preview: URN %q", st.URN)
		}
		typ := parts[2][strings.LastIndex(parts[2], "$")+1:]
		if seg := strings.Split(typ, ":"); len(seg) == 3 { // gcp:apigateway/apiConfig:ApiConfig as gcp:apigateway:ApiConfig
			seg[1], _, _ = strings.Cut(seg[1], "/")
			typ = strings.Join(seg, ":")
		}
		if s := op + " " + typ + " " + parts[3]; typ != "pulumi:pulumi:Stack" && !seen[s] {
			seen[s] = true
			ops = append(ops, s)
		}
	}
	sort.Strings(ops)
	return ops, p.ChangeSummary
}

// changeLog lists the log's state-changing calls in order, as
// "#SEQ METHOD NAME" (the method's last part, the resource's last segment).
func changeLog(log []logEntry) string {
	var out []string
	for _, r := range mutations(log) {
		if strings.HasPrefix(r.Path, "/v2/") {
			continue // the registry's pushes
		}
		_, m, ok := strings.Cut(r.MethodID, ".projects.")
		if !ok {
			m = r.MethodID
		}
		out = append(out, fmt.Sprintf("#%d %s %s", r.Seq, m, r.Path[strings.LastIndex(r.Path, "/")+1:]))
	}
	return strings.Join(out, ", ")
}

// useStackFile replaces s's stack file by the repository's file (its config),
// keeping the stack's encryption salt, project, region and registry.
func useStackFile(t *testing.T, s *stack, file string) {
	t.Helper()
	stackFile := filepath.Join(s.dir, "Pulumi."+s.name+".yaml")
	cur, err := os.ReadFile(stackFile)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(s.e.root, file)) // the checkout's copy is the stack's file
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(src, []byte("encryptionsalt:")) {
		t.Fatalf("%s has an encryption salt", file)
	}
	salt := regexp.MustCompile(`(?m)^encryptionsalt: .*$`).Find(cur)
	if err := os.WriteFile(stackFile, append(append(salt, '\n'), src...), 0o644); err != nil {
		t.Fatal(err)
	}
	s.config(map[string]string{"gcp:project": s.project, "gcp:region": "europe-west1", "gatehouse:imageRegistry": s.e.registry})
}

// upgradePhysical are the Google resources of a first deployment of the dev
// stack that the upgrade must keep as they are, by their names in the cloud.
func upgradePhysical(project string) []string {
	p := "projects/" + project
	return []string{
		p + "/locations/europe-west1/services/gatehouse",
		p + "/serviceAccounts/gatehouse-runtime@" + project + ".iam.gserviceaccount.com",
		p + "/serviceAccounts/gatehouse-gateway@" + project + ".iam.gserviceaccount.com",
		p + "/locations/europe-west1/repositories/gatehouse",
		p + "/locations/global/apis/gatehouse",
		p + "/locations/europe-west1/gateways/gatehouse",
	}
}

// fingerprint is what a recreated resource of the same name would not
// keep: Cloud Run's uid, an account's uniqueId, the creation time.
func fingerprint(obj map[string]any) string {
	if obj == nil {
		return "(none)"
	}
	return fmt.Sprintf("uid=%v uniqueId=%v createTime=%v", obj["uid"], obj["uniqueId"], obj["createTime"])
}

// projectObjects are the cloud's resources of project, by name (images in
// its registry as registry/PROJECT/...).
func (e *env) projectObjects(t *testing.T, project string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for n, obj := range e.state(t) {
		if strings.HasPrefix(n, "projects/"+project+"/") || strings.HasPrefix(n, "registry/"+project+"/") {
			out[n] = obj
		}
	}
	return out
}

// storedRoutes are the paths of the document the cloud stored with an API
// config of the stack's API, each with the backend addresses its
// operations are routed to (x-google-backend), sorted.
func storedRoutes(t *testing.T, objects map[string]map[string]any, project, config string) map[string][]string {
	t.Helper()
	obj := objects["projects/"+project+"/locations/global/apis/gatehouse/configs/"+config]
	docs, _ := obj["openapiDocuments"].([]any)
	if len(docs) != 1 {
		t.Fatalf("API config %s: want one stored document, have %v", config, obj)
	}
	enc, _ := docs[0].(map[string]any)["document"].(map[string]any)["contents"].(string)
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("API config %s: %v", config, err)
	}
	var doc struct {
		Backend map[string]any            `yaml:"x-google-backend"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("API config %s's document: %v", config, err)
	}
	// An operation's own x-google-backend, else the document's (the former
	// layout routed every operation with one top-level block).
	top, _ := doc.Backend["address"].(string)
	routes := map[string][]string{}
	for p, item := range doc.Paths {
		var addrs []string
		for method, op := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "options", "head", "patch"}, method) {
				continue // parameters, extensions
			}
			opMap, _ := op.(map[string]any)
			backend, _ := opMap["x-google-backend"].(map[string]any)
			a, _ := backend["address"].(string)
			if a == "" {
				a = top
			}
			if !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
		sort.Strings(addrs)
		routes[p] = addrs
	}
	return routes
}

// storedPaths are the paths of the document stored with an API config,
// sorted.
func storedPaths(t *testing.T, objects map[string]map[string]any, project, config string) []string {
	t.Helper()
	return slices.Sorted(maps.Keys(storedRoutes(t, objects, project, config)))
}

func hasPrefix(paths []string, prefix string) bool {
	return slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, prefix) })
}

// ---- the engine's result ----

// engineStepRe is a step's line in `pulumi up`'s output (the
// non-interactive display): its symbol, type, name and what is being done
// or was done. A component's step has only its "creating" or "deleting"
// line.
var engineStepRe = regexp.MustCompile(`(?m)^\s*(\+-|\+\+|--|\+|-|~)\s+(\S+)\s+(\S+)\s+(creat(?:ing|ed) replacement|delet(?:ing|ed) original|replac(?:ing|ed)|creat(?:ing|ed)|updat(?:ing|ed)|delet(?:ing|ed))\b`)

// engineOps are the steps the engine took, as "OP TYPE NAME" (OP create,
// update, delete or replace), sorted.
func engineOps(out string) []string {
	seen := map[string]bool{}
	var ops []string
	for _, m := range engineStepRe.FindAllStringSubmatch(out, -1) {
		op := "replace"
		if !strings.Contains(m[4], " ") && !strings.HasPrefix(m[4], "replac") {
			op = strings.TrimSuffix(strings.TrimSuffix(m[4], "ing"), "ed") + "e"
		}
		if s := op + " " + m[2] + " " + m[3]; m[2] != "pulumi:pulumi:Stack" && !seen[s] {
			seen[s] = true
			ops = append(ops, s)
		}
	}
	sort.Strings(ops)
	return ops
}

// upSteps runs `pulumi up` on s (step: what it is, in the scenario's part
// label) and returns the cloud's request log of the run, the steps the
// engine took (engineOps) and its change summary, checked against each
// other.
func upSteps(t *testing.T, s *stack, label, step string) ([]logEntry, []string, map[string]int) {
	t.Helper()
	from := s.e.seq(t) + 1
	out := s.mustUp(label + ": " + step)
	log := s.e.requests(t, s.project, from)
	checkRequests(t, log, s.project)
	summary := lastChanges(t, s)
	ops := engineOps(out)
	fmt.Printf("    %s: the engine's change summary %v; steps: %s\n", label, summary, strings.Join(ops, "; "))
	checkOps(t, ops, summary)
	return log, ops, summary
}

// checkOps: the steps read from the display add up to the engine's own
// change summary, so none was missed.
func checkOps(t *testing.T, ops []string, summary map[string]int) {
	t.Helper()
	count := map[string]int{}
	for _, op := range ops {
		kind, _, _ := strings.Cut(op, " ")
		count[kind]++
	}
	for _, kind := range []string{"create", "update", "delete", "replace"} {
		if count[kind] != summary[kind] {
			t.Errorf("%d steps %s in pulumi's output, %d in its change summary %v: %v", count[kind], kind, summary[kind], summary, ops)
		}
	}
}

// lastChanges is the engine's change summary of the stack's last update
// (`pulumi stack history`).
func lastChanges(t *testing.T, s *stack) map[string]int {
	t.Helper()
	out := s.mustRun("stack", "history", "--json", "--stack", s.name, "--show-secrets=false")
	var h []struct {
		Kind            string         `json:"kind"`
		Result          string         `json:"result"`
		ResourceChanges map[string]int `json:"resourceChanges"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil || len(h) == 0 {
		t.Fatalf("stack history: %v\n%s", err, out)
	}
	if h[0].Kind != "update" || h[0].Result != "succeeded" {
		t.Fatalf("the last update: %s %s", h[0].Kind, h[0].Result)
	}
	return h[0].ResourceChanges
}

// state is a `pulumi stack export` deployment's resources.
type state struct {
	Resources []stateResource
}

type stateResource struct {
	URN    string `json:"urn"`
	Type   string `json:"type"`
	ID     string `json:"id"`
	Custom bool   `json:"custom"`
}

func (r stateResource) name() string { return r.URN[strings.LastIndex(r.URN, "::")+2:] }

func exportState(t *testing.T, s *stack) *state {
	t.Helper()
	out := s.mustRun("stack", "export", "--stack", s.name)
	var d struct {
		Deployment struct {
			Resources []stateResource `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("stack export: %v", err)
	}
	return &state{Resources: d.Deployment.Resources}
}

func (st *state) byName(name string) *stateResource {
	for i, r := range st.Resources {
		if r.name() == name {
			return &st.Resources[i]
		}
	}
	return nil
}

func (st *state) byID(typ, id string) *stateResource {
	for i, r := range st.Resources {
		if r.Type == typ && r.ID == id {
			return &st.Resources[i]
		}
	}
	return nil
}

func (st *state) names() []string {
	var out []string
	for _, r := range st.Resources {
		out = append(out, r.name())
	}
	return out
}

// customType says whether a type as the engine displays it
// (gcp:cloudrunv2:Service) is a Google or Docker resource, not a component.
func customType(displayType string) bool {
	return strings.HasPrefix(displayType, "gcp:") || strings.HasPrefix(displayType, "docker:")
}
