package image

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// serviceDir is the backends' build context (the service module).
const serviceDir = "../../service"

// backendCommands lists the backends: every service/cmd/<name> holding a
// Dockerfile.
func backendCommands(t *testing.T) []string {
	t.Helper()
	dockerfiles, err := filepath.Glob(filepath.Join(serviceDir, "cmd", "*", "Dockerfile"))
	if err != nil || len(dockerfiles) < 2 {
		t.Fatalf("backends' Dockerfiles: %v %v, want at least two", dockerfiles, err)
	}
	var names []string
	for _, d := range dockerfiles {
		names = append(names, filepath.Base(filepath.Dir(d)))
	}
	return names
}

// goPackage is what `go list -json` says of a package.
type goPackage struct {
	ImportPath, Dir                                   string
	GoFiles, CgoFiles, EmbedFiles, OtherFiles, SFiles []string
	Module                                            *struct{ Dir string }
}

// moduleDeps lists the packages of the service module that `go list -deps
// ./cmd/NAME` names: what building the command needs of the module.
func moduleDeps(t *testing.T, name string) []goPackage {
	t.Helper()
	abs, err := filepath.Abs(serviceDir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-json", "./cmd/"+name)
	cmd.Dir = serviceDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/%s: %v", name, err)
	}
	var pkgs []goPackage
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.Module != nil && p.Module.Dir == abs {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// contextProblems compares a build context's files with the packages the
// command needs: every file the build reads must be in the context, and
// the context must hold nothing else but go.mod and go.sum: no file of a
// package the command does not import (so its changes cannot rebuild this
// image), no test file.
func contextProblems(serviceAbs string, files []string, deps []goPackage) []string {
	var problems []string
	depDirs := map[string]string{} // slash path relative to the context -> import path
	for _, p := range deps {
		rel, err := filepath.Rel(serviceAbs, p.Dir)
		if err != nil {
			return []string{err.Error()}
		}
		rel = filepath.ToSlash(rel)
		depDirs[rel] = p.ImportPath
		for _, group := range [][]string{p.GoFiles, p.CgoFiles, p.EmbedFiles, p.OtherFiles, p.SFiles} {
			for _, f := range group {
				if need := path.Join(rel, f); !slices.Contains(files, need) {
					problems = append(problems, fmt.Sprintf("does not admit %s, which the build of %s needs", need, p.ImportPath))
				}
			}
		}
	}
	for _, need := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(files, need) {
			problems = append(problems, "does not admit "+need)
		}
	}
	for _, f := range files {
		switch dir := path.Dir(f); {
		case f == "go.mod" || f == "go.sum":
		case strings.HasSuffix(f, "_test.go"):
			problems = append(problems, "admits the test file "+f)
		case depDirs[dir] == "":
			problems = append(problems, "admits "+f+", outside every package the command needs")
		}
	}
	return problems
}

// TestIgnoreFilesAdmitExactlyTheDeps: each backend image's context is
// exactly what `go list -deps` says its command needs of the module (the
// kit and its own packages), so a change to another backend changes
// neither this image's context hash nor its image: pulumi-docker hashes
// the context it would send (provider.go, hashContext).
func TestIgnoreFilesAdmitExactlyTheDeps(t *testing.T) {
	abs, err := filepath.Abs(serviceDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range backendCommands(t) {
		t.Run(name, func(t *testing.T) {
			dockerfile := filepath.Join(abs, "cmd", name, "Dockerfile")
			ignore, _, err := IgnoreFile(abs, dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			if ignore != dockerfile+".dockerignore" {
				t.Fatalf("cmd/%s has no Dockerfile.dockerignore of its own (build would read %q)", name, ignore)
			}
			files, err := ContextFiles(abs, dockerfile)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range contextProblems(abs, files, moduleDeps(t, name)) {
				t.Errorf("cmd/%s/Dockerfile.dockerignore %s", name, p)
			}
			t.Logf("cmd/%s context: %d files: %v", name, len(files), files)
		})
	}
}

// TestContextCheckCatches plants each kind of mistake in the notes
// backend's ignore patterns and shows the check reports it.
func TestContextCheckCatches(t *testing.T) {
	abs, err := filepath.Abs(serviceDir)
	if err != nil {
		t.Fatal(err)
	}
	_, patterns, err := IgnoreFile(abs, filepath.Join(abs, "cmd", "notes", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	deps := moduleDeps(t, "notes")
	edit := func(old, new string) []string {
		out := slices.Clone(patterns)
		i := slices.Index(out, old)
		if i < 0 {
			t.Fatalf("notes' ignore file no longer has %q", old)
		}
		if new == "" {
			return slices.Delete(out, i, i+1)
		}
		out[i] = new
		return out
	}
	for _, tt := range []struct {
		name     string
		patterns []string
		want     string
	}{
		{"another backend's package admitted", append(slices.Clone(patterns), "!hello/"), "admits hello/hello.go, outside every package"},
		{"the kit's whole internal/ admitted", append(slices.Clone(patterns), "!internal/"), "admits internal/testproc/testproc.go, outside every package"},
		{"a needed package left out", edit("!internal/identity", ""), "does not admit internal/identity/identity.go"},
		{"an embedded file left out", append(slices.Clone(patterns), "notes/*.yaml"), "does not admit notes/openapi.yaml"},
		{"test files admitted", edit("**/*_test.go", ""), "admits the test file notes/notes_test.go"},
	} {
		files, err := contextFilesWith(abs, tt.patterns)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(contextProblems(abs, files, deps), "\n")
		if !strings.Contains(got, tt.want) {
			t.Errorf("%s: problems %q, want one containing %q", tt.name, got, tt.want)
		}
	}
	if files, err := contextFilesWith(abs, patterns); err != nil || len(contextProblems(abs, files, deps)) != 0 {
		t.Errorf("the real patterns: %v %v, want no problem", contextProblems(abs, files, deps), err)
	}
}

// TestContextTar: the tar the image tests send holds exactly ContextFiles.
func TestContextTar(t *testing.T) {
	abs, err := filepath.Abs(serviceDir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := ContextFiles(abs, filepath.Join(abs, "cmd", "hello", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteContextTar(&buf, abs, files); err != nil {
		t.Fatal(err)
	}
	var got []string
	for tr := tar.NewReader(&buf); ; {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s owned by %d:%d, want root as pulumi-docker sends it", hdr.Name, hdr.Uid, hdr.Gid)
		}
		got = append(got, hdr.Name)
	}
	if !slices.Equal(got, files) {
		t.Errorf("tar holds %v, want %v", got, files)
	}
	if _, err := os.Stat(filepath.Join(abs, ".dockerignore")); err == nil {
		t.Error("service/.dockerignore exists: builders without Dockerfile-specific ignore files would read it, and it would drift from the per-backend files")
	}
}
