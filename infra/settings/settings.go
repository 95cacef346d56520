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
	DefaultIdentityExists  = false
	DefaultExistingSAs     = false
)

// GatewayRegions are the regions where API Gateway runs gateways, as listed
// on https://cloud.google.com/api-gateway/docs/deployment-model ("Choosing a
// Google Cloud region"; checked 2026-11): asia-east1 is not served, us-west3
// and us-west4 are. A region Google adds later can be used before this list
// catches up with gatehouse:extraGatewayRegions.
var GatewayRegions = []string{
	"asia-northeast1", "australia-southeast1", "europe-west1", "europe-west2",
	"us-central1", "us-east1", "us-east4", "us-west2", "us-west3", "us-west4",
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

	// IdentityPlatformExists adopts the project's existing Identity Platform
	// config instead of creating it (initializeAuth runs once per project).
	IdentityPlatformExists bool
	ExtraGatewayRegions    []string // regions API Gateway serves that GatewayRegions lacks

	// ExistingServiceAccounts uses the runtime and gateway service accounts
	// the CI bootstrap (infra/bootstrap) created, instead of creating them:
	// the deployer then holds actAs on those two accounts only.
	ExistingServiceAccounts bool

	// Credentials for the stack's own Google provider.
	GoogleAuth

	ManageFirebase    bool   // enable Firebase + email/password sign-in + a web app in the project
	FirebaseProjectID string // the Firebase project whose ID tokens are accepted
	FirebaseAPIKey    string // web API key of an existing Firebase project (manageFirebase false)

	// Backends are further backends behind the gateway (gatehouse:backends).
	Backends []Backend

	ServiceAccountIssuers []spec.ServiceAccount // extra JWT issuers for machine clients
	CORSOrigins           []string              // browser origins allowed cross-origin; none: CORS off

	ImageTag string
	// ImageRegistry is TEST-ONLY: a loopback registry (the local Google
	// Cloud's) images are pushed to instead of REGION-docker.pkg.dev.
	ImageRegistry string
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
	cpuRe      = regexp.MustCompile(`^([0-9]+)(m?)$`)
	memoryRe   = regexp.MustCompile(`^([0-9]+)(Mi|Gi)$`)
	imageTagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// loopbackRegistryRe: the test-only imageRegistry must stay on this machine.
	loopbackRegistryRe = regexp.MustCompile(`^(127\.0\.0\.1|localhost|\[::1\]):[0-9]{1,5}$`)
)

// Load reads and validates the configuration. Errors name the config key.
// gcp:project and gcp:region come from the gcp namespace; everything else
// from gatehouse:*.
func Load(gcp, own Source) (Config, error) {
	f := NewFields(own, Namespace)
	bad, str, integer, boolean, duration := f.Bad, f.Str, f.Int, f.Bool, f.Duration

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
		ImageRegistry:      str("imageRegistry", ""),

		IdentityPlatformExists: boolean("identityPlatformExists", DefaultIdentityExists),
		ExtraGatewayRegions:    list(own.Get("extraGatewayRegions")),

		ExistingServiceAccounts: boolean("existingServiceAccounts", DefaultExistingSAs),

		GoogleAuth: ReadGoogleAuth(gcp),
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
	case !slices.Contains(GatewayRegions, c.Region) && !slices.Contains(c.ExtraGatewayRegions, c.Region):
		bad("gcp:region", "%q has no API Gateway; use one of %s (or, for a region Google added since, list it in %s:extraGatewayRegions)",
			c.Region, strings.Join(GatewayRegions, ", "), Namespace)
	}
	for _, r := range c.ExtraGatewayRegions {
		if !regionRe.MatchString(r) {
			bad(Namespace+":extraGatewayRegions", "%q is not a region name", r)
		}
	}
	if !nameRe.MatchString(c.ServiceName) {
		bad(Namespace+":serviceName", "%q must be 1-22 lowercase letters, digits or hyphens, starting with a letter", c.ServiceName)
	}
	checkRun(Namespace+":", RunSettings{MinInstances: c.MinInstances, MaxInstances: c.MaxInstances, Concurrency: c.Concurrency,
		CPU: c.CPU, Memory: c.Memory, RequestTimeout: c.RequestTimeout}, 0, bad)
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
	c.parseBackends(own.Get("backends"), bad)
	if !imageTagRe.MatchString(c.ImageTag) {
		bad(Namespace+":imageTag", "%q is not a valid image tag", c.ImageTag)
	}
	if c.ImageRegistry != "" && !loopbackRegistryRe.MatchString(c.ImageRegistry) {
		bad(Namespace+":imageRegistry", "%q: this test-only key takes a loopback host:port (127.0.0.1:PORT, localhost:PORT or [::1]:PORT) of the local Google Cloud; leave it empty to push to Artifact Registry", c.ImageRegistry)
	}
	// The issuers must also make a valid spec; check with spec's own rules.
	if f.Err() == nil {
		if err := c.SpecParams("https://placeholder.a.run.app", "placeholder.apigateway.p.cloud.goog", nil).Validate(); err != nil {
			bad(Namespace+":serviceAccountIssuers", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if err := f.Err(); err != nil {
		return Config{}, fmt.Errorf("invalid stack configuration:\n%w", err)
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
//
// backendURLs are the further backends' live URLs by name (their fragments
// must have been read: ReadFragments).
func (c Config) SpecParams(backendURL, endpointsName string, backendURLs map[string]string) spec.Params {
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
	for _, b := range c.Backends {
		if url, ok := backendURLs[b.Name]; ok {
			p.Backends = append(p.Backends, spec.BackendRoute{Name: b.Name, URL: url, Fragment: b.Fragment})
		}
	}
	return p
}

// Cloud Run's CPU and memory rules for services, from
// https://cloud.google.com/run/docs/configuring/services/cpu and
// https://cloud.google.com/run/docs/configuring/services/memory-limits:
//   - CPU is 1, 2, 4, 6 or 8, or below 1 a value from 0.08 in steps of 0.01
//     (80m to 990m here);
//   - below 1 CPU, maximum concurrency must be 1, a memory limit above 512Mi
//     needs at least 0.5 CPU and one above 1Gi at least 1 CPU;
//   - memory is 128Mi to 32Gi, and each CPU count has a range: 1 CPU up to
//     4Gi, 2 CPU up to 8Gi, 4 CPU 2Gi-16Gi, 6 CPU 4Gi-24Gi, 8 CPU 4Gi-32Gi.

// parseCPU returns the CPU limit in millicpu.
func parseCPU(v string) (int, error) {
	m := cpuRe.FindStringSubmatch(v)
	if m == nil {
		return 0, errors.New("must be 1, 2, 4, 6 or 8, or millicpu from 80m to 990m such as 500m")
	}
	var n int
	fmt.Sscan(m[1], &n)
	if m[2] == "" {
		n *= 1000
	}
	switch {
	case n >= 1000 && n%1000 == 0 && slices.Contains([]int{1, 2, 4, 6, 8}, n/1000):
		return n, nil
	case n >= 80 && n < 1000 && n%10 == 0:
		return n, nil
	}
	return 0, errors.New("must be 1, 2, 4, 6 or 8, or millicpu from 80m to 990m in steps of 10m (Cloud Run's allowed values)")
}

// parseMemory returns the memory limit in MiB.
func parseMemory(v string) (int, error) {
	m := memoryRe.FindStringSubmatch(v)
	if m == nil {
		return 0, errors.New("must be a size such as 512Mi or 2Gi")
	}
	var n int
	fmt.Sscan(m[1], &n)
	if m[2] == "Gi" {
		n *= 1024
	}
	if n < 128 || n > 32*1024 {
		return 0, errors.New("must be from 128Mi to 32Gi")
	}
	return n, nil
}

type problem struct{ key, msg string }

// cpuMemoryRules checks the combination; each problem names both keys.
func cpuMemoryRules(milli, mib, concurrency int) []problem {
	var out []problem
	cpu := fmt.Sprintf("cpu %s", cpuString(milli))
	if milli < 1000 {
		if concurrency != 1 {
			out = append(out, problem{"concurrency", fmt.Sprintf("must be 1 with %s below 1 CPU (Cloud Run), got %d", cpu, concurrency)})
		}
		if mib > 1024 {
			out = append(out, problem{"memory", fmt.Sprintf("above 1Gi needs cpu of at least 1, got %s", cpu)})
		} else if mib > 512 && milli < 500 {
			out = append(out, problem{"memory", fmt.Sprintf("above 512Mi needs cpu of at least 500m, got %s", cpu)})
		}
		return out
	}
	limits := map[int][2]int{1: {128, 4096}, 2: {128, 8192}, 4: {2048, 16384}, 6: {4096, 24576}, 8: {4096, 32768}}
	r := limits[milli/1000]
	if mib < r[0] || mib > r[1] {
		out = append(out, problem{"memory", fmt.Sprintf("with %s must be from %s to %s (Cloud Run), got %s", cpu, mibString(r[0]), mibString(r[1]), mibString(mib))})
	}
	return out
}

func cpuString(milli int) string {
	if milli%1000 == 0 {
		return fmt.Sprint(milli / 1000)
	}
	return fmt.Sprintf("%dm", milli)
}

func mibString(mib int) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%dGi", mib/1024)
	}
	return fmt.Sprintf("%dMi", mib)
}

// ValidProjectID reports whether p is a well-formed GCP project id.
func ValidProjectID(p string) bool { return projectRe.MatchString(p) }

// ValidServiceName reports whether n is a valid gatehouse:serviceName.
func ValidServiceName(n string) bool { return nameRe.MatchString(n) }

// GoogleAuth is what the default Google provider would read from the gcp:
// keys (an explicit provider reads no stack config by itself). Empty:
// Application Default Credentials.
type GoogleAuth struct {
	AccessToken, Credentials, ImpersonateServiceAccount string
}

// ReadGoogleAuth reads gcp:accessToken, gcp:credentials and
// gcp:impersonateServiceAccount.
func ReadGoogleAuth(gcp Source) GoogleAuth {
	return GoogleAuth{
		AccessToken:               strings.TrimSpace(gcp.Get("accessToken")),
		Credentials:               strings.TrimSpace(gcp.Get("credentials")),
		ImpersonateServiceAccount: strings.TrimSpace(gcp.Get("impersonateServiceAccount")),
	}
}
