package image

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/scaffold"
	"github.com/gatehouse/gatehouse/stack"
)

// repoRoot is the checkout, relative to this package.
const repoRoot = "../.."

// TestStackImages builds the image of every backend of the stack files
// `make image-test` names (IMAGE_STACK_FILES: Pulumi.$(STACK).yaml; both
// example stacks under `make test`) exactly as `pulumi up` will (each
// entry's context, Dockerfile and build arguments, packed through the
// Dockerfile's own ignore file), and runs each to a 200 on /healthz. A
// wrong ignore file, which `make local` and `make plan` never notice since
// they build no image, fails here, offline.
func TestStackImages(t *testing.T) {
	imageEnv(t)
	files := strings.Fields(os.Getenv("IMAGE_STACK_FILES"))
	if len(files) == 0 {
		t.Fatal("IMAGE_STACK_FILES must name the stack files whose images to build (make image-test sets it from STACK)")
	}
	built := map[string]string{} // one build per context, Dockerfile and arguments
	for _, file := range files {
		cfg, err := stack.LoadFile(filepath.Join(repoRoot, file), repoRoot)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range cfg.Backends {
			if b.Build == nil {
				t.Logf("%s: backend %s runs an existing image (%s): nothing to build", file, b.Name, b.Image)
				continue
			}
			key := fmt.Sprint(b.Build.Context, b.Build.Dockerfile, b.Build.Args)
			if prev, ok := built[key]; ok {
				t.Logf("%s: backend %s is built as %s was", file, b.Name, prev)
				continue
			}
			built[key] = file + "/" + b.Name
			t.Run(strings.TrimSuffix(file, ".yaml")+"/"+b.Name, func(t *testing.T) {
				tag := "gatehouse-stack-" + b.Name + ":image-test"
				if out, err := buildImageFrom(t, b.Build.Context, b.Build.Dockerfile, b.Build.Args, tag); err != nil {
					t.Fatalf("backend %s of %s: %v\n%s", b.Name, file, err, out)
				}
				id, _, ready := runImage(t, tag, 10*time.Second)
				_, _ = docker(t, "rm", "-f", id)
				fmt.Printf("%s: backend %s built from %s, healthy %v after docker run\n", file, b.Name, b.Build.Dockerfile, ready.Round(time.Millisecond))
			})
		}
	}
}

// TestScaffoldedImage: a backend `make new-backend` wrote builds into an
// image that serves its route; the same backend with the mistake a copied
// backend used to carry (an ignore file that admits notes/ instead of its
// own package) fails to build, offline, naming the package it lacks, as
// `pulumi up` would have failed.
func TestScaffoldedImage(t *testing.T) {
	imageEnv(t)
	wd, _ := os.Getwd()
	root, err := testenv.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	copyDir := t.TempDir()
	if err := testenv.CopyCheckout(root, copyDir); err != nil {
		t.Fatal(err)
	}
	if _, err := scaffold.Write(scaffold.Options{Root: copyDir, Name: "greet", Prefix: "/v3/", StackFile: "Pulumi.greet.yaml"}); err != nil {
		t.Fatal(err)
	}
	service := filepath.Join(copyDir, "service")
	dockerfile := filepath.Join(service, "cmd", "greet", "Dockerfile")
	const tag = "gatehouse-greet:image-test"
	if out, err := buildImageFrom(t, service, dockerfile, map[string]string{"CMD": "./cmd/greet"}, tag); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	id, port, _ := runImage(t, tag, 10*time.Second)
	t.Cleanup(func() { _, _ = docker(t, "rm", "-f", id) })
	if code := getAs(t, port, "/v3/greet", gatewayAccount); code != http.StatusOK {
		t.Errorf("GET /v3/greet on the scaffolded image = %d, want 200", code)
	}

	// The planted mistake: notes' packages in greet's context.
	ignore := dockerfile + ".dockerignore"
	b, err := os.ReadFile(ignore)
	if err != nil {
		t.Fatal(err)
	}
	wrong := strings.ReplaceAll(string(b), "\n!greet/\n", "\n!notes/\n")
	if wrong == string(b) {
		t.Fatal("could not plant the mistake: the ignore file has no !greet/")
	}
	if err := os.WriteFile(ignore, []byte(wrong), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := buildImageFrom(t, service, dockerfile, map[string]string{"CMD": "./cmd/greet"}, "gatehouse-greet-wrong:image-test")
	if err == nil {
		t.Fatalf("the image built with notes' ignore file:\n%s", out)
	}
	// It fails for the planted reason: Go finds no greet package, not a
	// base image or anything else that could fail a build.
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, line := range strings.Split(ansi.ReplaceAllString(string(out), ""), "\n") {
		if strings.Contains(line, "greet") && (strings.Contains(line, "cannot find") || strings.Contains(line, "no required module") || strings.Contains(line, "directory not found") || strings.Contains(line, "not in std")) {
			fmt.Printf("planted wrong ignore file: the build fails: %s\n", strings.TrimSpace(line))
			return
		}
	}
	t.Errorf("the failed build does not say Go found no greet package:\n%s", out)
}
