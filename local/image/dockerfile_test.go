package image

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is the backends' Dockerfile (every service/cmd/<name> holds a
// copy of it), relative to this package.
const Dockerfile = "../../service/cmd/hello/Dockerfile"

// lintDockerfile enforces the image rules: multi-stage, base images from
// ARGs with pinned defaults (no "latest"), a non-root final user,
// vector-form ENTRYPOINT, and no secrets in ARG or ENV.
func lintDockerfile(src string) []string {
	var problems []string
	res, err := parser.Parse(strings.NewReader(src))
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return []string{"instructions: " + err.Error()}
	}
	if len(stages) < 2 {
		problems = append(problems, "not multi-stage: build and runtime must be separate stages")
	}
	args := map[string]string{}
	secretRe := regexp.MustCompile(`(?i)(secret|password|passwd|token|api_?key|credential|private_?key)`)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				args[kv.Key] = *kv.Value
			}
			if secretRe.MatchString(kv.Key) {
				problems = append(problems, "ARG "+kv.Key+" looks like a secret: pass secrets at run time, never at build time")
			}
		}
	}
	pinned := regexp.MustCompile(`^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)
	for i, st := range stages {
		base := st.BaseName
		if m := regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$`).FindStringSubmatch(base); m != nil {
			def, ok := args[m[1]]
			if !ok || def == "" {
				problems = append(problems, "stage "+st.Name+": FROM "+base+" has no ARG default")
				continue
			}
			base = def
		} else if isStageName(stages[:i], base) || base == "scratch" {
			continue
		} else {
			problems = append(problems, "stage "+st.Name+": FROM "+base+" is not an ARG with a pinned default")
		}
		if !pinned.MatchString(base) || !strings.ContainsAny(base, ":@") {
			problems = append(problems, "base image "+base+" is not pinned to a tag or digest")
		}
		if strings.HasSuffix(base, ":latest") {
			problems = append(problems, "base image "+base+" uses latest")
		}
		for _, cmd := range st.Commands {
			switch c := cmd.(type) {
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if secretRe.MatchString(kv.Key) {
						problems = append(problems, "ENV "+kv.Key+" looks like a secret")
					}
				}
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					if secretRe.MatchString(kv.Key) {
						problems = append(problems, "ARG "+kv.Key+" looks like a secret")
					}
				}
			}
		}
	}
	final := stages[len(stages)-1]
	user, entry := "", (*instructions.EntrypointCommand)(nil)
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = c
		}
	}
	switch u, _, _ := strings.Cut(user, ":"); u {
	case "":
		problems = append(problems, "final stage sets no USER: it would run as the base image's user")
	case "0", "root":
		problems = append(problems, "final stage runs as root")
	}
	if entry == nil {
		problems = append(problems, "final stage has no ENTRYPOINT")
	} else if entry.PrependShell {
		problems = append(problems, "ENTRYPOINT is in shell form: use the vector form [\"/service\"] so signals reach the process")
	}
	return problems
}

func isStageName(stages []instructions.Stage, name string) bool {
	for _, s := range stages {
		if strings.EqualFold(s.Name, name) {
			return true
		}
	}
	return false
}

func TestDockerfileLint(t *testing.T) {
	dockerfiles, err := filepath.Glob(filepath.Join(serviceDir, "cmd", "*", "Dockerfile"))
	if err != nil || len(dockerfiles) < 2 {
		t.Fatalf("backends' Dockerfiles: %v %v", dockerfiles, err)
	}
	for _, file := range dockerfiles {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range lintDockerfile(string(src)) {
			t.Errorf("%s: %s", file, p)
		}
	}
}

// differentCopies names the Dockerfiles whose content differs from the
// first one's.
func differentCopies(files []string, read func(string) ([]byte, error)) ([]string, error) {
	var first []byte
	var differ []string
	for i, f := range files {
		b, err := read(f)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			first = b
		} else if !bytes.Equal(b, first) {
			differ = append(differ, f)
		}
	}
	return differ, nil
}

// TestDockerfileCopiesIdentical: the backends share one Dockerfile source.
// Each cmd/<name> needs a Dockerfile of its own only because builders find
// the ignore file by the Dockerfile's path; a copy that drifted (a changed
// base image, a default CMD) would build one backend differently. The
// second half shows the check failing on a drifted copy.
func TestDockerfileCopiesIdentical(t *testing.T) {
	dockerfiles, err := filepath.Glob(filepath.Join(serviceDir, "cmd", "*", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	differ, err := differentCopies(dockerfiles, os.ReadFile)
	if err != nil || len(differ) > 0 {
		t.Errorf("Dockerfiles differ from %s: %v (%v); copy it over them", dockerfiles[0], differ, err)
	}
	drifted := func(f string) ([]byte, error) {
		b, err := os.ReadFile(f)
		if f == dockerfiles[len(dockerfiles)-1] {
			b = bytes.Replace(b, []byte("ARG CMD\n"), []byte("ARG CMD=./cmd/notes\n"), 1)
		}
		return b, err
	}
	if differ, _ := differentCopies(dockerfiles, drifted); !slices.Equal(differ, dockerfiles[len(dockerfiles)-1:]) {
		t.Errorf("a copy with a default CMD is reported as %v, want it named", differ)
	}
}

// TestDockerfileLintCatches shows each rule failing on a Dockerfile that
// breaks it.
func TestDockerfileLintCatches(t *testing.T) {
	good, err := os.ReadFile(Dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("Dockerfile no longer contains %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	tests := []struct {
		name, src, want string
	}{
		{"single stage", "ARG IMG=golang:1.26.8\nFROM ${IMG}\nUSER 65532\nENTRYPOINT [\"/x\"]\n", "not multi-stage"},
		{"latest tag", edit("gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12:latest"), "uses latest"},
		{"untagged", edit("gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12"), "not pinned"},
		{"literal FROM", edit("FROM ${RUNTIME_IMAGE}", "FROM alpine:3.20"), "not an ARG with a pinned default"},
		{"root user", edit("USER 65532:65532", "USER root"), "runs as root"},
		{"no user", edit("USER 65532:65532\n", ""), "sets no USER"},
		{"shell entrypoint", edit(`ENTRYPOINT ["/service"]`, "ENTRYPOINT /service"), "shell form"},
		{"no entrypoint", edit(`ENTRYPOINT ["/service"]`, `CMD ["/service"]`), "no ENTRYPOINT"},
		{"secret env", edit("ENV CGO_ENABLED=0", "ENV API_TOKEN=abc CGO_ENABLED=0"), "looks like a secret"},
		{"secret arg", "ARG DB_PASSWORD=x\n" + string(good), "looks like a secret"},
	}
	for _, tt := range tests {
		problems := strings.Join(lintDockerfile(tt.src), "\n")
		if !strings.Contains(problems, tt.want) {
			t.Errorf("%s: lint found %q, want a problem containing %q", tt.name, problems, tt.want)
		}
	}
}
