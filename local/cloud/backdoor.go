package cloud

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

func nullLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// backdoor serves /_cloud/: what a test or a user does that is not a Google
// API (like mockgcp's test commands):
//
//	POST /_cloud/tokens    {"principal":"user:EMAIL"}        → {"token"}: a signed-in user's token
//	POST /_cloud/github/token {"claims":{...}}                → {"token"}: a GitHub Actions job's OIDC token (sts.go)
//	POST /_cloud/projects  {"id","owner","propagationDelay"} → the project (a new one, as the console makes it)
//	GET  /_cloud/requests?from=N                              → the request log from entry N
//	GET  /_cloud/state                                        → every resource, by name
//	GET  /_cloud/healthz
func (c *Cloud) backdoor(w http.ResponseWriter, r *http.Request) {
	bad := func(format string, a ...any) {
		writeJSON(w, http.StatusBadRequest, InvalidArgument("", format, a...))
	}
	path := strings.TrimPrefix(r.URL.Path, "/_cloud/")
	switch {
	case path == "healthz" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	case path == "tokens" && r.Method == http.MethodPost:
		var in struct{ Principal string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
			bad("body: %v", err)
			return
		}
		tok, err := c.Mint(in.Principal)
		if err != nil {
			bad("%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": tok})
	case path == "github/token" && r.Method == http.MethodPost:
		var in struct{ Claims map[string]any }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
			bad("body: %v", err)
			return
		}
		tok, err := c.MintGitHubToken(in.Claims)
		if err != nil {
			bad("%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": tok})
	case path == "projects" && r.Method == http.MethodPost:
		var in struct {
			ID, Owner        string
			PropagationDelay string
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
			bad("body: %v", err)
			return
		}
		var delay time.Duration
		if in.PropagationDelay != "" {
			d, err := time.ParseDuration(in.PropagationDelay)
			if err != nil || d < 0 {
				bad("propagationDelay %q is not a duration", in.PropagationDelay)
				return
			}
			delay = d
		}
		owner := in.Owner
		if owner == "" {
			owner = c.opts.Owner
		}
		if err := checkMember(owner); err != nil {
			bad("owner %q is not a principal", owner)
			return
		}
		p, err := c.CreateProject(in.ID, owner, delay)
		if err != nil {
			bad("%v", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"projectId": p.ID, "projectNumber": p.Number})
	case path == "requests" && r.Method == http.MethodGet:
		from, _ := strconv.Atoi(r.URL.Query().Get("from"))
		entries := c.Requests(from)
		if entries == nil {
			entries = []LogEntry{}
		}
		writeJSON(w, http.StatusOK, entries)
	case path == "state" && r.Method == http.MethodGet:
		c.mu.Lock()
		names := make([]string, 0, len(c.st.Objects))
		for n := range c.st.Objects {
			names = append(names, n)
		}
		sort.Strings(names)
		out := map[string]any{}
		for _, n := range names {
			out[n] = clone(c.st.Objects[n])
		}
		policies := map[string]any{}
		for n, p := range c.st.Policies {
			policies[n] = policyJSON(p)
		}
		c.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"objects": out, "policies": policies})
	default:
		writeJSON(w, http.StatusNotImplemented, Unimplemented("no local-cloud command %s %s", r.Method, r.URL.Path))
	}
}

// Env is the environment a Pulumi run needs to deploy to this cloud at
// base (http://127.0.0.1:PORT), as shell lines: every custom endpoint of
// Services, the access token, and the provider's region check off (it
// would call the real compute API: pulumi/pulumi-gcp@v7.38.0
// provider/resources.go:432-441).
func (c *Cloud) Env(base, token string) []string {
	base = strings.TrimSuffix(base, "/")
	var lines []string
	for _, s := range c.services {
		vars := make([]string, 0, len(s.Endpoints))
		for v := range s.Endpoints {
			vars = append(vars, v)
		}
		sort.Strings(vars)
		for _, v := range vars {
			lines = append(lines, fmt.Sprintf("export %s=%s/%s", v, base, s.Endpoints[v]))
		}
	}
	lines = append(lines,
		"export GOOGLE_OAUTH_ACCESS_TOKEN="+token,
		"export PULUMI_GCP_SKIP_REGION_VALIDATION=true",
	)
	return lines
}
