// Package settings reads gatehouse's stack configuration once into a typed,
// validated struct, so that bad config fails before any resource is
// registered.
package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

// Namespace of the project's own config keys (Pulumi.yaml's `name`).
const Namespace = "gatehouse"

// Defaults, mirrored by Pulumi.yaml's config block (a test keeps them equal).
const (
	DefaultServiceName     = "gatehouse"
	DefaultMinInstances    = 0
	DefaultMaxInstances    = 3
	DefaultCPU             = "1"
	DefaultMemory          = "512Mi"
	DefaultConcurrency     = 80
	DefaultRequestTimeout  = "30s"
	DefaultBackendDeadline = "15s"
	DefaultDeletionProtect = false
	DefaultManageFirebase  = true
	DefaultImageTag        = "main"
	DefaultLogLevel        = "info"
)

// GatewayRegions are the regions where API Gateway can run gateways
// (https://cloud.google.com/api-gateway/docs/deployment-model#locations).
var GatewayRegions = []string{
	"asia-east1", "asia-northeast1", "australia-southeast1", "europe-west1", "europe-west2",
	"us-central1", "us-east1", "us-east4", "us-west2",
}

// Config is the whole stack configuration.
type Config struct {
	Project string // gcp:project
	Region  string // gcp:region

	ServiceName    string // Cloud Run service, Artifact Registry repo, API and gateway ids
	MinInstances   int
	MaxInstances   int
	CPU            string
	Memory         string
	Concurrency    int
	RequestTimeout time.Duration // Cloud Run request timeout
	Deadline       time.Duration // gateway → backend deadline
	LogLevel       string

	DeletionProtection bool // protect Cloud Run, the repository and the API from `pulumi destroy`

	ManageFirebase    bool   // enable Firebase + email/password sign-in + a web app in the project
	FirebaseProjectID string // the Firebase project whose ID tokens are accepted
	FirebaseAPIKey    string // web API key of an existing Firebase project (manageFirebase false)

	ServiceAccountIssuers []spec.ServiceAccount // extra JWT issuers for machine clients
	CORSOrigins           []string              // browser origins allowed cross-origin; none: CORS off

	ImageTag string
}

// Source is where values come from: pulumi config in the program, a map in
// tests. Get returns "" for an unset key.
type Source interface {
	Get(key string) string
}

var (
	projectRe  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	regionRe   = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]$`)
	nameRe     = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,20}[a-z0-9])?$`) // ≤ 22 so that service-account ids (name + "-runtime") fit in 30
	cpuRe      = regexp.MustCompile(`^([1248]|[0-9]+m)$`)
	memoryRe   = regexp.MustCompile(`^[0-9]+(Mi|Gi)$`)
	imageTagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// Load reads and validates the configuration. Errors name the config key.
// gcp:project and gcp:region come from the gcp namespace; everything else
// from gatehouse:*.
func Load(gcp, own Source) (Config, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	str := func(key, def string) string {
		if v := strings.TrimSpace(own.Get(key)); v != "" {
			return v
		}
		return def
	}
	integer := func(key string, def int) int {
		v := strings.TrimSpace(own.Get(key))
		if v == "" {
			return def
		}
		var n int
		if _, err := fmt.Sscan(v, &n); err != nil || fmt.Sprint(n) != v {
			bad(Namespace+":"+key, "%q is not an integer", v)
			return def
		}
		return n
	}
	boolean := func(key string, def bool) bool {
		switch v := strings.TrimSpace(own.Get(key)); v {
		case "":
			return def
		case "true":
			return true
		case "false":
			return false
		default:
			bad(Namespace+":"+key, "%q is not true or false", v)
			return def
		}
	}
	duration := func(key, def string) time.Duration {
		v := str(key, def)
		d, err := time.ParseDuration(v)
		if err != nil {
			bad(Namespace+":"+key, "%q is not a duration such as 30s", v)
		}
		return d
	}

	c := Config{
		Project:            strings.TrimSpace(gcp.Get("project")),
		Region:             strings.TrimSpace(gcp.Get("region")),
		ServiceName:        str("serviceName", DefaultServiceName),
		MinInstances:       integer("minInstances", DefaultMinInstances),
		MaxInstances:       integer("maxInstances", DefaultMaxInstances),
		CPU:                str("cpu", DefaultCPU),
		Memory:             str("memory", DefaultMemory),
		Concurrency:        integer("concurrency", DefaultConcurrency),
		RequestTimeout:     duration("requestTimeout", DefaultRequestTimeout),
		Deadline:           duration("backendDeadline", DefaultBackendDeadline),
		LogLevel:           str("logLevel", DefaultLogLevel),
		DeletionProtection: boolean("deletionProtection", DefaultDeletionProtect),
		ManageFirebase:     boolean("manageFirebase", DefaultManageFirebase),
		FirebaseProjectID:  str("firebaseProjectId", ""),
		FirebaseAPIKey:     str("firebaseApiKey", ""),
		ImageTag:           str("imageTag", DefaultImageTag),
	}
	if c.FirebaseProjectID == "" {
		c.FirebaseProjectID = c.Project
	}
	for _, o := range list(own.Get("corsOrigins")) {
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				bad(Namespace+":corsOrigins", "%q is not * or an origin such as https://app.example.com", o)
				continue
			}
			o = strings.TrimSuffix(o, "/")
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	for i, raw := range list(own.Get("serviceAccountIssuers")) {
		email, aud, ok := strings.Cut(raw, "=")
		if !ok {
			bad(Namespace+":serviceAccountIssuers", "entry %d %q: want EMAIL=AUDIENCE", i, raw)
			continue
		}
		c.ServiceAccountIssuers = append(c.ServiceAccountIssuers, spec.ServiceAccount{Email: strings.TrimSpace(email), Audience: strings.TrimSpace(aud)})
	}

	switch {
	case c.Project == "":
		bad("gcp:project", "is required: pulumi config set gcp:project <your-project-id>")
	case !projectRe.MatchString(c.Project):
		bad("gcp:project", "%q is not a valid project id", c.Project)
	}
	switch {
	case c.Region == "":
		bad("gcp:region", "is required: pulumi config set gcp:region europe-west1")
	case !regionRe.MatchString(c.Region):
		bad("gcp:region", "%q is not a region name", c.Region)
	case !slices.Contains(GatewayRegions, c.Region):
		bad("gcp:region", "%q has no API Gateway; use one of %s", c.Region, strings.Join(GatewayRegions, ", "))
	}
	if !nameRe.MatchString(c.ServiceName) {
		bad(Namespace+":serviceName", "%q must be 1-22 lowercase letters, digits or hyphens, starting with a letter", c.ServiceName)
	}
	if c.MinInstances < 0 {
		bad(Namespace+":minInstances", "must be 0 or more, got %d", c.MinInstances)
	}
	if c.MaxInstances < 1 || c.MaxInstances > 1000 {
		bad(Namespace+":maxInstances", "must be from 1 to 1000, got %d", c.MaxInstances)
	}
	if c.MinInstances > c.MaxInstances {
		bad(Namespace+":minInstances", "%d is more than maxInstances %d", c.MinInstances, c.MaxInstances)
	}
	if !cpuRe.MatchString(c.CPU) {
		bad(Namespace+":cpu", "%q must be 1, 2, 4, 8 or millicpu such as 500m", c.CPU)
	}
	if !memoryRe.MatchString(c.Memory) {
		bad(Namespace+":memory", "%q must be a size such as 512Mi or 2Gi", c.Memory)
	}
	if c.Concurrency < 1 || c.Concurrency > 1000 {
		bad(Namespace+":concurrency", "must be from 1 to 1000, got %d", c.Concurrency)
	}
	if c.RequestTimeout < time.Second || c.RequestTimeout > time.Hour {
		bad(Namespace+":requestTimeout", "must be from 1s to 1h, got %v", c.RequestTimeout)
	}
	if c.Deadline <= 0 || c.Deadline > c.RequestTimeout {
		bad(Namespace+":backendDeadline", "must be positive and at most requestTimeout (%v), got %v", c.RequestTimeout, c.Deadline)
	}
	if !slices.Contains([]string{"debug", "info", "warning", "error"}, c.LogLevel) {
		bad(Namespace+":logLevel", "%q must be debug, info, warning or error", c.LogLevel)
	}
	if !projectRe.MatchString(c.FirebaseProjectID) {
		bad(Namespace+":firebaseProjectId", "%q is not a valid project id", c.FirebaseProjectID)
	}
	if c.ManageFirebase && c.FirebaseProjectID != c.Project {
		bad(Namespace+":firebaseProjectId", "with manageFirebase on, Firebase is enabled in gcp:project; set manageFirebase to false to use another project's Firebase")
	}
	if c.ManageFirebase && c.FirebaseAPIKey != "" {
		bad(Namespace+":firebaseApiKey", "is read from the managed Firebase web app; set it only with manageFirebase false")
	}
	if !imageTagRe.MatchString(c.ImageTag) {
		bad(Namespace+":imageTag", "%q is not a valid image tag", c.ImageTag)
	}
	// The issuers must also make a valid spec; check with spec's own rules.
	if len(errs) == 0 {
		if err := c.SpecParams("https://placeholder.a.run.app", "placeholder.apigateway.p.cloud.goog").Validate(); err != nil {
			bad(Namespace+":serviceAccountIssuers", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("invalid stack configuration:\n%w", errors.Join(errs...))
	}
	return c, nil
}

// list reads a config array: a JSON array of strings, as `pulumi config set
// --path 'gatehouse:serviceAccountIssuers[0]' …` stores it, or a
// comma-separated string.
func list(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if strings.HasPrefix(v, "[") {
		var out []string
		if err := json.Unmarshal([]byte(v), &out); err == nil {
			return out
		}
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// SpecParams is the spec rendering input for this stack, given the live
// backend URL and the API's managed service name.
func (c Config) SpecParams(backendURL, endpointsName string) spec.Params {
	p := spec.Params{
		Title:             c.ServiceName,
		BackendURL:        backendURL,
		Deadline:          c.Deadline,
		FirebaseProjectID: c.FirebaseProjectID,
		ServiceAccounts:   c.ServiceAccountIssuers,
		CORS:              len(c.CORSOrigins) > 0,
	}
	if p.CORS {
		p.EndpointsName = endpointsName
	}
	return p
}
