// Package lifecycle runs gatehouse's deploy scenarios (issue #23, a-g) with
// the real Pulumi engine and the real gcp and docker providers against the
// local Google Cloud (local/cmd/cloud), offline. The cloud runs as a
// process, as a user runs it with `make cloud`; the programs reach it only
// through the provider's custom endpoints. Nothing here imports the local
// module or infra's Go packages: the scenarios drive stack files and the
// pulumi CLI, as a user does.
//
// Run with `make cloud-test` (inside make test), `make cloud-ci-test`
// (scenarios e and f alone) and `make cloud-upgrade-test` (the upgrade
// scenario, with its retiring of /v1, alone). Every scenario asserts on the
// engine's result and on the cloud's request log.
package lifecycle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// env is what every scenario shares: one cloud process, one compiled
// program per Pulumi project, one Docker daemon (the caller's DOCKER_HOST).
type env struct {
	root      string // the checkout
	dir       string // scratch: binaries, the cloud's state
	cloud     *exec.Cmd
	base      string // http://127.0.0.1:PORT
	registry  string // 127.0.0.1:PORT
	cloudEnv  []string
	stackBin  string // the main program, compiled once
	bootBin   string // infra/bootstrap, compiled once
	cliBin    string // the gatehouse CLI
	compile   time.Duration
	setupErr  error
	pulumiBin string
}

var (
	shared     env
	sharedOnce sync.Once
)

// needLifecycle fails under CI and skips loudly elsewhere when the engine
// or Docker is missing; it skips outside `make cloud-test`.
func needLifecycle(t testing.TB) *env {
	t.Helper()
	if os.Getenv("GATEHOUSE_LIFECYCLE_TEST") != "1" {
		t.Skip("runs the real Pulumi engine against the local Google Cloud: `make cloud-test` (part of make test)")
	}
	missing := ""
	if _, err := exec.LookPath("pulumi"); err != nil {
		missing = "the Pulumi CLI"
	} else if os.Getenv("DOCKER_HOST") == "" {
		missing = "a Docker daemon (DOCKER_HOST; run through local/image/docker.sh run)"
	}
	if missing != "" {
		msg := "MISSING " + missing + ": the lifecycle scenarios cannot run"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	sharedOnce.Do(func() { shared.setupErr = shared.setup() })
	if shared.setupErr != nil {
		t.Fatalf("setup: %v", shared.setupErr)
	}
	return &shared
}

func (e *env) setup() error {
	root, err := filepath.Abs("../..")
	if err != nil {
		return err
	}
	e.root = root
	e.dir, err = os.MkdirTemp("", "gatehouse-lifecycle-")
	if err != nil {
		return err
	}
	e.pulumiBin, _ = exec.LookPath("pulumi")
	start := time.Now()
	// The programs, compiled once (the language host would compile each
	// run's copy again: minutes on this machine). Pulumi runs a prebuilt Go
	// program with runtime.options.binary.
	builds := []struct{ dir, out, pkg string }{
		{"local", filepath.Join(e.dir, "cloud"), "./cmd/cloud"},
		{"infra", filepath.Join(e.dir, "stack"), "."},
		{"infra", filepath.Join(e.dir, "bootstrap"), "./bootstrap"},
		{"client", filepath.Join(e.dir, "gatehouse"), "./cmd/gatehouse"},
	}
	errs := make(chan error, len(builds))
	for _, b := range builds {
		go func() {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Dir = filepath.Join(root, b.dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("go build %s %s: %v\n%s", b.dir, b.pkg, err, out)
				return
			}
			errs <- nil
		}()
	}
	for range builds {
		if err := <-errs; err != nil {
			return err
		}
	}
	e.compile = time.Since(start)
	e.stackBin, e.bootBin, e.cliBin = filepath.Join(e.dir, "stack"), filepath.Join(e.dir, "bootstrap"), filepath.Join(e.dir, "gatehouse")

	envFile := filepath.Join(e.dir, "cloud.env")
	e.cloud = exec.Command(filepath.Join(e.dir, "cloud"), "--port", "0", "--state", filepath.Join(e.dir, "cloud-state"), "--env", envFile)
	e.cloud.Stdout, e.cloud.Stderr = io.Discard, os.Stderr
	if err := e.cloud.Start(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		b, err := os.ReadFile(envFile)
		if err == nil && len(b) > 0 {
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				kv := strings.TrimPrefix(line, "export ")
				if strings.HasPrefix(kv, "GOOGLE_OAUTH_ACCESS_TOKEN=") {
					continue // each run names its principal
				}
				e.cloudEnv = append(e.cloudEnv, kv)
				if m := regexp.MustCompile(`=http://(127\.0\.0\.1:[0-9]+)/`).FindStringSubmatch(kv); m != nil {
					e.registry, e.base = m[1], "http://"+m[1]
				}
			}
			break
		}
		if i > 200 {
			return fmt.Errorf("the local cloud wrote no environment to %s", envFile)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// TestMain stops the cloud after the scenarios; called by a stand-in's
// name, it is that stand-in (readme_test.go).
func TestMain(m *testing.M) {
	if standIn() { // this binary, called as gcloud, gh, git or pulumi by a README step
		os.Exit(0)
	}
	code := m.Run()
	if shared.cloud != nil && shared.cloud.Process != nil {
		_ = shared.cloud.Process.Kill()
		_ = shared.cloud.Wait()
	}
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// ---- the cloud ----

// logEntry is one line of the cloud's request log.
type logEntry struct {
	Seq          int      `json:"seq"`
	Principal    string   `json:"principal"`
	Method       string   `json:"method"`
	Path         string   `json:"path"`
	MethodID     string   `json:"methodId"`
	Resource     string   `json:"resource"`
	Code         int      `json:"code"`
	Status       string   `json:"status"`
	Message      string   `json:"message"`
	QuotaProject string   `json:"quotaProject"`
	Micros       int64    `json:"micros"`
	Permissions  []string `json:"permissions"`
}

func (e *env) call(t testing.TB, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.base+path, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// project makes a fresh project for one scenario.
func (e *env) project(t testing.TB, id string, propagation time.Duration) {
	t.Helper()
	e.call(t, http.MethodPost, "/_cloud/projects", map[string]string{"id": id, "propagationDelay": propagation.String()}, nil)
}

// token mints a signed-in principal's access token.
func (e *env) token(t testing.TB, principal string) string {
	t.Helper()
	var out struct{ Token string }
	e.call(t, http.MethodPost, "/_cloud/tokens", map[string]string{"principal": principal}, &out)
	return out.Token
}

// requests returns the project's requests logged from seq on.
func (e *env) requests(t testing.TB, project string, from int) []logEntry {
	t.Helper()
	var all []logEntry
	e.call(t, http.MethodGet, "/_cloud/requests?from="+strconv.Itoa(from), nil, &all)
	var out []logEntry
	// The project as a whole name: scenarios run side by side, and
	// "gatehouse-d" is a prefix of "gatehouse-deploy@gatehouse-e...".
	named := regexp.MustCompile(`[/@]` + regexp.QuoteMeta(project) + `([/:.?]|$)`)
	for _, r := range all {
		if project == "" || r.QuotaProject == project || named.MatchString(r.Path) || named.MatchString(r.Resource) {
			out = append(out, r)
		}
	}
	return out
}

// seq is the log's length now (the next scenario step reads from seq+1).
func (e *env) seq(t testing.TB) int {
	t.Helper()
	var all []logEntry
	e.call(t, http.MethodGet, "/_cloud/requests?from=1", nil, &all)
	return len(all)
}

// state reads the cloud's resources.
func (e *env) state(t testing.TB) map[string]map[string]any {
	t.Helper()
	var out struct {
		Objects map[string]map[string]any `json:"objects"`
	}
	e.call(t, http.MethodGet, "/_cloud/state", nil, &out)
	return out.Objects
}

// ---- stacks ----

// stack is one Pulumi project copy with a throw-away backend.
type stack struct {
	e        *env
	t        testing.TB
	dir      string // the project directory (the checkout's copy, or its infra/bootstrap)
	checkout string
	project  string
	name     string
	home     string
	token    string
	timings  []timing
}

// timing is one engine run, and where its time went.
type timing struct {
	What          string
	Wall, Docker  time.Duration
	Cloud         time.Duration
	CloudRequests int
}

// newCheckout copies the checkout (without .git and caches) and sets up
// both Pulumi programs, the main one and infra/bootstrap, to run from the
// shared binaries.
func (e *env) newCheckout(t testing.TB) string {
	t.Helper()
	dst := t.TempDir()
	cp := exec.Command("bash", "-c", `tar -C "$1" --exclude=./.git --exclude=./.cache --exclude=./bin --exclude='./client/web/node_modules' -c . | tar -C "$2" -x`, "cp", e.root, dst)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	for dir, bin := range map[string]string{dst: e.stackBin, filepath.Join(dst, "infra", "bootstrap"): e.bootBin} {
		runBinary(t, dir, bin)
	}
	return dst
}

// newHome is a Pulumi home with a throw-away backend, the plugins linked.
func newHome(t testing.TB) string {
	t.Helper()
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	if plugins := pluginsDir(); plugins != "" {
		if err := os.Symlink(plugins, filepath.Join(home, "plugins")); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// newStack copies the checkout and inits a stack of the main program (or
// of the bootstrap, with boot) as the owner, with the scenario's project.
func (e *env) newStack(t testing.TB, project string, boot bool, stackFile string, config map[string]string) *stack {
	t.Helper()
	return e.newStackIn(t, e.newCheckout(t), newHome(t), project, boot, stackFile, config)
}

// newStackIn inits a stack in a checkout made by newCheckout, with a Pulumi
// home of its own or shared with another stack of the checkout.
func (e *env) newStackIn(t testing.TB, dst, home, project string, boot bool, stackFile string, config map[string]string) *stack {
	t.Helper()
	s := &stack{e: e, t: t, checkout: dst, dir: dst, project: project, name: "dev", home: home}
	if boot {
		s.dir, s.name = filepath.Join(dst, "infra", "bootstrap"), "ci"
	}
	s.token = e.token(t, "user:owner@example.com")
	if stackFile != "" {
		src := filepath.Join(dst, stackFile)
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(s.dir, "Pulumi."+s.name+".yaml"), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.mustRun("stack", "init", s.name)
	cfg := map[string]string{"gcp:project": project, "gcp:region": "europe-west1"}
	if !boot {
		cfg["gatehouse:imageRegistry"] = e.registry
	}
	for k, v := range config {
		cfg[k] = v
	}
	s.config(cfg)
	return s
}

// runBinary makes the Pulumi project in dir run the compiled program bin
// (runtime.options.binary) instead of compiling its source again.
func runBinary(t testing.TB, dir, bin string) {
	t.Helper()
	yml := filepath.Join(dir, "Pulumi.yaml")
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	runtime := regexp.MustCompile(`(?m)^runtime: go$`)
	if !runtime.Match(b) {
		t.Fatalf("%s has no line `runtime: go`", yml)
	}
	b = runtime.ReplaceAll(b, []byte("runtime:\n  name: go\n  options:\n    binary: "+bin))
	if err := os.WriteFile(yml, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func pluginsDir() string {
	home := os.Getenv("PULUMI_HOME")
	if home == "" {
		h, _ := os.UserHomeDir()
		home = filepath.Join(h, ".pulumi")
	}
	if _, err := os.Stat(filepath.Join(home, "plugins")); err != nil {
		return ""
	}
	return filepath.Join(home, "plugins")
}

func (s *stack) config(kv map[string]string) {
	s.t.Helper()
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args := []string{"config", "set", "--stack", s.name}
		if strings.Contains(k, "[") {
			args = append(args, "--path")
		}
		s.mustRun(append(args, k, kv[k])...)
	}
}

// dockerConfig writes the Docker config a `docker login -u
// oauth2accesstoken` with the stack's token writes (auths, keyed by the
// registry host), in a folder of the run's own: pulumi-docker pushes with
// the host's Docker credentials (config.Load(config.Dir()): DOCKER_CONFIG),
// as a laptop after `gcloud auth configure-docker` and the deploy workflow
// after docker/login-action do. The stack's inputs hold no credential.
func (s *stack) dockerConfig() string {
	dir := filepath.Join(s.home, "docker-"+strconv.Itoa(len(s.token)%7)+"-"+fmt.Sprintf("%x", sha256.Sum256([]byte(s.token)))[:12])
	auth := base64.StdEncoding.EncodeToString([]byte("oauth2accesstoken:" + s.token))
	b, _ := json.Marshal(map[string]any{"auths": map[string]any{s.e.registry: map[string]string{"auth": auth}}})
	if err := os.MkdirAll(dir, 0o700); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600)
	}
	return dir
}

// environ is the environment of a pulumi run: a throw-away backend and
// home, the cloud's endpoints, the principal's token (and Docker logged in
// with it), and every other outbound connection sent to a closed port.
func (s *stack) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PULUMI_") || strings.HasPrefix(k, "GOOGLE_") || k == "DOCKER_CONFIG" || strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			continue
		}
		out = append(out, kv)
	}
	out = append(out, s.e.cloudEnv...)
	return append(out,
		"PULUMI_HOME="+s.home, "PULUMI_BACKEND_URL=file://"+filepath.Join(s.home, "state"),
		"PULUMI_CONFIG_PASSPHRASE=lifecycle", "PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"GOOGLE_OAUTH_ACCESS_TOKEN="+s.token, "DOCKER_CONFIG="+s.dockerConfig(),
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "https_proxy=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost,::1", "no_proxy=127.0.0.1,localhost,::1", "GOPROXY=off",
	)
}

// run runs pulumi in the project; it returns everything printed.
func (s *stack) run(args ...string) (string, error) {
	cmd := exec.Command(s.e.pulumiBin, append([]string{"--non-interactive", "--color", "never"}, args...)...)
	cmd.Dir = s.dir
	cmd.Env = s.environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *stack) mustRun(args ...string) string {
	s.t.Helper()
	out, err := s.run(args...)
	if err != nil {
		s.t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

var dockerTimeRe = regexp.MustCompile(`docker:index:Image \S+ (?:created|updated|replaced|creating failed)\s*\((\d+)s\)`)

// up runs `pulumi up` and records where its time went.
func (s *stack) up(what string, extra ...string) (string, error) {
	from := s.e.seq(s.t) + 1
	start := time.Now()
	out, err := s.run(append([]string{"up", "--yes", "--skip-preview", "--stack", s.name}, extra...)...)
	s.record(what, time.Since(start), out, from)
	return out, err
}

func (s *stack) record(what string, wall time.Duration, out string, from int) {
	tm := timing{What: what, Wall: wall}
	for _, m := range dockerTimeRe.FindAllStringSubmatch(out, -1) {
		if n, _ := strconv.Atoi(m[1]); time.Duration(n)*time.Second > tm.Docker {
			tm.Docker = time.Duration(n) * time.Second
		}
	}
	all := s.e.requests(s.t, s.project, from)
	for _, r := range all {
		tm.Cloud += time.Duration(r.Micros) * time.Microsecond
		tm.CloudRequests++
	}
	s.timings = append(s.timings, tm)
	if os.Getenv("GATEHOUSE_LIFECYCLE_SLOW") == "1" {
		sort.Slice(all, func(i, j int) bool { return all[i].Micros > all[j].Micros })
		for _, r := range all[:min(3, len(all))] {
			fmt.Printf("      slowest in the cloud: %s %s %.0fms\n", r.Method, r.MethodID, float64(r.Micros)/1000)
		}
	}
	fmt.Printf("    %-44s %6.1fs  (docker build+push %5.1fs, the cloud %5.2fs over %d requests, engine and provider incl. their fixed waits %5.1fs)\n",
		what, wall.Seconds(), tm.Docker.Seconds(), tm.Cloud.Seconds(), tm.CloudRequests, (wall - tm.Docker - tm.Cloud).Seconds())
}

func (s *stack) mustUp(what string, extra ...string) string {
	s.t.Helper()
	out, err := s.up(what, extra...)
	if err != nil {
		s.t.Fatalf("%s: pulumi up failed: %v\n%s", what, err, tail(out, 60))
	}
	return out
}

// outputs reads `pulumi stack output --json`.
func (s *stack) outputs() map[string]any {
	s.t.Helper()
	out := s.mustRun("stack", "output", "--json", "--stack", s.name, "--show-secrets")
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		s.t.Fatalf("stack output: %v\n%s", err, out)
	}
	return m
}

// previewSteps runs `pulumi preview --json` and returns the steps that are
// not "same", by op and URN name.
func (s *stack) previewSteps() map[string]string {
	s.t.Helper()
	out, err := s.run("preview", "--json", "--stack", s.name)
	if err != nil {
		s.t.Fatalf("preview: %v\n%s", err, tail(out, 40))
	}
	var p struct {
		Steps []struct {
			Op  string `json:"op"`
			URN string `json:"urn"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		s.t.Fatalf("preview json: %v\n%s", err, tail(out, 40))
	}
	steps := map[string]string{}
	for _, st := range p.Steps {
		if st.Op == "same" {
			continue
		}
		steps[st.URN[strings.LastIndex(st.URN, "::")+2:]] = st.Op
	}
	return steps
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "@ ") && !strings.Contains(l, "digest: sha256") && !strings.Contains(l, "Pushing [") && !strings.Contains(l, "Retrying in") {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

// mutations are the log's state-changing calls (no GET, no getIamPolicy).
func mutations(log []logEntry) []logEntry {
	var out []logEntry
	for _, r := range log {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasSuffix(r.MethodID, "getIamPolicy") {
			continue
		}
		out = append(out, r)
	}
	return out
}

// firstSeq is the seq of the first logged call with methodID (and a
// path containing part), or 0.
func firstSeq(log []logEntry, methodID, part string, code int) int {
	for _, r := range log {
		if r.MethodID == methodID && strings.Contains(r.Path, part) && r.Code == code {
			return r.Seq
		}
	}
	return 0
}

func readme(t testing.TB, e *env) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lines is a scanner over output, for assertions on single lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
