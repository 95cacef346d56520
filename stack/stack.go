// Package stack owns gatehouse's stack configuration: it reads a stack's
// config once into a typed, validated struct (so that bad config fails
// before any resource is registered), and it holds the rules and the
// physical names (names.go) that every program of the repository applies.
// It imports no Pulumi SDK: infra, infra/bootstrap and the local twin all
// use it, so that they cannot disagree.
package stack

import (
	"encoding/json"
	"fmt"
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
	DefaultIdentityExists  = false
	DefaultExistingSAs     = false
	DefaultRequireVerified = false
)

// Config is the whole stack configuration.
type Config struct {
	Project string // gcp:project
	Region  string // gcp:region

	ServiceName string // prefix of every name (see Names)
	// Defaults are the stack-wide Cloud Run keys (minInstances, ...): each
	// backend's settings where its entry sets none.
	Defaults RunSettings
	Deadline time.Duration // gateway → backend deadline
	LogLevel string

	DeletionProtection bool // protect Cloud Run, the repository and the API from `pulumi destroy`

	// IdentityPlatformExists adopts the project's existing Identity Platform
	// config instead of creating it (initializeAuth runs once per project).
	IdentityPlatformExists bool
	ExtraGatewayRegions    []string // regions API Gateway serves that GatewayRegions lacks

	// ExistingServiceAccounts uses the runtime and gateway service accounts
	// the CI bootstrap (infra/bootstrap) created, instead of creating them:
	// the deployer then holds actAs on those accounts only.
	ExistingServiceAccounts bool

	// Credentials for the stack's own Google provider.
	GoogleAuth

	ManageFirebase bool // enable Firebase + email/password sign-in + a web app in the project
	// AllowSignUp is gatehouse:allowSignUp: whether anyone may create an
	// account with email and password (Identity Platform's
	// client.permissions.disabledUserSignup, its opposite). Nil (unset): a
	// config the stack creates keeps Identity Platform's default, open; an
	// adopted one (IdentityPlatformExists) keeps what it has.
	AllowSignUp *bool
	// RequireVerifiedEmail makes every backend refuse (403) callers whose
	// token does not say email_verified: true (REQUIRE_EMAIL_VERIFIED).
	RequireVerifiedEmail bool
	FirebaseProjectID    string // the Firebase project whose ID tokens are accepted
	FirebaseAPIKey       string // web API key of an existing Firebase project (manageFirebase false)

	// Backends are the backends behind the gateway (gatehouse:backends), at
	// least one; /v1 is the first of the default list.
	Backends []Backend

	ServiceAccountIssuers []spec.ServiceAccount // extra JWT issuers for machine clients
	CORSOrigins           []string              // browser origins allowed cross-origin; none: CORS off

	ImageTag string
	// ImageRegistry is TEST-ONLY: a loopback registry (the local Google
	// Cloud's) images are pushed to instead of REGION-docker.pkg.dev.
	ImageRegistry string
}

// Names are the physical names of the stack's resources.
func (c Config) Names() Names {
	return Names{Service: c.ServiceName, Project: c.Project, Region: c.Region, LocalRegistry: c.ImageRegistry}
}

// Source is where values come from: pulumi config in the program, a stack
// file (ReadFile) in the twin, a map in tests. Get returns "" for an unset
// key.
type Source interface {
	Get(key string) string
}

var (
	imageTagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// loopbackRegistryRe: the test-only imageRegistry must stay on this machine.
	loopbackRegistryRe = regexp.MustCompile(`^(127\.0\.0\.1|localhost|\[::1\]):[0-9]{1,5}$`)
)

// Load reads and validates the configuration. Errors name the config key.
// gcp:project and gcp:region come from the gcp namespace; everything else
// from gatehouse:*. repo is the repository's root as the caller opens files
// (Pulumi runs the program in infra/, so infra passes ".."): each backend's
// fragment is read from it, and its build paths are resolved against it
// once, here.
//
// The whole document is rendered once, with placeholder URLs, so that a
// collision between backends or a bad issuer fails before any resource.
func Load(gcp, own Source, repo string) (Config, error) {
	f := NewFields(own, Namespace)
	bad, str, integer, boolean, duration := f.Bad, f.Str, f.Int, f.Bool, f.Duration

	c := Config{
		Project:     strings.TrimSpace(gcp.Get("project")),
		Region:      strings.TrimSpace(gcp.Get("region")),
		ServiceName: str("serviceName", DefaultServiceName),
		Defaults: RunSettings{
			MinInstances:   integer("minInstances", DefaultMinInstances),
			MaxInstances:   integer("maxInstances", DefaultMaxInstances),
			CPU:            str("cpu", DefaultCPU),
			Memory:         str("memory", DefaultMemory),
			Concurrency:    integer("concurrency", DefaultConcurrency),
			RequestTimeout: duration("requestTimeout", DefaultRequestTimeout),
		},
		Deadline:           duration("backendDeadline", DefaultBackendDeadline),
		LogLevel:           str("logLevel", DefaultLogLevel),
		DeletionProtection: boolean("deletionProtection", DefaultDeletionProtect),
		ManageFirebase:     boolean("manageFirebase", DefaultManageFirebase),
		FirebaseProjectID:  str("firebaseProjectId", ""),
		FirebaseAPIKey:     str("firebaseApiKey", ""),
		ImageTag:           str("imageTag", DefaultImageTag),
		ImageRegistry:      str("imageRegistry", ""),

		IdentityPlatformExists: boolean("identityPlatformExists", DefaultIdentityExists),
		ExtraGatewayRegions:    f.List("extraGatewayRegions"),

		ExistingServiceAccounts: boolean("existingServiceAccounts", DefaultExistingSAs),

		AllowSignUp:          f.OptBool("allowSignUp"),
		RequireVerifiedEmail: boolean("requireVerifiedEmail", DefaultRequireVerified),

		GoogleAuth: ReadGoogleAuth(gcp),
	}
	if c.FirebaseProjectID == "" {
		c.FirebaseProjectID = c.Project
	}
	for _, o := range f.List("corsOrigins") {
		origin, err := CORSOrigin(o)
		if err != nil {
			bad(Namespace+":corsOrigins", "%v", err)
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, origin)
	}
	for i, raw := range f.List("serviceAccountIssuers") {
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
	case !spec.ValidProjectID(c.Project):
		bad("gcp:project", "%q is not a valid project id", c.Project)
	}
	checkRegion(c.Region, c.ExtraGatewayRegions, bad)
	if !ValidServiceName(c.ServiceName) {
		bad(Namespace+":serviceName", "%q must be 1-22 lowercase letters, digits or hyphens, starting with a letter", c.ServiceName)
	}
	checkRun(Namespace+":", c.Defaults, 0, bad)
	if c.Deadline <= 0 || c.Deadline > c.Defaults.RequestTimeout {
		bad(Namespace+":backendDeadline", "must be positive and at most requestTimeout (%v), got %v", c.Defaults.RequestTimeout, c.Deadline)
	}
	if !slices.Contains([]string{"debug", "info", "warning", "error"}, c.LogLevel) {
		bad(Namespace+":logLevel", "%q must be debug, info, warning or error", c.LogLevel)
	}
	if !spec.ValidProjectID(c.FirebaseProjectID) {
		bad(Namespace+":firebaseProjectId", "%q is not a valid project id", c.FirebaseProjectID)
	}
	if c.ManageFirebase && c.FirebaseProjectID != c.Project {
		bad(Namespace+":firebaseProjectId", "with manageFirebase on, Firebase is enabled in gcp:project; set manageFirebase to false to use another project's Firebase")
	}
	if c.ManageFirebase && c.FirebaseAPIKey != "" {
		bad(Namespace+":firebaseApiKey", "is read from the managed Firebase web app; set it only with manageFirebase false")
	}
	if c.AllowSignUp != nil && !c.ManageFirebase {
		bad(Namespace+":allowSignUp", "applies to the Firebase project the stack manages; with manageFirebase false, set sign-up in %s's own Firebase console (Authentication, Settings, User actions)", c.FirebaseProjectID)
	}
	c.parseBackends(own.Get("backends"), repo, bad)
	if !imageTagRe.MatchString(c.ImageTag) {
		bad(Namespace+":imageTag", "%q is not a valid image tag", c.ImageTag)
	}
	if c.ImageRegistry != "" && !loopbackRegistryRe.MatchString(c.ImageRegistry) {
		bad(Namespace+":imageRegistry", "%q: this test-only key takes a loopback host:port (127.0.0.1:PORT, localhost:PORT or [::1]:PORT) of the local Google Cloud; leave it empty to push to Artifact Registry", c.ImageRegistry)
	}
	if f.Err() == nil {
		c.checkContract(bad)
	}
	if err := f.Err(); err != nil {
		return Config{}, fmt.Errorf("invalid stack configuration:\n%w", err)
	}
	return c, nil
}

// checkContract renders the stack's document once, with placeholder URLs,
// and reports each problem under the key it comes from.
func (c Config) checkContract(bad func(key, format string, args ...any)) {
	k := c.Contract()
	urls, endpoints := k.Placeholders()
	p := k.Params(urls, endpoints)
	if err := p.Validate(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			bad(paramKey(line), "%s", line)
		}
		return
	}
	if _, err := spec.Render(p); err != nil {
		bad(Namespace+":backends", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
}

// paramKey is the config key behind a spec.Params problem ("Field: ...").
func paramKey(problem string) string {
	field, _, _ := strings.Cut(problem, ":")
	switch {
	case strings.HasPrefix(field, "ServiceAccounts"), strings.HasPrefix(field, "Issuers"):
		return Namespace + ":serviceAccountIssuers"
	case strings.HasPrefix(field, "FirebaseProjectID"):
		return Namespace + ":firebaseProjectId"
	case strings.HasPrefix(field, "Title"):
		return Namespace + ":serviceName"
	case strings.HasPrefix(field, "Deadline"):
		return Namespace + ":backendDeadline"
	default:
		return Namespace + ":backends"
	}
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

// ValidProjectID reports whether p is a well-formed GCP project id.
func ValidProjectID(p string) bool { return spec.ValidProjectID(p) }
