package scaffold

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/stack"
)

// copyCheckout copies the checkout to a temp dir and returns it.
func copyCheckout(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	root, err := testenv.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := testenv.CopyCheckout(root, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// goIn runs go with args in dir of the copy; it fails the test with the output.
func goIn(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

// TestNewBackend runs the scaffold into a copy of the checkout and shows
// the result is a backend the repository accepts everywhere: the service
// module builds (on its own too, as Pulumi's Go host builds), the new
// backend's own test passes, the drift test passes with the new entry, its
// ignore file admits exactly what its command needs, and the stack renders
// with the new operation routed to its own backend. The stack file it
// names is made from Pulumi.v2.yaml; a second backend goes into the same
// file and the same drift table.
func TestNewBackend(t *testing.T) {
	root := copyCheckout(t)
	written, err := Write(Options{Root: root, Name: "greet", Prefix: "/v3/", StackFile: "Pulumi.greet.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Pulumi.greet.yaml", "local/drift/routes_test.go", "service/cmd/greet/Dockerfile", "service/cmd/greet/Dockerfile.dockerignore",
		"service/cmd/greet/main.go", "service/greet/greet.go", "service/greet/greet_test.go", "service/greet/openapi.yaml"}
	if strings.Join(written, " ") != strings.Join(want, " ") {
		t.Errorf("wrote %v, want %v", written, want)
	}
	src, err := os.ReadFile(filepath.Join(root, "service/greet/greet.go"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), "\n"); n > 60 {
		t.Errorf("the scaffolded backend has %d lines: it should be a minimal one", n)
	}
	cfg, err := stack.LoadFile(filepath.Join(root, "Pulumi.greet.yaml"), root)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.BackendNames(), " "); got != "v1 notes greet" {
		t.Errorf("Pulumi.greet.yaml backends = %s, want Pulumi.v2.yaml's and greet", got)
	}

	// A second backend joins the same stack file (and the drift table that
	// has greet's line already).
	if _, err := Write(Options{Root: root, Name: "shop", Prefix: "/shop/v1/", StackFile: "Pulumi.greet.yaml"}); err != nil {
		t.Fatal(err)
	}
	if cfg, err = stack.LoadFile(filepath.Join(root, "Pulumi.greet.yaml"), root); err != nil || strings.Join(cfg.BackendNames(), " ") != "v1 notes greet shop" {
		t.Errorf("after a second backend: %v, %v", cfg.BackendNames(), err)
	}

	service, local := filepath.Join(root, "service"), filepath.Join(root, "local")
	goIn(t, service, nil, "build", "./...")
	goIn(t, service, []string{"GOWORK=off"}, "vet", "./...")
	goIn(t, service, nil, "test", "-count=1", "./greet/", "./shop/")
	out := goIn(t, local, nil, "test", "-count=1", "-v", "-run", "TestSpecMatchesServiceRoutes", "./drift/")
	for _, w := range []string{"--- PASS: TestSpecMatchesServiceRoutes/Pulumi.greet.yaml/greet", "--- PASS: TestSpecMatchesServiceRoutes/Pulumi.greet.yaml/shop"} {
		if !strings.Contains(out, w) {
			t.Errorf("the drift test did not check %q:\n%s", w, out)
		}
	}
	out = goIn(t, local, nil, "test", "-count=1", "-v", "-run", "TestIgnoreFilesAdmitExactlyTheDeps/(greet|shop)", "./image/")
	for _, w := range []string{"--- PASS: TestIgnoreFilesAdmitExactlyTheDeps/greet", "--- PASS: TestIgnoreFilesAdmitExactlyTheDeps/shop"} {
		if !strings.Contains(out, w) {
			t.Errorf("the ignore-file check did not pass %q:\n%s", w, out)
		}
	}
	doc := goIn(t, root, nil, "run", "./stack/cmd/render", "--stack-file", "Pulumi.greet.yaml", "--backend-url", "greet=https://gatehouse-greet-abc-ew.a.run.app")
	for _, w := range []string{"/v3/greet:", "address: https://gatehouse-greet-abc-ew.a.run.app", "/shop/v1/shop:", "/v2/notes:", "/v1/hello:"} {
		if !strings.Contains(doc, w) {
			t.Errorf("the rendered document lacks %q:\n%s", w, doc)
		}
	}
}

// TestNewBackendIntoAStackWithoutBackends: a stack file that sets no
// gatehouse:backends (the default list, /v1 only) gets /v1's entry first,
// so adding a backend does not retire /v1; its other settings and
// comments are kept.
func TestNewBackendIntoAStackWithoutBackends(t *testing.T) {
	root := copyCheckout(t)
	file := "Pulumi.mine.yaml"
	const own = "# my stack\nconfig:\n  gcp:project: my-project-1 # mine\n  gcp:region: europe-west1\n  gatehouse:maxInstances: \"4\"\n"
	if err := os.WriteFile(filepath.Join(root, file), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(Options{Root: root, Name: "greet", Prefix: "/v3/", StackFile: file}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(root, file))
	cfg, err := stack.LoadFile(filepath.Join(root, file), root)
	if err != nil || strings.Join(cfg.BackendNames(), " ") != "v1 greet" || cfg.Defaults.MaxInstances != 4 || !strings.Contains(string(b), "# my stack") || !strings.Contains(string(b), "# mine") {
		t.Errorf("%s:\n%s\nbackends %v, %v", file, b, cfg.BackendNames(), err)
	}
}

// TestNewBackendRefuses: bad input fails before anything is written, naming
// what is wrong, and the checkout is left as it was.
func TestNewBackendRefuses(t *testing.T) {
	root := copyCheckout(t)
	// A stack file the stack refuses (its cpu): the entry is written, the
	// check after it fails, and everything is taken back.
	if err := os.WriteFile(filepath.Join(root, "Pulumi.bad.yaml"), []byte("config:\n  gcp:project: my-project-1\n  gcp:region: europe-west1\n  gatehouse:cpu: \"3\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Name: "Greet", Prefix: "/v3/", StackFile: "Pulumi.x.yaml"}, `NAME "Greet" must be`},
		{Options{Name: "my-api", Prefix: "/v3/", StackFile: "Pulumi.x.yaml"}, `NAME "my-api" must be`},
		{Options{Name: "func", Prefix: "/v3/", StackFile: "Pulumi.x.yaml"}, "not a Go keyword"},
		{Options{Name: "greet", Prefix: "v3", StackFile: "Pulumi.x.yaml"}, `PREFIX "v3" must be a path prefix`},
		{Options{Name: "greet", Prefix: "/v3/", StackFile: "../Pulumi.x.yaml"}, "must be a Pulumi.<stack>.yaml at the checkout's root"},
		{Options{Name: "notes", Prefix: "/v9/", StackFile: "Pulumi.x.yaml"}, "service/notes exists already"},
		{Options{Name: "greet", Prefix: "/v3/", StackFile: "Pulumi.bad.yaml"}, `gatehouse:cpu: "3"`},
		{Options{Name: "v1", Prefix: "/v3/", StackFile: "Pulumi.v2.yaml"}, "Pulumi.v2.yaml has a backend named v1 already"},
	} {
		tt.o.Root = root
		_, err := Write(tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", tt.o, err, tt.want)
		}
		if after := snapshot(t, root); after != before {
			t.Errorf("%+v changed the checkout", tt.o)
		}
	}
}

// snapshot lists the checkout's files with their sizes and contents' hash.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c", `cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum`, "snap", root).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
