package spec

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// FirebaseJWKSURI is where Google publishes the x509 certificates that sign
// Firebase ID tokens.
const FirebaseJWKSURI = "https://www.googleapis.com/service_accounts/v1/metadata/x509/securetoken@system.gserviceaccount.com"

// Issuer is one accepted JWT issuer: a securityDefinition of the document.
type Issuer struct {
	Name      string   // securityDefinition name
	Issuer    string   // x-google-issuer: the token's iss
	JWKSURI   string   // x-google-jwks_uri: JWKS or x509 certificate map
	Audiences []string // x-google-audiences: accepted aud values
}

// FirebaseIssuer accepts Firebase Authentication ID tokens of a project.
func FirebaseIssuer(projectID string) Issuer {
	return Issuer{
		Name:      "firebase",
		Issuer:    "https://securetoken.google.com/" + projectID,
		JWKSURI:   FirebaseJWKSURI,
		Audiences: []string{projectID},
	}
}

// ServiceAccountIssuer accepts JWTs that a machine client signs itself with a
// Google service account's key (iss = the account's email).
func ServiceAccountIssuer(email, audience string) Issuer {
	return Issuer{
		Name:      "sa_" + strings.NewReplacer("@", "_at_", ".", "_", "-", "_").Replace(email),
		Issuer:    email,
		JWKSURI:   "https://www.googleapis.com/robot/v1/metadata/x509/" + email,
		Audiences: []string{audience},
	}
}

// ServiceAccount is an extra issuer for machine clients.
type ServiceAccount struct {
	Email    string
	Audience string // the aud the client puts in its JWT
}

// Params is what a rendered document depends on.
type Params struct {
	Title   string // info.title; the template's when empty
	Version string // info.version; the template's when empty

	// Backends are the backends behind the gateway, each serving the
	// operations of its own spec fragment (see BackendRoute). At least one.
	Backends []BackendRoute
	// Deadline is each backend's deadline unless its route sets its own;
	// the gateway's default (15 s) when zero.
	Deadline time.Duration

	// FirebaseProjectID adds the Firebase ID-token issuer of that project.
	FirebaseProjectID string
	// ServiceAccounts adds one issuer per machine-client service account.
	ServiceAccounts []ServiceAccount
	// Issuers adds further issuers as they are (the local twin's tests use
	// this for a JWKS server of their own).
	Issuers []Issuer

	// CORS turns on x-google-endpoints allowCors and unauthenticated OPTIONS
	// operations. EndpointsName is the API's managed service name
	// (<api>-<hash>.apigateway.<project>.cloud.goog).
	CORS          bool
	EndpointsName string

	// Options are those the rendered document is validated with: Local
	// allows plain-http loopback URLs for the backends and JWKS, for the
	// local twin. Never set for a deployment.
	Options
}

// allIssuers lists the document's issuers in a fixed order.
func (p Params) allIssuers() []Issuer {
	var out []Issuer
	if p.FirebaseProjectID != "" {
		out = append(out, FirebaseIssuer(p.FirebaseProjectID))
	}
	for _, sa := range p.ServiceAccounts {
		out = append(out, ServiceAccountIssuer(sa.Email, sa.Audience))
	}
	return append(out, p.Issuers...)
}

var (
	// GCP project ids: 6-30 chars, lowercase letters, digits, hyphens,
	// starting with a letter and not ending with a hyphen.
	projectIDRe = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// Service account emails: account@project.iam.gserviceaccount.com and
	// Google-managed forms such as 123-compute@developer.gserviceaccount.com.
	saEmailRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}@[a-z][a-z0-9.-]*\.gserviceaccount\.com$`)
	// securityDefinition names used as map keys and in security requirements.
	issuerNameRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,99}$`)
	titleRe       = regexp.MustCompile(`^[^\x00-\x1f]{1,100}$`)
	dnsNameRe     = regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$`)
	maxDeadline   = time.Hour
	audienceMaxLn = 512
)

// Validate checks every field and returns all problems, each naming its
// field.
func (p Params) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if p.Title != "" && !titleRe.MatchString(p.Title) {
		bad("Title", "must be 1-100 printable characters")
	}
	if p.Version != "" && !titleRe.MatchString(p.Version) {
		bad("Version", "must be 1-100 printable characters")
	}
	if p.Deadline < 0 || p.Deadline > maxDeadline {
		bad("Deadline", "must be positive and at most %v, got %v", maxDeadline, p.Deadline)
	}
	if p.FirebaseProjectID != "" && !ValidProjectID(p.FirebaseProjectID) {
		bad("FirebaseProjectID", "%q is not a valid project id (6-30 lowercase letters, digits or hyphens, starting with a letter)", p.FirebaseProjectID)
	}
	for i, sa := range p.ServiceAccounts {
		if !saEmailRe.MatchString(sa.Email) {
			bad(fmt.Sprintf("ServiceAccounts[%d].Email", i), "%q is not a service account email (name@project.iam.gserviceaccount.com)", sa.Email)
		}
		if sa.Audience == "" || len(sa.Audience) > audienceMaxLn || strings.ContainsAny(sa.Audience, " \t\r\n") {
			bad(fmt.Sprintf("ServiceAccounts[%d].Audience", i), "must be a single non-empty token")
		}
	}
	for i, is := range p.Issuers {
		f := fmt.Sprintf("Issuers[%d]", i)
		if !issuerNameRe.MatchString(is.Name) {
			bad(f+".Name", "%q must be a letter then letters, digits or underscores", is.Name)
		}
		if is.Issuer == "" || strings.ContainsAny(is.Issuer, " \t\r\n") {
			bad(f+".Issuer", "must be a non-empty token")
		}
		if err := checkURL(is.JWKSURI, p.Local); err != nil {
			bad(f+".JWKSURI", "%v", err)
		}
		if len(is.Audiences) == 0 || slices.Contains(is.Audiences, "") {
			bad(f+".Audiences", "must list at least one non-empty audience")
		}
	}
	all := p.allIssuers()
	if len(all) == 0 {
		bad("FirebaseProjectID", "no issuer: set FirebaseProjectID or add ServiceAccounts/Issuers")
	}
	names, iss := map[string]bool{}, map[string]bool{}
	for _, is := range all {
		if names[is.Name] {
			bad("Issuers", "two issuers are named %q", is.Name)
		}
		if iss[is.Issuer] {
			bad("Issuers", "issuer %q is listed twice", is.Issuer)
		}
		names[is.Name], iss[is.Issuer] = true, true
	}
	if len(p.Backends) == 0 {
		bad("Backends", "at least one backend is required: every operation comes from a backend's fragment")
	}
	seenBackends := map[string]bool{}
	for i, b := range p.Backends {
		errs = append(errs, b.validate(i, p.Local)...)
		if seenBackends[b.Name] {
			bad(fmt.Sprintf("Backends[%d].Name", i), "two backends are named %q", b.Name)
		}
		seenBackends[b.Name] = true
	}
	if p.CORS && !dnsNameRe.MatchString(p.EndpointsName) {
		bad("EndpointsName", "CORS needs the API's managed service name (a DNS name), got %q", p.EndpointsName)
	}
	return errors.Join(errs...)
}

// ValidProjectID reports whether id is a well-formed Google Cloud project id.
func ValidProjectID(id string) bool { return projectIDRe.MatchString(id) }

// checkURL accepts absolute https URLs, and http URLs to loopback hosts when
// local is set.
func checkURL(raw string, local bool) error {
	if raw == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL with a host and no user info, query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		// One rule: plain http only for the local twin, and there only to a
		// loopback host.
		if !local || !isLoopback(u.Hostname()) {
			return fmt.Errorf("%q must use https (plain http is only for the local twin, to a loopback host)", raw)
		}
		return nil
	default:
		return fmt.Errorf("%q must use https", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
