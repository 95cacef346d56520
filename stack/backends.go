package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

// Backend is one more backend behind the gateway, from gatehouse:backends.
// The template's operations (/v1) stay on the stack's own backend
// (service/); each entry here adds a Cloud Run service with its own image,
// runtime account and spec fragment.
type Backend struct {
	Name string `json:"name"`
	// Where the image comes from: a build (Context, Dockerfile and the
	// build argument CMD, all optional) or an existing Image reference.
	Context    string `json:"context"`    // repository-relative; default service
	Dockerfile string `json:"dockerfile"` // repository-relative; default CONTEXT/Dockerfile
	Command    string `json:"command"`    // build argument CMD (service/Dockerfile: the Go package, e.g. ./cmd/notes)
	Image      string `json:"image"`      // an existing image (by digest, ideally) instead of a build
	// Spec is its Swagger 2.0 fragment (repository-relative); every path in
	// it must start with one of Paths.
	Spec  string   `json:"spec"`
	Paths []string `json:"paths"`

	// Cloud Run settings; unset ones are the stack's (minInstances, ...).
	MinInstances   *int   `json:"minInstances"`
	MaxInstances   *int   `json:"maxInstances"`
	CPU            string `json:"cpu"`
	Memory         string `json:"memory"`
	Concurrency    *int   `json:"concurrency"`
	RequestTimeout string `json:"requestTimeout"`

	Run      RunSettings `json:"-"` // resolved settings
	Fragment []byte      `json:"-"` // the fragment's content (ReadFragments)
}

// RunSettings are a Cloud Run service's sizing settings.
type RunSettings struct {
	MinInstances, MaxInstances, Concurrency int
	CPU, Memory                             string
	RequestTimeout                          time.Duration
}

// DefaultBuildContext is where a backend's image is built from by default.
const DefaultBuildContext = "service"

var (
	backendNameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$`)
	imageRefRe    = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?/[A-Za-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$`)
	prefixRe      = regexp.MustCompile(`^/([A-Za-z0-9._~-]+/)+$`)
)

// BackendAccountID is the runtime account id of backend name: it must fit
// in 30 characters with the service name.
func BackendAccountID(serviceName, name string) string { return serviceName + "-" + name + "-rt" }

// BackendServiceName is backend name's Cloud Run service.
func BackendServiceName(serviceName, name string) string { return serviceName + "-" + name }

// parseBackends reads gatehouse:backends (a YAML/JSON list of objects) and
// checks each entry, reporting errors under the key.
func (c *Config) parseBackends(raw string, bad func(key, format string, args ...any)) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "[]" {
		return
	}
	key := Namespace + ":backends"
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	var list []Backend
	if err := dec.Decode(&list); err != nil {
		bad(key, "must be a list of backends (name, spec, paths, and context/dockerfile/command or image): %v", err)
		return
	}
	seen := map[string]bool{}
	for i := range list {
		b := &list[i]
		at := fmt.Sprintf("%s[%d]", key, i)
		if !backendNameRe.MatchString(b.Name) {
			bad(at+".name", "%q must be 1-15 lowercase letters, digits or hyphens, starting with a letter", b.Name)
		} else if id := BackendAccountID(c.ServiceName, b.Name); len(id) > 30 {
			bad(at+".name", "%q is too long with serviceName %q: the runtime account id %s must fit in 30 characters", b.Name, c.ServiceName, id)
		}
		if seen[b.Name] {
			bad(at+".name", "%q is used twice", b.Name)
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
			if b.Dockerfile == "" {
				b.Dockerfile = b.Context + "/Dockerfile"
			}
			for _, f := range []struct{ name, v string }{{"context", b.Context}, {"dockerfile", b.Dockerfile}} {
				if !filepath.IsLocal(f.v) {
					bad(at+"."+f.name, "%q must be a path inside the repository", f.v)
				}
			}
			if b.Command != "" && !strings.HasPrefix(b.Command, "./") {
				bad(at+".command", "%q must be a package path such as ./cmd/notes", b.Command)
			}
		}
		if b.Spec == "" || !filepath.IsLocal(b.Spec) {
			bad(at+".spec", "%q must be the path of its Swagger 2.0 fragment inside the repository", b.Spec)
		}
		if len(b.Paths) == 0 {
			bad(at+".paths", "must list the path prefixes it serves, such as /v2/")
		}
		for _, p := range b.Paths {
			if !prefixRe.MatchString(p) {
				bad(at+".paths", "%q must be a path prefix such as /v2/ (starting and ending with /)", p)
			}
		}
		b.Run = c.runFor(b, at, bad)
	}
	c.Backends = list
}

// runFor resolves a backend's Cloud Run settings over the stack's.
func (c *Config) runFor(b *Backend, at string, bad func(key, format string, args ...any)) RunSettings {
	r := RunSettings{MinInstances: c.MinInstances, MaxInstances: c.MaxInstances, Concurrency: c.Concurrency,
		CPU: c.CPU, Memory: c.Memory, RequestTimeout: c.RequestTimeout}
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
	checkRun(at+".", r, c.Deadline, bad)
	return r
}

// ReadFragments reads each backend's spec fragment with read (given a
// repository-relative path), checks that its paths stay under the
// backend's prefixes, and renders the whole document once with placeholder
// URLs, so that a collision or a bad reference fails before any resource.
func (c *Config) ReadFragments(read func(string) ([]byte, error)) error {
	var errs []error
	for i := range c.Backends {
		b := &c.Backends[i]
		at := fmt.Sprintf("%s:backends[%d]", Namespace, i)
		frag, err := read(b.Spec)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.spec: %w", at, err))
			continue
		}
		b.Fragment = frag
		paths, err := spec.FragmentPaths(frag)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.spec: %s is not a Swagger document: %w", at, b.Spec, err))
			continue
		}
		for _, path := range paths {
			ok := false
			for _, p := range b.Paths {
				ok = ok || strings.HasPrefix(path, p)
			}
			if !ok {
				errs = append(errs, fmt.Errorf("%s.paths: %s declares %s, outside %s", at, b.Spec, path, strings.Join(b.Paths, ", ")))
			}
		}
	}
	if len(errs) == 0 && len(c.Backends) > 0 {
		urls := map[string]string{}
		for _, b := range c.Backends {
			urls[b.Name] = "https://placeholder-" + b.Name + ".a.run.app"
		}
		if _, err := spec.Render(c.SpecParams("https://placeholder.a.run.app", "placeholder.apigateway.p.cloud.goog", urls)); err != nil {
			errs = append(errs, fmt.Errorf("%s:backends: %s", Namespace, strings.ReplaceAll(err.Error(), "\n", "; ")))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid stack configuration:\n%w", errors.Join(errs...))
	}
	return nil
}

// checkRun applies Cloud Run's limits to one service's settings; keys are
// prefix + the setting's name.
func checkRun(prefix string, r RunSettings, deadline time.Duration, bad func(key, format string, args ...any)) {
	if r.MinInstances < 0 {
		bad(prefix+"minInstances", "must be 0 or more, got %d", r.MinInstances)
	}
	if r.MaxInstances < 1 || r.MaxInstances > 1000 {
		bad(prefix+"maxInstances", "must be from 1 to 1000, got %d", r.MaxInstances)
	}
	if r.MinInstances > r.MaxInstances {
		bad(prefix+"minInstances", "%d is more than maxInstances %d", r.MinInstances, r.MaxInstances)
	}
	milli, cpuErr := parseCPU(r.CPU)
	if cpuErr != nil {
		bad(prefix+"cpu", "%q %v", r.CPU, cpuErr)
	}
	mib, memErr := parseMemory(r.Memory)
	if memErr != nil {
		bad(prefix+"memory", "%q %v", r.Memory, memErr)
	}
	if r.Concurrency < 1 || r.Concurrency > 1000 {
		bad(prefix+"concurrency", "must be from 1 to 1000, got %d", r.Concurrency)
	}
	if cpuErr == nil && memErr == nil {
		for _, p := range cpuMemoryRules(milli, mib, r.Concurrency) {
			bad(prefix+p.key, "%s", p.msg)
		}
	}
	if r.RequestTimeout < time.Second || r.RequestTimeout > time.Hour {
		bad(prefix+"requestTimeout", "must be from 1s to 1h, got %v", r.RequestTimeout)
	} else if deadline > r.RequestTimeout {
		bad(prefix+"requestTimeout", "must be at least backendDeadline (%v), got %v", deadline, r.RequestTimeout)
	}
}
