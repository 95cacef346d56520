package cloud

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// registry is the container registry images are pushed to: the Docker
// Registry HTTP API v2 of go-containerregistry's registry package (an
// http.Handler "with an initial focus on tests":
// https://pkg.go.dev/github.com/google/go-containerregistry/pkg/registry),
// behind Artifact Registry's rules: Basic auth with user
// "oauth2accesstoken" and an access token as the password
// (https://cloud.google.com/artifact-registry/docs/docker/authentication#token),
// the repository must exist, and pushing needs
// artifactregistry.repositories.uploadArtifacts, pulling
// artifactregistry.repositories.downloadArtifacts. Paths are
// /v2/PROJECT/REPOSITORY/IMAGE/..., as under LOCATION-docker.pkg.dev.
type registry struct {
	c *Cloud
	h http.Handler
}

func newRegistry(c *Cloud) *registry {
	var opts []ggcr.Option
	if c.opts.StateDir != "" {
		// Blobs on disk survive a restart; the handler needs its folder.
		dir := filepath.Join(c.opts.StateDir, "blobs")
		if err := os.MkdirAll(dir, 0o700); err == nil {
			opts = append(opts, ggcr.WithBlobHandler(ggcr.NewDiskBlobHandler(dir)))
		}
	}
	opts = append(opts, ggcr.Logger(nullLogger()))
	return &registry{c: c, h: ggcr.New(opts...)}
}

var registryPathRe = regexp.MustCompile(`^/v2/([a-z][a-z0-9-]{4,28}[a-z0-9])/([a-z][a-z0-9-]*)/(.+)/(manifests|blobs|tags)/(.*)$`)

func registryError(w http.ResponseWriter, code int, ecode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="local-docker.pkg.dev"`)
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": ecode, "message": msg}}})
}

func (g *registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := g.c
	principal := g.principal(r)
	entry := LogEntry{Method: r.Method, Path: r.URL.Path, Principal: principal}
	rec := &statusWriter{ResponseWriter: w, code: 200}
	start := time.Now()
	defer func() {
		entry.Code = rec.code
		entry.Micros = time.Since(start).Microseconds()
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			entry.MethodID = "registry.manifests.put"
			c.record(entry)
		}
	}()
	if principal == "" {
		registryError(rec, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required: docker login -u oauth2accesstoken -p ACCESS_TOKEN")
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		rec.WriteHeader(http.StatusOK)
		return
	}
	m := registryPathRe.FindStringSubmatch(r.URL.Path)
	if m == nil {
		registryError(rec, http.StatusNotFound, "NAME_UNKNOWN", "the path must be /v2/PROJECT/REPOSITORY/IMAGE/...")
		return
	}
	project, repo := m[1], m[2]
	c.mu.Lock()
	repoName := g.repository(project, repo)
	perm := "artifactregistry.repositories.downloadArtifacts"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		perm = "artifactregistry.repositories.uploadArtifacts"
	}
	who, _ := c.callerOf(g.token(r))
	allowed := repoName != "" && c.allowed(who, perm, c.policyChain(repoName)...)
	c.mu.Unlock()
	switch {
	case repoName == "":
		registryError(rec, http.StatusNotFound, "NAME_UNKNOWN", fmt.Sprintf("Repository %q not found", "projects/"+project+"/locations/-/repositories/"+repo))
		return
	case !allowed:
		registryError(rec, http.StatusForbidden, "DENIED", fmt.Sprintf("Permission %q denied on resource %q (or it may not exist)", perm, repoName))
		return
	}
	entry.Permissions = []string{perm}
	g.h.ServeHTTP(rec, r)
	if r.Method == http.MethodPut && m[4] == "manifests" && rec.code < 300 {
		digest := rec.Header().Get("Docker-Content-Digest")
		c.mu.Lock()
		c.st.Objects["registry/"+project+"/"+repo+"/"+m[3]+"@"+digest] = map[string]any{"repository": repoName, "digest": digest}
		if !strings.HasPrefix(m[5], "sha256:") {
			c.st.Objects["registry/"+project+"/"+repo+"/"+m[3]+":"+m[5]] = map[string]any{"repository": repoName, "digest": digest}
		}
		_ = c.st.save(c.opts.StateDir)
		c.mu.Unlock()
	}
}

// token reads the Basic credentials (oauth2accesstoken:TOKEN), as
// `docker login -u oauth2accesstoken` stores them in the Docker config and
// the daemon sends them.
func (g *registry) token(r *http.Request) string {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic ")
	if !ok {
		return ""
	}
	dec, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return ""
	}
	user, token, _ := strings.Cut(string(dec), ":")
	if user != "oauth2accesstoken" {
		return ""
	}
	return token
}

// principal is who the Basic credentials name, or "".
func (g *registry) principal(r *http.Request) string {
	g.c.mu.Lock()
	defer g.c.mu.Unlock()
	return g.c.st.Tokens[g.token(r)]
}

// repository finds the Artifact Registry repository an image path names
// (in any location: the local registry serves every location's host).
func (g *registry) repository(project, repo string) string {
	p := g.c.st.project(project)
	if p == nil {
		return ""
	}
	for name, obj := range g.c.st.Objects {
		if strings.HasPrefix(name, "projects/"+p.ID+"/locations/") && strings.HasSuffix(name, "/repositories/"+repo) && obj["format"] == "DOCKER" {
			return name
		}
	}
	return ""
}

func (g *registry) deleteRepository(string) {}

// checkImage: an image in the local registry must have been pushed (Cloud
// Run fails a revision whose image does not exist). Images elsewhere
// cannot be checked offline and are taken as they are.
func (g *registry) checkImage(image string) error {
	host := g.c.opts.Registry
	if host == "" || !strings.HasPrefix(image, host+"/") {
		return nil
	}
	ref := strings.TrimPrefix(image, host+"/")
	if _, ok := g.c.st.Objects["registry/"+ref]; ok {
		return nil
	}
	// also accept what the registry itself holds (a push that raced the log)
	path := ref
	if i := strings.Index(ref, "@"); i >= 0 {
		path = ref[:i]
	} else if i := strings.LastIndex(ref, ":"); i >= 0 {
		path = ref[:i]
	}
	req := httptest.NewRequest(http.MethodHead, "/v2/"+path+"/manifests/"+ref[len(path)+1:], nil)
	rec := httptest.NewRecorder()
	g.h.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK {
		return nil
	}
	return imageNotFound(image)
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// imageNotFound is Cloud Run's message for an image that does not exist.
type imageNotFound string

func (e imageNotFound) Error() string { return "Image '" + string(e) + "' not found." }
