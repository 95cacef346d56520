package image

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Set by `make image-test`, which starts Docker and creates the base-image
// stand-ins first (see local/image/docker.sh).
func imageEnv(t testing.TB) (platform, dockerfile, context string) {
	t.Helper()
	if os.Getenv("GATEHOUSE_IMAGE_TEST") != "1" {
		t.Skip("builds and runs the image with Docker: run `make image-test`")
	}
	platform, dockerfile, context = os.Getenv("IMAGE_PLATFORM"), os.Getenv("IMAGE_DOCKERFILE"), os.Getenv("IMAGE_CONTEXT")
	if platform == "" || dockerfile == "" || context == "" {
		t.Fatal("IMAGE_PLATFORM, IMAGE_DOCKERFILE and IMAGE_CONTEXT must be set (make image-test sets them)")
	}
	return platform, dockerfile, context
}

func docker(t testing.TB, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return strings.TrimSpace(out.String()), fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func mustDocker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := docker(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const tag = "gatehouse-hello:image-test"

// gatewayAccount is the gateway's service account the containers run with
// (GATEWAY_SERVICE_ACCOUNT); requests carry its invoker token.
const gatewayAccount = "gatehouse-gateway@demo-gatehouse.iam.gserviceaccount.com"

// invokerToken is the Authorization Cloud Run passes the container for a
// request email invoked: the verified ID token, its signature removed.
func invokerToken(email string) string {
	return "Bearer " + base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://accounts.google.com","email":"`+email+`"}`)) + "."
}

// buildImage builds the /v1 backend's image from the Dockerfile infra's
// docker.Image builds by default (the Makefile's IMAGE_DOCKERFILE, which
// infra's tests compare with theirs).
func buildImage(t testing.TB) {
	t.Helper()
	_, dockerfile, _ := imageEnv(t)
	if want := "service/cmd/hello/Dockerfile"; dockerfile != want {
		t.Fatalf("IMAGE_DOCKERFILE = %q, want %s (the /v1 backend's)", dockerfile, want)
	}
	if out, err := buildBackendImage(t, "hello", "./cmd/hello", tag); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// buildBackendImage builds service/cmd/NAME/Dockerfile with the build
// argument CMD=cmd (none when empty) for the platform infra's docker.Image
// uses. The context is packed here, as pulumi-docker packs it: only what
// the backend's own ignore file admits (ContextFiles). Docker's legacy
// builder, all this machine's Docker CLI has without buildx, would read
// the context's .dockerignore instead.
func buildBackendImage(t testing.TB, name, cmd, tag string) ([]byte, error) {
	t.Helper()
	_, _, context := imageEnv(t)
	dir := "../../" + context
	var args map[string]string
	if cmd != "" {
		args = map[string]string{"CMD": cmd}
	}
	return buildImageFrom(t, dir, dir+"/cmd/"+name+"/Dockerfile", args, tag)
}

// buildImageFrom builds dockerfile with contextDir as its context, packed
// as pulumi-docker packs it (only what the Dockerfile's own ignore file
// admits: ContextFiles), with the build arguments args, for the platform
// infra's docker.Image uses.
func buildImageFrom(t testing.TB, contextDir, dockerfile string, args map[string]string, tag string) ([]byte, error) {
	t.Helper()
	platform, _, _ := imageEnv(t)
	files, err := ContextFiles(contextDir, dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(contextDir, dockerfile)
	if err != nil || !filepath.IsLocal(rel) {
		t.Fatalf("%s is outside its build context %s: the image tests send the Dockerfile inside the context", dockerfile, contextDir)
	}
	var tarball bytes.Buffer
	if err := WriteContextTar(&tarball, contextDir, files); err != nil {
		t.Fatal(err)
	}
	cli, env := buildKit(t)
	argv := append(cli[1:], "--network", "host", "--platform", platform, "-f", filepath.ToSlash(rel), "-t", tag)
	for _, k := range slices.Sorted(maps.Keys(args)) {
		argv = append(argv, "--build-arg", k+"="+args[k])
	}
	build := exec.Command(cli[0], append(argv, "-")...)
	build.Env = append(os.Environ(), env...)
	build.Stdin = &tarball
	out, err := build.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("docker build of %s: %w", rel, err)
	}
	return out, nil
}

// buildKit is the command (and environment) that builds an image with
// BuildKit, as pulumi up does: pulumi-docker's docker.Image builds with
// BuildKit unless told otherwise (provider/image.go: defaultBuilder "2"),
// and the backends' Dockerfile needs it (RUN --mount). The Docker CLI builds
// with BuildKit through buildx from version 23 on (without buildx it falls
// back to the legacy builder); older CLIs have it built in with
// DOCKER_BUILDKIT=1. On a machine with no Docker engine (this project's CI
// machine has Docker's 28 CLI alone), local/image/docker.sh installs
// Debian 12's docker.io, whose /usr/bin/docker is such a CLI.
func buildKit(t testing.TB) (cli, env []string) {
	t.Helper()
	if exec.Command("docker", "buildx", "version").Run() == nil {
		return []string{"docker", "buildx", "build", "--load"}, nil
	}
	for _, c := range []string{"docker", "/usr/bin/docker"} {
		v, err := exec.Command(c, "version", "--format", "{{.Client.Version}}").Output()
		if err != nil {
			continue
		}
		major, _, _ := strings.Cut(strings.TrimSpace(string(v)), ".")
		if n, err := strconv.Atoi(major); err == nil && n < 23 {
			return []string{c, "build"}, []string{"DOCKER_BUILDKIT=1"}
		}
	}
	t.Fatal("no Docker CLI here builds with BuildKit: install the buildx plugin (docker-buildx), or Debian's docker.io (a CLI before 23 has BuildKit built in)")
	return nil, nil
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// runContainer starts the image and returns its id, port and the time from
// `docker run` to the first 200 on /healthz.
func runContainer(t testing.TB, within time.Duration) (string, int, time.Duration) {
	t.Helper()
	return runImage(t, tag, within)
}

func runImage(t testing.TB, tag string, within time.Duration) (string, int, time.Duration) {
	t.Helper()
	port := freePort(t)
	start := time.Now()
	id := mustDocker(t, "run", "-d", "--network", "host", "-e", "PORT="+strconv.Itoa(port), "-e", "GATEWAY_SERVICE_ACCOUNT="+gatewayAccount, tag)
	client := &http.Client{Timeout: 500 * time.Millisecond}
	for time.Since(start) < within {
		if res, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port)); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return id, port, time.Since(start)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	logs, _ := docker(t, "logs", id)
	_, _ = docker(t, "rm", "-f", id)
	t.Fatalf("container not healthy within %v; logs:\n%s", within, logs)
	return "", 0, 0
}

func TestImage(t *testing.T) {
	buildImage(t)
	id, port, ready := runContainer(t, 2*time.Second)
	t.Cleanup(func() { _, _ = docker(t, "rm", "-f", id) })

	// Runs as the distroless nonroot user, not root.
	pid := mustDocker(t, "inspect", "-f", "{{.State.Pid}}", id)
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Uid:") && strings.Fields(line)[1] != "65532" {
			t.Errorf("container process %s, want uid 65532", line)
		}
	}
	if user := mustDocker(t, "image", "inspect", "-f", "{{.Config.User}}", tag); user != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", user)
	}

	// No shell to exec into.
	if out, err := docker(t, "run", "--rm", "--network", "host", "--entrypoint", "/bin/sh", tag, "-c", "true"); err == nil {
		t.Errorf("the image has a shell: %s", out)
	}

	// Serves the API with a gateway identity.
	if code := getAs(t, port, "/v1/hello", gatewayAccount); code != http.StatusOK {
		t.Errorf("GET /v1/hello = %d, want 200", code)
	}
	// Another invoker (a project Editor's default compute account) with
	// the same forged identity: refused.
	if code := getAs(t, port, "/v1/hello", "123456789-compute@developer.gserviceaccount.com"); code != http.StatusForbidden {
		t.Errorf("GET /v1/hello invoked by another account = %d, want 403", code)
	}

	// docker stop sends SIGTERM: a clean exit 0, well before the 10 s kill.
	stopStart := time.Now()
	mustDocker(t, "stop", "-t", "10", id)
	if took := time.Since(stopStart); took > 9*time.Second {
		t.Errorf("docker stop took %v", took)
	}
	if code := mustDocker(t, "inspect", "-f", "{{.State.ExitCode}}", id); code != "0" {
		t.Errorf("exit code after docker stop = %s, want 0", code)
	}

	size, _ := strconv.ParseFloat(mustDocker(t, "image", "inspect", "-f", "{{.Size}}", tag), 64)
	fmt.Printf("image: %s %.1f MB (target <= 20 MB), docker run to first 200 in %v (target <= 1s)\n", tag, size/1e6, ready.Round(time.Millisecond))
}

// getAs sends GET path to the container on port as Cloud Run would after
// the gateway's call: invoked by invoker, with the gateway's identity header
// of a signed-in user; it returns the status.
func getAs(t testing.TB, port int, path, invoker string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	req.Header.Set("X-Apigateway-Api-Userinfo", base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","email":"ada@example.com"}`)))
	req.Header.Set("Authorization", invokerToken(invoker))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// BenchmarkImageStart measures the time from `docker run` to the first 200.
func BenchmarkImageStart(b *testing.B) {
	buildImage(b)
	var total time.Duration
	for b.Loop() {
		id, _, ready := runContainer(b, 5*time.Second)
		total += ready
		_, _ = docker(b, "rm", "-f", id)
	}
	size, _ := strconv.ParseFloat(mustDocker(b, "image", "inspect", "-f", "{{.Size}}", tag), 64)
	mean := total / time.Duration(b.N)
	b.ReportMetric(float64(mean.Milliseconds()), "ms-run-to-first-200")
	b.ReportMetric(size/1e6, "image-MB")
	fmt.Printf("image: %.1f MB (target <= 20 MB), docker run to first 200: mean %v over %d runs (target <= 1s)\n", size/1e6, mean.Round(time.Millisecond), b.N)
}

// TestNotesImage builds the second backend's image (its copy of the
// Dockerfile, its own ignore file) and shows it serving its API as the
// nonroot user.
func TestNotesImage(t *testing.T) {
	const notesTag = "gatehouse-notes:image-test"
	if out, err := buildBackendImage(t, "notes", "./cmd/notes", notesTag); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	id, port, _ := runImage(t, notesTag, 2*time.Second)
	t.Cleanup(func() { _, _ = docker(t, "rm", "-f", id) })
	if user := mustDocker(t, "image", "inspect", "-f", "{{.Config.User}}", notesTag); user != "65532:65532" {
		t.Errorf("image user = %q, want 65532:65532", user)
	}
	identity := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","email":"ada@example.com"}`))
	for _, c := range []struct {
		method, body string
		want         int
	}{{"POST", `{"text":"from the image"}`, 201}, {"GET", "", 200}} {
		req, _ := http.NewRequest(c.method, fmt.Sprintf("http://127.0.0.1:%d/v2/notes", port), strings.NewReader(c.body))
		req.Header.Set("X-Apigateway-Api-Userinfo", identity)
		req.Header.Set("Authorization", invokerToken(gatewayAccount))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("%s /v2/notes = %d, want %d", c.method, res.StatusCode, c.want)
		}
	}
	// It is not the /v1 backend.
	if res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/hello", port)); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("notes image serves /v1/hello: %d", res.StatusCode)
		}
	}
}

// TestImageNeedsCMD: the shared Dockerfile has no default backend, so a
// build without CMD stops with a message naming it rather than building
// whichever backend a default named.
func TestImageNeedsCMD(t *testing.T) {
	out, err := buildBackendImage(t, "notes", "", "gatehouse-nocmd:image-test")
	if err == nil {
		t.Fatalf("a build without CMD succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "build argument CMD is required") {
		t.Errorf("a build without CMD failed without naming it:\n%s", out)
	}
}
