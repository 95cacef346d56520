package lifecycle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The README's CI steps are run as written, by bash, from the checkout's
// root, with the scenario's PROJECT, REGION and OWNER/REPO put in for the
// placeholders. Commands that reach past the local Google Cloud run as
// stand-ins: this test binary, linked under their names (standIn):
//
//   - gcloud: `auth login` and `auth application-default login` sign
//     nothing in (the run's credentials are the scenario principal's
//     token); `services enable A B --project P` enables them through the
//     cloud's Service Usage API (batchEnable), as the signed-in owner;
//   - gh: `api repos/OWNER/REPO --jq .id` prints the repository's id;
//     `variable set` and `secret set` record what they set;
//   - git: records what it was asked, changes nothing;
//   - pulumi: the real CLI, except that `login URL` is a no-op (the run's
//     backend is the scenario's throw-away one; the state bucket is not
//     served) and `up`/`destroy` answer the prompt with --yes.
//
// What the workflows then do is done by ciJob, from the workflow files.

// standIn runs this binary as a stand-in when it was called by one of
// those names; it reports whether it did.
func standIn() bool {
	name := filepath.Base(os.Args[0])
	record := func(line string) {
		f, err := os.OpenFile(os.Getenv("STANDIN_RECORD"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintln(f, line)
			f.Close()
		}
	}
	args := os.Args[1:]
	switch name {
	case "gcloud":
		record("gcloud " + strings.Join(args, " "))
		if len(args) >= 2 && args[0] == "services" && args[1] == "enable" {
			var svcs []string
			project := ""
			for i := 2; i < len(args); i++ {
				if args[i] == "--project" && i+1 < len(args) {
					project = args[i+1]
					i++
				} else if p, ok := strings.CutPrefix(args[i], "--project="); ok {
					project = p
				} else {
					svcs = append(svcs, args[i])
				}
			}
			body, _ := json.Marshal(map[string]any{"serviceIds": svcs})
			req, _ := http.NewRequest(http.MethodPost, os.Getenv("STANDIN_CLOUD")+"/serviceusage/v1/projects/"+project+"/services:batchEnable", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+os.Getenv("GOOGLE_OAUTH_ACCESS_TOKEN"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				fmt.Fprintln(os.Stderr, "gcloud (stand-in):", err)
				os.Exit(1)
			}
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				fmt.Fprintf(os.Stderr, "ERROR: (gcloud.services.enable) %s\n", raw)
				os.Exit(1)
			}
		}
	case "gh":
		record("gh " + strings.Join(args, " "))
		if len(args) >= 2 && args[0] == "api" {
			fmt.Println(os.Getenv("STANDIN_REPO_ID"))
		}
	case "git":
		record("git " + strings.Join(args, " "))
	case "pulumi":
		if len(args) > 0 && args[0] == "login" {
			record("pulumi " + strings.Join(args, " "))
			fmt.Println("Logged in (the scenario's backend stands in for " + strings.Join(args[1:], " ") + ")")
			break
		}
		if len(args) > 0 && (args[0] == "up" || args[0] == "destroy") {
			args = append(args, "--yes", "--skip-preview")
		}
		real := os.Getenv("STANDIN_PULUMI")
		if err := syscall.Exec(real, append([]string{real, "--non-interactive", "--color", "never"}, args...), os.Environ()); err != nil {
			fmt.Fprintln(os.Stderr, "pulumi (stand-in):", err)
			os.Exit(1)
		}
	default:
		return false
	}
	return true
}

// readmeBlock is the fenced sh block of the README's CI section that
// follows the text marker.
func readmeBlock(t testing.TB, e *env, marker string) string {
	t.Helper()
	r := readme(t, e)
	sec := r[strings.Index(r, "## CI/CD on GitHub"):]
	i := strings.Index(sec, marker)
	if i < 0 {
		t.Fatalf("the README's CI section has no %q", marker)
	}
	m := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(sec[i:])
	if m == nil {
		t.Fatalf("no sh block after %q", marker)
	}
	var lines []string
	for _, l := range strings.Split(m[1], "\n") {
		lines = append(lines, strings.TrimSpace(l))
	}
	return strings.Join(lines, "\n")
}

// readmeRun runs README blocks with bash in the stack's checkout, as the
// stack's principal, with the placeholders put in; it returns the output
// and what the stand-ins recorded.
func (s *stack) readmeRun(what string, repoID string, blocks ...string) (string, string, error) {
	s.t.Helper()
	bin := filepath.Join(s.home, "standin-bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		s.t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, n := range []string{"gcloud", "gh", "git", "pulumi"} {
		if _, err := os.Lstat(filepath.Join(bin, n)); err != nil {
			if err := os.Symlink(self, filepath.Join(bin, n)); err != nil {
				s.t.Fatal(err)
			}
		}
	}
	script := "set -euo pipefail\n" + strings.Join(blocks, "\n")
	script = strings.NewReplacer("OWNER/REPO", "octo-org/gatehouse", "PROJECT", s.project, "REGION", "europe-west1").Replace(script)
	record := filepath.Join(s.home, "standin-record")
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = s.checkout
	cmd.Env = append(s.environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STANDIN_RECORD="+record, "STANDIN_CLOUD="+s.e.base,
		"STANDIN_REPO_ID="+repoID, "STANDIN_PULUMI="+s.e.pulumiBin)
	from := s.e.seq(s.t) + 1
	start := time.Now()
	out, err := cmd.CombinedOutput()
	s.record(what, time.Since(start), string(out), from)
	rec, _ := os.ReadFile(record)
	return string(out), string(rec), err
}

// ghVariables are the variables `gh variable set` recorded.
func ghVariables(record string) map[string]string {
	vars := map[string]string{}
	for _, l := range lines(record) {
		f := strings.Fields(l)
		if len(f) >= 6 && f[0] == "gh" && f[1] == "variable" && f[2] == "set" && f[4] == "--body" {
			vars[f[3]] = f[5]
		}
	}
	return vars
}

// workflowAuth reads a workflow's google-github-actions/auth step: the
// repository variables its provider and service account come from.
func workflowAuth(t testing.TB, e *env, file string) (provider, account string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, ".github", "workflows", file))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	varRe := regexp.MustCompile(`^\$\{\{\s*vars\.([A-Z_]+)\s*\}\}$`)
	for _, j := range wf.Jobs {
		for _, st := range j.Steps {
			if strings.HasPrefix(st.Uses, "google-github-actions/auth@") {
				p, a := varRe.FindStringSubmatch(st.With["workload_identity_provider"]), varRe.FindStringSubmatch(st.With["service_account"])
				if p == nil || a == nil {
					t.Fatalf("%s: the auth step's inputs are not repository variables: %v", file, st.With)
				}
				return p[1], a[1]
			}
		}
	}
	t.Fatalf("%s has no google-github-actions/auth step", file)
	return "", ""
}

// githubJob returns what a GitHub Actions job with these claims gets, as
// google-github-actions/auth gets it: the job's OIDC token (audience: the
// provider's full name), exchanged at STS, then the service account's
// token from generateAccessToken. The error is the refusal, with the stage.
func (e *env) githubJob(t testing.TB, provider, account string, claims map[string]any) (string, error) {
	t.Helper()
	claims["aud"] = "https://iam.googleapis.com/" + provider
	var minted struct{ Token string }
	e.call(t, http.MethodPost, "/_cloud/github/token", map[string]any{"claims": claims}, &minted)
	post := func(path, bearer string, in any) (int, map[string]any) {
		b, _ := json.Marshal(in)
		req, _ := http.NewRequest(http.MethodPost, e.base+path, bytes.NewReader(b))
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	code, out := post("/sts/v1/token", "", map[string]string{"audience": "//iam.googleapis.com/" + provider,
		"grantType": "urn:ietf:params:oauth:grant-type:token-exchange", "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
		"scope": "https://www.googleapis.com/auth/cloud-platform", "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt", "subjectToken": minted.Token})
	if code != http.StatusOK {
		return "", fmt.Errorf("failed to generate Google Cloud federated token: %d %v", code, out)
	}
	code, out = post("/iamcredentials/v1/projects/-/serviceAccounts/"+account+":generateAccessToken", out["access_token"].(string),
		map[string]any{"scope": []string{"https://www.googleapis.com/auth/cloud-platform"}})
	if code != http.StatusOK {
		return "", fmt.Errorf("failed to generate Google Cloud access token for %s: %d %v", account, code, out)
	}
	return out["accessToken"].(string), nil
}

// repoClaims are the claims of a job of octo-org/gatehouse, a repository
// created after 2026-06-18 (immutable ids in its subject), with kv set or,
// with a nil value, removed.
func repoClaims(repoID string, kv ...any) map[string]any {
	c := map[string]any{"repository": "octo-org/gatehouse", "repository_id": repoID, "repository_owner": "octo-org", "repository_owner_id": "9001",
		"event_name": "push", "ref": "refs/heads/main", "environment": "production", "workflow": "deploy", "run_id": "16000000001", "run_attempt": "1",
		"sub": "repo:octo-org@9001/gatehouse@" + repoID + ":environment:production"}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}
