package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"gopkg.in/yaml.v3"
)

// workflow is the part of a GitHub Actions workflow file the tests read.
type workflow struct {
	Jobs map[string]struct {
		If          string            `yaml:"if"`
		Environment string            `yaml:"environment"`
		Env         map[string]string `yaml:"env"`
		Steps       []struct {
			ID   string            `yaml:"id"`
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
			Env  map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T, name string) (workflow, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", ".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var wf workflow
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	return wf, string(b)
}

// TestWorkflowsSetupGoReadsGoWork: every setup-go step takes its Go version
// from go.work, the workspace every module's go line follows.
func TestWorkflowsSetupGoReadsGoWork(t *testing.T) {
	for _, name := range []string{"test.yml", "preview.yml", "deploy.yml"} {
		wf, _ := readWorkflow(t, name)
		n := 0
		for job, j := range wf.Jobs {
			for _, st := range j.Steps {
				if strings.HasPrefix(st.Uses, "actions/setup-go@") {
					n++
					if st.With["go-version-file"] != "go.work" {
						t.Errorf("%s %s: setup-go reads %q, want go.work", name, job, st.With["go-version-file"])
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s has no setup-go step", name)
		}
	}
}

var secretRe = regexp.MustCompile(`secrets\.([A-Z_]+)`)

// deploySecretLeaks lists the jobs of a deploy workflow that read secrets
// outside the deploy environment.
func deploySecretLeaks(t *testing.T, raw string) []string {
	t.Helper()
	var wf workflow
	if err := yaml.Unmarshal([]byte(raw), &wf); err != nil {
		t.Fatal(err)
	}
	var out []string
	for name, j := range wf.Jobs {
		b, _ := yaml.Marshal(j)
		if secretRe.Match(b) && j.Environment != DefaultDeployEnvironment {
			out = append(out, "job "+name+" reads secrets outside the "+DefaultDeployEnvironment+" environment")
		}
	}
	return out
}

// previewLeaks lists what a preview workflow reads beyond the preview's
// own read-only credentials.
func previewLeaks(raw string) []string {
	var out []string
	for _, m := range secretRe.FindAllStringSubmatch(raw, -1) {
		if !strings.HasPrefix(m[1], "PULUMI_PREVIEW_") && m[1] != "GITHUB_TOKEN" {
			out = append(out, "reads secret "+m[1]+": previews get their own read-only credentials (PULUMI_PREVIEW_*)")
		}
	}
	if strings.Contains(raw, "GCP_DEPLOY_SERVICE_ACCOUNT") {
		out = append(out, "previews as the deployer")
	}
	return out
}

// TestDeploySecretsOnlyInProduction: the deploy workflow reads secrets only
// in a job of the production environment (environment secrets, which no
// pull-request job can read); the preview workflow reads only the
// preview's own, read-only credentials, and previews as the previewer.
// GitHub: "A workflow job that references an environment must follow any
// protection rules for the environment before running or accessing the
// environment's secrets"; "The job can access the environment's secrets
// only after the job is sent to a runner"
// (https://docs.github.com/en/actions/deployment/targeting-different-environments,
// https://docs.github.com/en/actions/concepts/workflows-and-actions/deployment-environments).
func TestDeploySecretsOnlyInProduction(t *testing.T) {
	_, raw := readWorkflow(t, "deploy.yml")
	if len(secretRe.FindAllString(raw, -1)) == 0 {
		t.Fatal("deploy.yml reads no secret")
	}
	for _, l := range deploySecretLeaks(t, raw) {
		t.Errorf("deploy.yml: %s", l)
	}
	_, praw := readWorkflow(t, "preview.yml")
	for _, l := range previewLeaks(praw) {
		t.Errorf("preview.yml: %s", l)
	}
	// The checks themselves: each finds a planted leak.
	noEnv := strings.Replace(raw, "environment: "+DefaultDeployEnvironment, "environment: staging", 1)
	if noEnv == raw || len(deploySecretLeaks(t, noEnv)) == 0 {
		t.Error("a deploy job outside production reading secrets is not found")
	}
	for name, planted := range map[string]string{
		"the deploy passphrase":  strings.Replace(praw, "secrets.PULUMI_PREVIEW_CONFIG_PASSPHRASE", "secrets.PULUMI_CONFIG_PASSPHRASE", 1),
		"the deployer's account": strings.Replace(praw, "vars.GCP_PREVIEW_SERVICE_ACCOUNT", "vars.GCP_DEPLOY_SERVICE_ACCOUNT", 1),
	} {
		if planted == praw || len(previewLeaks(planted)) == 0 {
			t.Errorf("a preview reading %s is not found", name)
		}
	}
}

// TestDeployPushesWithDockerLogin: the deploy job logs Docker in to the
// stack's registry with the deployer's short-lived token, which the
// program's image then pushes with (it holds no credential itself).
func TestDeployPushesWithDockerLogin(t *testing.T) {
	wf, _ := readWorkflow(t, "deploy.yml")
	j := wf.Jobs["deploy"]
	authID, login, up := "", -1, -1
	for i, st := range j.Steps {
		switch {
		case strings.HasPrefix(st.Uses, "google-github-actions/auth@"):
			authID = st.ID
			if st.With["token_format"] != "access_token" {
				t.Errorf("the auth step's token_format = %q, want access_token", st.With["token_format"])
			}
		case strings.HasPrefix(st.Uses, "docker/login-action@"):
			login = i
			if st.With["username"] != "oauth2accesstoken" || st.With["password"] != "${{ steps."+authID+".outputs.access_token }}" ||
				!strings.Contains(st.With["registry"], "steps.registry.outputs.host") {
				t.Errorf("docker login with %v", st.With)
			}
		case strings.HasPrefix(st.Uses, "pulumi/actions@") && st.With["command"] == "up":
			up = i
		}
	}
	if authID == "" || login < 0 || up < login {
		t.Errorf("auth %q, docker login at step %d, pulumi up at step %d: want auth, then login, then up", authID, login, up)
	}
}

// expr evaluates the GitHub Actions expressions the workflows' job
// conditions use: ==, !=, &&, || over context paths and string literals.
func expr(t *testing.T, s string, ctx map[string]string) bool {
	t.Helper()
	for _, or := range strings.Split(s, "||") {
		all := true
		for _, and := range strings.Split(or, "&&") {
			op := "=="
			if strings.Contains(and, "!=") {
				op = "!="
			}
			l, r, ok := strings.Cut(and, op)
			if !ok {
				t.Fatalf("cannot evaluate %q", and)
			}
			val := func(v string) string {
				v = strings.TrimSpace(v)
				if strings.HasPrefix(v, "'") {
					return strings.Trim(v, "'")
				}
				x, ok := ctx[v]
				if !ok {
					t.Fatalf("unknown context %q", v)
				}
				return x
			}
			if (val(l) == val(r)) != (op == "==") {
				all = false
			}
		}
		if all {
			return true
		}
	}
	return false
}

// TestForkAndDependabotSkipThePreviewVisibly: pull requests from forks and
// from Dependabot skip the cloud preview (they get no secrets and no OIDC
// token, so it would fail red), and then, and only then, a job says why.
func TestForkAndDependabotSkipThePreviewVisibly(t *testing.T) {
	wf, _ := readWorkflow(t, "preview.yml")
	preview, notice := wf.Jobs["preview"], wf.Jobs["no-preview"]
	if preview.If == "" || notice.If == "" || !strings.Contains(notice.Steps[0].Run, "::notice") {
		t.Fatalf("preview if %q, no-preview if %q", preview.If, notice.If)
	}
	for _, tt := range []struct {
		name, head, actor string
		preview           bool
	}{
		{"a branch of the repository", "octo/app", "ada", true},
		{"a fork", "mallory/app", "mallory", false},
		{"Dependabot", "octo/app", "dependabot[bot]", false},
		{"Dependabot on a fork", "mallory/app", "dependabot[bot]", false},
	} {
		ctx := map[string]string{"github.event.pull_request.head.repo.full_name": tt.head, "github.repository": "octo/app", "github.actor": tt.actor}
		p, n := expr(t, preview.If, ctx), expr(t, notice.If, ctx)
		if p != tt.preview || n == p {
			t.Errorf("%s: preview runs %v (want %v), the notice %v", tt.name, p, tt.preview, n)
		}
	}
}

// TestMain: called as curl by the smoke test's script, this binary prints
// the status code of a GET of its last argument (what `curl -s -o /dev/null
// -w '%{http_code}' URL` prints), or 000 when it cannot connect.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "curl" {
		code := "000"
		if resp, err := http.Get(os.Args[len(os.Args)-1]); err == nil {
			code = strconv.Itoa(resp.StatusCode)
			resp.Body.Close()
		}
		os.Stdout.WriteString(code)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestDeploySmokeTestRetries runs the deploy job's smoke test with bash
// against a gateway and a Cloud Run stand-in: a new gateway answers 404,
// then 503, for a while, and the test waits for 401 and 403; one that
// never settles fails at the deadline.
func TestDeploySmokeTestRetries(t *testing.T) {
	wf, _ := readWorkflow(t, "deploy.yml")
	script := ""
	for _, st := range wf.Jobs["deploy"].Steps {
		if strings.HasPrefix(st.Name, "Smoke test") {
			script = st.Run
		}
	}
	if script == "" {
		t.Fatal("deploy.yml has no smoke test step")
	}
	run := func(settleAfter int64, deadline string) (string, error) {
		var n atomic.Int64
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch i := n.Add(1); {
			case i <= settleAfter/2:
				w.WriteHeader(http.StatusNotFound)
			case i <= settleAfter:
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				w.WriteHeader(http.StatusUnauthorized)
			}
		}))
		defer gw.Close()
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
		defer be.Close()
		bin := t.TempDir()
		stub := "#!/bin/sh\ncase \"$3\" in gatewayUrl) echo " + gw.URL + ";; backendUrl) echo " + be.URL + ";; esac\n"
		if err := os.WriteFile(filepath.Join(bin, "pulumi"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		// curl is this test binary (TestMain), as the runner's curl answers
		// `curl -s -o /dev/null -w '%{http_code}' URL`.
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(self, filepath.Join(bin, "curl")); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-e", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STACK=dev", "SMOKE_INTERVAL=0.05", "SMOKE_DEADLINE="+deadline)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(6, "30"); err != nil {
		t.Errorf("a gateway that settles after 6 answers: %v\n%s", err, out)
	}
	if out, err := run(1<<40, "1"); err == nil || !strings.Contains(out, "want 401") {
		t.Errorf("a gateway that never settles: %v\n%s", err, out)
	}
}
