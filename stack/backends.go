package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

// Backend is one entry of gatehouse:backends: a backend behind the gateway
// with its own image, runtime account, Cloud Run service and spec fragment.
// /v1 is an entry like any other (the first of DefaultBackends).
type Backend struct {
	Name string `json:"name"`
	// Where the image comes from: a build (Context, Dockerfile and the
	// build argument CMD, all optional) or an existing Image reference.
	Context    string `json:"context"`    // repository-relative; default service
	Dockerfile string `json:"dockerfile"` // repository-relative; default CONTEXT/Dockerfile
	Command    string `json:"command"`    // build argument CMD: the Go package, such as ./cmd/notes
	Image      string `json:"image"`      // an existing image (by digest, ideally) instead of a build
	// Spec is its Swagger 2.0 fragment (repository-relative); every path in
	// it must start with one of Paths.
	Spec  string   `json:"spec"`
	Paths []string `json:"paths"`

	// Cloud Run settings; unset ones are the stack's (minInstances, ...).
	MinInstances   *int   `json:"minInstances,omitempty"`
	MaxInstances   *int   `json:"maxInstances,omitempty"`
	CPU            string `json:"cpu,omitempty"`
	Memory         string `json:"memory,omitempty"`
	Concurrency    *int   `json:"concurrency,omitempty"`
	RequestTimeout string `json:"requestTimeout,omitempty"`

	Run      RunSettings `json:"-"` // resolved settings
	Fragment []byte      `json:"-"` // the fragment's content
	// Build is the image build, its paths resolved against the repository
	// as the loading program sees it (nil with Image).
	Build *Build `json:"-"`
}

// Build is a backend's Docker build.
type Build struct {
	Context, Dockerfile string            // paths as the loading program opens them
	Args                map[string]string // build arguments (CMD)
}

// DefaultBuildContext is where a backend's image is built from by default.
const DefaultBuildContext = "service"

// DefaultBackends is gatehouse:backends when a stack sets none (Pulumi.yaml
// gives the same default; a test keeps the two equal): the /v1 backend, so
// that a stack file written before the key existed keeps its /v1.
const DefaultBackends = `[{"name":"v1","command":"./cmd/hello","spec":"service/hello/openapi.yaml","paths":["/v1/"]}]`

var (
	imageRefRe = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$`)
	prefixRe   = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)+$`)
	// commandRe is a Go package path inside the build context, as `go
	// build` takes it: never a flag (the local twin passes it to go build,
	// where "-toolexec=..." would run a program), never outside the context.
	commandRe = regexp.MustCompile(`^\./[A-Za-z0-9_][A-Za-z0-9._/-]*$`)
)

// parseBackends reads gatehouse:backends (a YAML/JSON list of objects) and
// checks each entry, reporting errors under the key; fragments are read
// from repo.
func (c *Config) parseBackends(raw, repo string, bad func(key, format string, args ...any)) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultBackends
	}
	key := Namespace + ":backends"
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var list []Backend
	if err := dec.Decode(&list); err != nil {
		bad(key, "must be a list of backends (name, spec, paths, and context/dockerfile/command or image): %v", err)
		return
	}
	if len(list) == 0 {
		bad(key, "must list at least one backend (the default is /v1's: %s)", DefaultBackends)
		return
	}
	names := make([]string, len(list))
	for i := range list {
		names[i] = list[i].Name
	}
	nameProblems := c.Names().Check(names)
	seen := map[string]bool{}
	for i := range list {
		b := &list[i]
		at := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !ValidBackendName(b.Name):
			bad(at+".name", "%q must be 1-15 lowercase letters, digits or hyphens, starting with a letter", b.Name)
		case seen[b.Name]:
			bad(at+".name", "%q is used twice", b.Name)
		case nameProblems[i] != nil:
			bad(at+".name", "%v", nameProblems[i])
		}
		seen[b.Name] = true
		if b.Image != "" {
			if b.Context != "" || b.Dockerfile != "" || b.Command != "" {
				bad(at+".image", "an existing image takes no context, dockerfile or command")
			}
			if !imageRefRe.MatchString(b.Image) {
				bad(at+".image", "%q is not an image reference such as europe-docker.pkg.dev/p/repo/img@sha256:...", b.Image)
			}
		} else {
			if b.Context == "" {
				b.Context = DefaultBuildContext
			}
			ok := true
			// service/'s Dockerfile has no default CMD (a copied backend that
			// kept another's would build the wrong program), and each
			// command's Dockerfile sits beside its own ignore file, which is
			// what keeps each image's context to its own code
			// (service/cmd/hello/Dockerfile.dockerignore).
			if b.Command == "" {
				bad(at+".command", "is required: the Go package to build inside the context, such as ./cmd/hello (build argument CMD)")
				ok = false
			}
			if b.Dockerfile == "" && b.Command != "" {
				b.Dockerfile = path.Join(b.Context, b.Command, "Dockerfile")
			}
			for _, f := range []struct{ name, v string }{{"context", b.Context}, {"dockerfile", b.Dockerfile}} {
				if f.v != "" && !filepath.IsLocal(f.v) {
					bad(at+"."+f.name, "%q must be a path inside the repository", f.v)
					ok = false
				}
			}
			if b.Command != "" && (!commandRe.MatchString(b.Command) || !filepath.IsLocal(b.Command)) {
				bad(at+".command", "%q must be a package path inside the build context such as ./cmd/notes", b.Command)
				ok = false
			}
			if ok {
				b.Build = &Build{Context: filepath.Join(repo, b.Context), Dockerfile: filepath.Join(repo, b.Dockerfile),
					Args: map[string]string{"CMD": b.Command}}
			}
		}
		if len(b.Paths) == 0 {
			bad(at+".paths", "must list the path prefixes it serves, such as /v2/")
		}
		for _, p := range b.Paths {
			if !prefixRe.MatchString(p) {
				bad(at+".paths", "%q must be a path prefix such as /v2/ (starting and ending with /)", p)
			}
		}
		if b.Spec == "" || !filepath.IsLocal(b.Spec) {
			bad(at+".spec", "%q must be the path of its Swagger 2.0 fragment inside the repository", b.Spec)
		} else {
			b.Fragment = readFragment(filepath.Join(repo, b.Spec), b, at, bad)
		}
		b.Run = c.runFor(b, at, bad)
	}
	c.Backends = list
}

// readFragment reads b's fragment and checks that its paths stay under the
// backend's prefixes.
func readFragment(file string, b *Backend, at string, bad func(key, format string, args ...any)) []byte {
	frag, err := os.ReadFile(file)
	if err != nil {
		bad(at+".spec", "%v", err)
		return nil
	}
	paths, err := spec.FragmentPaths(frag)
	if err != nil {
		bad(at+".spec", "%s is not a Swagger document: %v", b.Spec, err)
		return nil
	}
	for _, path := range paths {
		ok := false
		for _, p := range b.Paths {
			ok = ok || strings.HasPrefix(path, p)
		}
		if !ok {
			bad(at+".paths", "%s declares %s, outside %s", b.Spec, path, strings.Join(b.Paths, ", "))
		}
	}
	return frag
}

// runFor resolves a backend's Cloud Run settings over the stack's.
func (c *Config) runFor(b *Backend, at string, bad func(key, format string, args ...any)) RunSettings {
	r := c.Defaults
	if b.MinInstances != nil {
		r.MinInstances = *b.MinInstances
	}
	if b.MaxInstances != nil {
		r.MaxInstances = *b.MaxInstances
	}
	if b.Concurrency != nil {
		r.Concurrency = *b.Concurrency
	}
	if b.CPU != "" {
		r.CPU = b.CPU
	}
	if b.Memory != "" {
		r.Memory = b.Memory
	}
	if b.RequestTimeout != "" {
		d, err := time.ParseDuration(b.RequestTimeout)
		if err != nil {
			bad(at+".requestTimeout", "%q is not a duration such as 30s", b.RequestTimeout)
		}
		r.RequestTimeout = d
	}
	// The stack-wide keys are checked as such; an entry is checked when it
	// sets its own (its settings combine with the stack's).
	if b.MinInstances != nil || b.MaxInstances != nil || b.Concurrency != nil || b.CPU != "" || b.Memory != "" || b.RequestTimeout != "" {
		checkRun(at+".", r, c.Deadline, bad)
	}
	return r
}

// Backend returns the entry named name, or false.
func (c Config) Backend(name string) (Backend, bool) {
	for _, b := range c.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// BackendNames are the backends' names, in the stack's order.
func (c Config) BackendNames() []string {
	out := make([]string, len(c.Backends))
	for i, b := range c.Backends {
		out[i] = b.Name
	}
	return out
}

// Contract is the static part of the stack's document (see spec.Contract):
// built once, from the loaded config.
func (c Config) Contract() spec.Contract {
	k := spec.Contract{
		Title:             c.ServiceName,
		FirebaseProjectID: c.FirebaseProjectID,
		ServiceAccounts:   c.ServiceAccountIssuers,
		CORS:              len(c.CORSOrigins) > 0,
		Deadline:          c.Deadline,
	}
	for _, b := range c.Backends {
		k.Backends = append(k.Backends, spec.Fragment{Name: b.Name, Document: b.Fragment})
	}
	return k
}
