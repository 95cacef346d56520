// Package cloud is a local Google Cloud control plane: the REST APIs that
// gatehouse's Pulumi programs (the main stack and infra/bootstrap) call,
// served on loopback so that the real Pulumi engine and the real gcp and
// docker providers deploy to it through the provider's custom endpoints.
//
// Every request goes the same way (cloud.go): route by the service's base
// path and the discovery document's flatPath (an unknown route gets 501),
// authenticate the access token (401), check the quota project's
// serviceusage.services.use and that the API is enabled (403
// SERVICE_DISABLED, with an optional propagation delay), validate the query
// and body against the discovery document (400 INVALID_ARGUMENT naming the
// field), authorise the method's permission on the resource and actAs on the
// service accounts it names (403 PERMISSION_DENIED naming the permission),
// then the service's handler, whose result is wrapped in a long-running
// operation when the discovery method returns one. Handlers hold only
// resource semantics.
package cloud

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/local/cloud/discovery"
)

// Options configure a Cloud.
type Options struct {
	// Projects exist from the start, each owned (roles/owner) by Owner.
	Projects []string
	// Owner is the principal that owns the projects, such as
	// "user:owner@example.com".
	Owner string
	// PropagationDelay: a newly enabled API answers SERVICE_DISABLED for
	// this long (what a user meets on a fresh project).
	PropagationDelay time.Duration
	// OperationDelay: long-running operations are done after this long
	// (0: done in the answer to the call that starts them).
	OperationDelay time.Duration
	// StateDir persists the state across restarts ("" keeps it in memory).
	StateDir string
	// Registry is the container registry's host:port as image names carry
	// it (Cloud Run's image must be a digest pushed there).
	Registry string
	// Now is the clock (tests).
	Now func() time.Time
}

// Cloud is the control plane: an http.Handler.
type Cloud struct {
	opts     Options
	now      func() time.Time
	roles    Roles
	services []*Service
	registry *registry

	mu  sync.Mutex // guards st and log
	st  *state
	log []LogEntry

	keyOnce  sync.Once // the stand-in GitHub issuer's signing key (sts.go)
	ghKey    *rsa.PrivateKey
	ghKeyErr error
}

// LogEntry is one request in the request log (GET /_cloud/requests).
type LogEntry struct {
	Seq       int    `json:"seq"`
	Time      string `json:"time"`
	Principal string `json:"principal,omitempty"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	MethodID  string `json:"methodId,omitempty"`
	Resource  string `json:"resource,omitempty"`
	Code      int    `json:"code"`
	Status    string `json:"status,omitempty"`
	Message   string `json:"message,omitempty"`
	// QuotaProject is the X-Goog-User-Project header, when sent.
	QuotaProject string `json:"quotaProject,omitempty"`
	// Micros is how long the cloud took to answer.
	Micros int64 `json:"micros"`
	// Permissions are the permissions the call was checked for and
	// granted: what a least-privilege role must hold for it.
	Permissions []string `json:"permissions,omitempty"`
}

// New builds a Cloud, loading its state from opts.StateDir when there is one.
func New(opts Options) (*Cloud, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Owner == "" {
		opts.Owner = DefaultOwner
	}
	roles, err := LoadRoles()
	if err != nil {
		return nil, err
	}
	st, err := loadState(opts.StateDir)
	if err != nil {
		return nil, err
	}
	c := &Cloud{opts: opts, now: opts.Now, roles: roles, st: st}
	c.services, err = services(c)
	if err != nil {
		return nil, err
	}
	c.registry = newRegistry(c)
	for _, id := range opts.Projects {
		if _, err := c.CreateProject(id, opts.Owner, opts.PropagationDelay); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// DefaultOwner is the principal that owns the projects unless told otherwise.
const DefaultOwner = "user:owner@example.com"

// Service is one Google API as the local cloud serves it.
type Service struct {
	Name  string // "run.googleapis.com"
	Title string // as SERVICE_DISABLED names it: "Cloud Run Admin API"
	// Prefix is the base path the service is served under ("/run/").
	Prefix string
	// Endpoints are the provider's custom-endpoint variables and the path
	// under the server each is set to ("run/v2/").
	Endpoints map[string]string
	Doc       *discovery.Doc
	Methods   map[string]*Method // by discovery method id
	// Rewrite maps a request path (after Prefix) to the path the document
	// routes, for the provider's http quirks (each cited where it is set).
	Rewrite func(string) string
	// Always: the service needs no enabling (Service Usage, and services
	// that do not check it).
	Always bool
}

// Method is what the local cloud does for one discovery method: the
// permission Google documents for it, the resource it is checked on, the
// service accounts it makes the caller act as, and the handler.
type Method struct {
	Permission string
	// Resource names the resource the permission is checked on and, by its
	// "projects/P" prefix, the project (default: from the path).
	Resource func(*Request) string
	// ActAs returns the service-account emails the request makes the
	// caller act as (iam.serviceAccounts.actAs is checked on each).
	ActAs  func(*Request) []string
	Handle func(*Request) (any, error)
	// Extra are more permissions the call needs on the project (such as
	// servicemanagement.services.bind to enable a managed service).
	Extra func(*Request) []string
	// Check validates the request without touching the cloud's state; it
	// runs after authorisation, without the lock (an API config's
	// documents: spec.Validate takes about a second).
	Check func(*Request) error
}

// Request is a routed, authenticated, validated call.
type Request struct {
	HTTP      *http.Request
	Method    *discovery.Method
	Vars      map[string]string
	Query     url.Values
	Body      map[string]any
	Principal string
	Project   *Project // the resource's project, when the path names one
	Service   *Service
	resource  string
	granted   []string // the permissions the call was granted, in order
}

// Var returns a path variable.
func (r *Request) Var(name string) string { return r.Vars[name] }

// Str returns a top-level string field of the body.
func (r *Request) Str(field string) string { s, _ := r.Body[field].(string); return s }

// ServeHTTP runs the request pipeline.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			// Never 500: the provider retries 5xx until its timeout.
			writeJSON(w, http.StatusNotImplemented, Unimplemented("internal fault in the local cloud: %v", v))
		}
	}()
	switch {
	case strings.HasPrefix(hr.URL.Path, "/_cloud/"):
		c.backdoor(w, hr)
		return
	case hr.URL.Path == "/v2/" || strings.HasPrefix(hr.URL.Path, "/v2/"):
		c.registry.ServeHTTP(w, hr)
		return
	case hr.URL.Path == "/sts/v1/token" && hr.Method == http.MethodPost:
		c.stsToken(w, hr)
		return
	case hr.URL.Path == "/identitytoolkit.googleapis.com/v1/accounts:signUp" && hr.Method == http.MethodPost:
		c.authSignUp(w, hr)
		return
	}
	start := time.Now()
	entry := LogEntry{Method: hr.Method, Path: hr.URL.Path, QuotaProject: hr.Header.Get("X-Goog-User-Project")}
	code, body, r := c.handle(hr)
	entry.Micros = time.Since(start).Microseconds()
	entry.Code = code
	if r != nil {
		entry.Principal = r.Principal
		if r.Method != nil {
			entry.MethodID = r.Method.ID
		}
		entry.Resource = r.resource
		entry.Permissions = r.granted
	}
	if e, ok := body.(*Error); ok {
		entry.Status, entry.Message = e.Status, e.Message
	}
	c.record(entry)
	writeJSON(w, code, body)
}

func (c *Cloud) record(e LogEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.Seq = len(c.log) + 1
	e.Time = timestamp(c.now())
	c.log = append(c.log, e)
}

// maxBody bounds request bodies (API Gateway documents are the largest).
const maxBody = 8 << 20

func (c *Cloud) handle(hr *http.Request) (int, any, *Request) {
	svc, rest := c.service(hr.URL.Path)
	if svc == nil {
		return fail(Unimplemented("the local cloud serves no API at %s (served: %s)", hr.URL.Path, c.prefixes()))
	}
	if svc.Rewrite != nil {
		rest = svc.Rewrite(rest)
	}
	m, vars, ok := svc.Doc.Match(hr.Method, rest)
	if !ok {
		return fail(Unimplemented("%s %s is not a method of %s %s (discovery revision %s)", hr.Method, hr.URL.Path, svc.Doc.Name, svc.Doc.Version, svc.Doc.Revision))
	}
	impl := svc.Methods[m.ID]
	r := &Request{HTTP: hr, Method: m, Vars: vars, Query: hr.URL.Query(), Service: svc}
	if impl == nil {
		return failR(r, Unimplemented("%s (%s) is not implemented by the local cloud", m.ID, hr.URL.Path))
	}
	raw, err := io.ReadAll(io.LimitReader(hr.Body, maxBody+1))
	if err != nil || len(raw) > maxBody {
		return failR(r, InvalidArgument("", "Request body unreadable or larger than %d bytes.", maxBody))
	}

	c.mu.Lock()
	locked := true
	defer func() {
		if locked {
			c.mu.Unlock()
		}
	}()

	// Authenticate.
	token, _ := strings.CutPrefix(hr.Header.Get("Authorization"), "Bearer ")
	who, ok := c.callerOf(strings.TrimSpace(token))
	if !ok {
		return failR(r, Unauthenticated())
	}
	r.Principal = who.principal()
	// allowed records each permission the call was granted, for the log.
	allowed := func(perm string, resources ...string) bool {
		ok := c.allowed(who, perm, resources...)
		if ok && !slices.Contains(r.granted, perm) {
			r.granted = append(r.granted, perm)
		}
		return ok
	}

	// Validate the query and body against the discovery document.
	if err := svc.Doc.ValidateQuery(m, r.Query); err != nil {
		fe := err.(*discovery.FieldError)
		return failR(r, InvalidArgument(fe.Field, "%s", fe.Message))
	}
	if err := svc.Doc.ValidateBody(m, raw); err != nil {
		fe := err.(*discovery.FieldError)
		return failR(r, InvalidArgument(fe.Field, "%s", fe.Message))
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil && m.Request != nil {
			return failR(r, InvalidArgument("", "Invalid JSON payload received. %v", err))
		}
	}
	if r.Body == nil {
		r.Body = map[string]any{}
	}

	// The resource, its project, and the consumer (quota) project.
	resource := resourceFromVars(m, vars)
	if impl.Resource != nil {
		resource = impl.Resource(r)
	}
	r.resource = resource
	r.Project = c.projectOf(resource)
	consumer := r.Project
	if qp := hr.Header.Get("X-Goog-User-Project"); qp != "" {
		consumer = c.st.project(qp)
		if consumer == nil {
			return failR(r, &Error{Code: 403, Status: "PERMISSION_DENIED", Reason: "forbidden",
				Message: fmt.Sprintf("Project '%s' not found or permission denied.", qp),
				Details: []map[string]any{errorInfo("USER_PROJECT_DENIED", "googleapis.com", map[string]string{"consumer": "projects/" + qp})}})
		}
		// A quota project needs serviceusage.services.use on it
		// (https://cloud.google.com/docs/quotas/set-quota-project).
		if !allowed("serviceusage.services.use", "projects/"+consumer.ID) {
			return failR(r, &Error{Code: 403, Status: "PERMISSION_DENIED", Reason: "forbidden",
				Message: fmt.Sprintf("Caller does not have required permission to use project %s. Grant the caller the roles/serviceusage.serviceUsageConsumer role, or a custom role with the serviceusage.services.use permission, by visiting https://console.developers.google.com/iam-admin/iam/project?project=%s and then retry. Propagation of the new permission may take a few minutes.", consumer.ID, consumer.ID),
				Details: []map[string]any{errorInfo("USER_PROJECT_DENIED", "googleapis.com", map[string]string{"consumer": "projects/" + consumer.ID})}})
		}
	}
	// Cloud Storage answers 404 for a bucket that does not exist, whoever
	// asks (bucket names are global; the provider waits on that 404 after
	// a delete: resource_storage_bucket.go:1033-1041).
	if strings.HasPrefix(resource, "projects/_/buckets/") && r.Project == nil {
		return failR(r, NotFound("The specified bucket does not exist."))
	}
	if r.Project == nil && consumer == nil && impl.Resource == nil {
		return failR(r, NotFound("Project not found: %s", resource))
	}

	// The API must be enabled in the consumer project.
	if !svc.Always && consumer != nil {
		if err := c.serviceEnabled(consumer, svc); err != nil {
			return failR(r, err)
		}
	}

	// Authorise: the method's permission on the resource (and its project),
	// further project permissions, and actAs on named service accounts.
	if impl.Permission != "" {
		if !allowed(impl.Permission, c.policyChain(resource)...) {
			return failR(r, PermissionDenied(impl.Permission, resource))
		}
	}
	if impl.Extra != nil && r.Project != nil {
		for _, perm := range impl.Extra(r) {
			if !allowed(perm, "projects/"+r.Project.ID) {
				return failR(r, PermissionDenied(perm, "projects/"+r.Project.ID))
			}
		}
	}
	if impl.ActAs != nil {
		for _, email := range impl.ActAs(r) {
			if err := c.checkActAs(who, email); err != nil {
				return failR(r, err)
			}
			if !slices.Contains(r.granted, "iam.serviceAccounts.actAs") {
				r.granted = append(r.granted, "iam.serviceAccounts.actAs")
			}
		}
	}

	// Costly checks that need no state run without the lock, so other
	// requests do not wait on them.
	if impl.Check != nil {
		c.mu.Unlock()
		locked = false
		err := impl.Check(r)
		c.mu.Lock()
		locked = true
		if err != nil {
			if e, ok := err.(*Error); ok {
				return failR(r, e)
			}
			return failR(r, InvalidArgument("", "%v", err))
		}
	}

	out, err := impl.Handle(r)
	if err != nil {
		if e, ok := err.(*Error); ok {
			return failR(r, e)
		}
		return failR(r, FailedPrecondition("%v", err))
	}
	if err := c.st.save(c.opts.StateDir); err != nil {
		return failR(r, Unimplemented("%v", err))
	}
	return http.StatusOK, out, r
}

func fail(e *Error) (int, any, *Request) { return e.Code, e, nil }

func failR(r *Request, e *Error) (int, any, *Request) { return e.Code, e, r }

// service finds the service whose prefix the path starts with.
func (c *Cloud) service(path string) (*Service, string) {
	for _, s := range c.services {
		if rest, ok := strings.CutPrefix(path, s.Prefix); ok {
			return s, rest
		}
	}
	return nil, ""
}

func (c *Cloud) prefixes() string {
	var p []string
	for _, s := range c.services {
		p = append(p, s.Prefix)
	}
	return strings.Join(p, " ")
}

// resourceFromVars rebuilds the resource name from the path: the
// method's path template with its variables filled in, up to the custom
// verb.
func resourceFromVars(m *discovery.Method, vars map[string]string) string {
	for _, k := range []string{"name", "resource", "parent"} {
		if v, ok := vars[k]; ok {
			return v
		}
	}
	tmpl := m.FlatPath
	if tmpl == "" {
		tmpl = m.Path
	}
	// drop the version segment and the verb
	if i := strings.Index(tmpl, "/"); i >= 0 {
		tmpl = tmpl[i+1:]
	}
	if i := strings.LastIndex(tmpl, ":"); i >= 0 && !strings.Contains(tmpl[i:], "/") {
		tmpl = tmpl[:i]
	}
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{"+k+"}", v)
		tmpl = strings.ReplaceAll(tmpl, "{+"+k+"}", v)
	}
	return tmpl
}

// projectOf finds the project a resource name belongs to.
func (c *Cloud) projectOf(resource string) *Project {
	if strings.HasPrefix(resource, "projects/_/buckets/") {
		return c.bucketProject(resource)
	}
	parts := strings.Split(resource, "/")
	if len(parts) >= 2 && parts[0] == "projects" {
		return c.st.project(parts[1])
	}
	return nil
}

// policyChain is the resource and its ancestors whose policies apply:
// the resource itself, then its parents up to the project ("projects/ID").
func (c *Cloud) policyChain(resource string) []string {
	var chain []string
	parts := strings.Split(resource, "/")
	for n := len(parts); n >= 2; n -= 2 {
		chain = append(chain, strings.Join(parts[:n], "/"))
	}
	if p := c.projectOf(resource); p != nil {
		chain = append(chain, "projects/"+p.ID)
	}
	return chain
}

// serviceEnabled checks that svc is enabled in p, and has been for the
// propagation delay.
func (c *Cloud) serviceEnabled(p *Project, svc *Service) *Error {
	at, ok := p.Services[svc.Name]
	if !ok || c.now().Before(at.Add(p.PropagationDelay)) {
		return ServiceDisabled(svc.Name, svc.Title, p.Number)
	}
	return nil
}

// checkActAs checks iam.serviceAccounts.actAs on the account, through its
// own policy or its project's
// (https://cloud.google.com/iam/docs/service-accounts-actas).
func (c *Cloud) checkActAs(who caller, email string) *Error {
	name, acct := c.findAccount(email)
	if acct == nil {
		return InvalidArgument("serviceAccount", "Service account %s does not exist.", email)
	}
	if !c.allowed(who, "iam.serviceAccounts.actAs", c.policyChain(name)...) {
		e := PermissionDenied("iam.serviceAccounts.actAs", name)
		e.Message = fmt.Sprintf("Permission 'iam.serviceaccounts.actAs' denied on service account %s (or it may not exist).", email)
		return e
	}
	return nil
}

// CreateProject adds a project owned by owner, with the services Google
// enables in a new project.
func (c *Cloud) CreateProject(id, owner string, propagation time.Duration) (*Project, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.st.Projects[id]; ok {
		p.PropagationDelay = propagation
		return p, c.st.save(c.opts.StateDir)
	}
	if !validProjectID(id) {
		return nil, fmt.Errorf("%q is not a project id (6-30 lowercase letters, digits, hyphens)", id)
	}
	now := c.now()
	p := &Project{ID: id, Number: projectNumber(id), Services: map[string]time.Time{}, PropagationDelay: propagation, Created: now}
	for _, s := range DefaultServices {
		p.Services[s] = now.Add(-24 * time.Hour)
	}
	c.st.Projects[id] = p
	c.st.Policies["projects/"+id] = &Policy{Version: 1, Bindings: []Binding{{Role: "roles/owner", Members: []string{owner}}}, Etag: c.st.etag()}
	return p, c.st.save(c.opts.StateDir)
}

// DefaultServices are on in a new project. Google's list
// (https://cloud.google.com/service-usage/docs/enabled-service#default)
// includes servicemanagement, serviceusage and storage. ASSUMPTION (see
// Deviations): cloudresourcemanager is taken as on too.
var DefaultServices = []string{
	"bigquery.googleapis.com", "cloudapis.googleapis.com", "cloudtrace.googleapis.com",
	"datastore.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com",
	"servicemanagement.googleapis.com", "serviceusage.googleapis.com", "sql-component.googleapis.com",
	"storage-api.googleapis.com", "storage-component.googleapis.com", "storage.googleapis.com",
	"cloudresourcemanager.googleapis.com",
}

func validProjectID(id string) bool {
	if len(id) < 6 || len(id) > 30 || id[0] < 'a' || id[0] > 'z' || strings.HasSuffix(id, "-") {
		return false
	}
	for _, ch := range id {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return true
}

// Mint returns a new access token naming principal, as a signed-in user's
// `gcloud auth print-access-token` would.
func (c *Cloud) Mint(principal string) (string, error) {
	if err := checkMember(principal); err != nil || !(strings.HasPrefix(principal, "user:") || strings.HasPrefix(principal, "serviceAccount:")) {
		return "", fmt.Errorf("%q is not a principal (user:EMAIL or serviceAccount:EMAIL)", principal)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mintLocked(principal)
}

func (c *Cloud) mintLocked(principal string) (string, error) {
	token := "ya29.local-" + c.st.hexID(40, principal)
	c.st.Tokens[token] = principal
	return token, c.st.save(c.opts.StateDir)
}

// Requests returns the request log from seq on (1-based).
func (c *Cloud) Requests(from int) []LogEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if from < 1 {
		from = 1
	}
	if from > len(c.log) {
		return nil
	}
	return slices.Clone(c.log[from-1:])
}

// Services lists the services, for the environment and the docs.
func (c *Cloud) Services() []*Service { return c.services }
