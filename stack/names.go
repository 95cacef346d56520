package stack

import (
	"fmt"
	"regexp"
)

// OriginalBackend is the backend every stack had before gatehouse:backends
// listed all of them (/v1, then the stack's own backend). Its resources keep
// the physical names they had then (Cloud Run service SERVICE, account
// SERVICE-runtime, image SERVICE), so that a stack deployed with that
// layout upgrades in place; every other backend NAME gets SERVICE-NAME and
// SERVICE-NAME-rt. This is the one place the difference is written.
const OriginalBackend = "v1"

// Names are the physical names of everything a stack creates in Google
// Cloud, derived from its serviceName, project and region. Both Pulumi
// programs (infra and infra/bootstrap) and the local twin take names from
// here, and nowhere else.
type Names struct {
	Service string // gatehouse:serviceName
	Project string // gcp:project
	Region  string // gcp:region
	// LocalRegistry is TEST-ONLY (gatehouse:imageRegistry): the local
	// Google Cloud's loopback registry, pushed to instead of Artifact
	// Registry's host.
	LocalRegistry string
}

// Account is one of the stack's service accounts: its id, its display name
// and description (the bootstrap creates accounts with exactly these, so
// that an adopted account imports without a diff), and Key, the suffix of
// the Pulumi resource names both programs give it.
type Account struct {
	Key string
	// FormerKey is the Key an earlier layout used (the original backend's
	// runtime account was "runtime"): the programs alias it, so that the
	// account is not replaced.
	FormerKey                    string
	ID, DisplayName, Description string
}

// maxAccountID is the longest service-account id Google allows ("must be 6
// to 30 characters": https://cloud.google.com/iam/docs/service-accounts-create#creating).
const maxAccountID = 30

var (
	// accountIDRe: lowercase letters, digits and hyphens, starting with a
	// letter and not ending with a hyphen, 6-30 characters.
	accountIDRe = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// serviceNameRe: at most 22 characters, so that SERVICE-runtime and
	// SERVICE-preview fit in 30.
	serviceNameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,20}[a-z0-9])?$`)
	// backendNameRe: 1-15 characters; SERVICE-NAME-rt must also fit in 30
	// (Names.Check).
	backendNameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$`)
)

// ValidServiceName reports whether n is a valid gatehouse:serviceName.
func ValidServiceName(n string) bool { return serviceNameRe.MatchString(n) }

// ValidBackendName reports whether n is a valid backend name (the name of
// an entry of gatehouse:backends).
func ValidBackendName(n string) bool { return backendNameRe.MatchString(n) }

// CloudRunService is backend's Cloud Run service name.
func (n Names) CloudRunService(backend string) string {
	if backend == OriginalBackend {
		return n.Service
	}
	return n.Service + "-" + backend
}

// API is the id of the API Gateway API and of its gateway.
func (n Names) API() string { return n.Service }

// Repository is the Artifact Registry repository all backends' images go
// to, one per stack.
func (n Names) Repository() string { return n.Service }

// Registry is the Artifact Registry host of the stack's region, or the
// TEST-ONLY loopback registry of the local Google Cloud
// (gatehouse:imageRegistry).
func (n Names) Registry() string {
	if n.LocalRegistry != "" {
		return n.LocalRegistry
	}
	return n.Region + "-docker.pkg.dev"
}

// Image is backend's image name, without tag: named as its Cloud Run
// service, in the stack's repository.
func (n Names) Image(backend string) string {
	return fmt.Sprintf("%s/%s/%s/%s", n.Registry(), n.Project, n.Repository(), n.CloudRunService(backend))
}

// RuntimeAccount is the account backend's Cloud Run service runs as.
func (n Names) RuntimeAccount(backend string) Account {
	if backend == OriginalBackend {
		return Account{Key: backend + "-runtime", FormerKey: "runtime", ID: n.Service + "-runtime",
			DisplayName: n.Service + " Cloud Run runtime",
			Description: "Identity of the gatehouse backend on Cloud Run. Holds no project roles."}
	}
	return Account{Key: backend + "-runtime", ID: n.Service + "-" + backend + "-rt",
		DisplayName: n.Service + " " + backend + " runtime",
		Description: "Identity of the gatehouse backend " + backend + " on Cloud Run. Holds no project roles."}
}

// GatewayAccount is the account API Gateway calls the backends as.
func (n Names) GatewayAccount() Account {
	return Account{Key: "gateway", ID: n.Service + "-gateway", DisplayName: n.Service + " API Gateway",
		Description: "Identity API Gateway uses to invoke the gatehouse backend (roles/run.invoker on that service only)."}
}

// Accounts is the table of the stack's own accounts: each backend's runtime
// account, in the order given, then the gateway's.
func (n Names) Accounts(backends []string) []Account {
	out := make([]Account, 0, len(backends)+1)
	for _, b := range backends {
		out = append(out, n.RuntimeAccount(b))
	}
	return append(out, n.GatewayAccount())
}

// DeployerID and PreviewerID are the ids of the CI accounts the bootstrap
// creates: GitHub Actions deploys as the first and previews as the second.
func (n Names) DeployerID() string  { return n.Service + "-deploy" }
func (n Names) PreviewerID() string { return n.Service + "-preview" }

// Email is the email of the project's user-managed account id.
func (n Names) Email(id string) string { return AccountEmail(id, n.Project) }

// AccountResourceID is the id Pulumi imports account id with.
func (n Names) AccountResourceID(id string) string {
	return "projects/" + n.Project + "/serviceAccounts/" + n.Email(id)
}

// AccountEmail is the email of a user-managed service account.
func AccountEmail(accountID, project string) string {
	return fmt.Sprintf("%s@%s.iam.gserviceaccount.com", accountID, project)
}

// Check reports the backends whose names make no valid, distinct
// account ids with this serviceName, by backend index.
func (n Names) Check(backends []string) map[int]error {
	bad := map[int]error{}
	seen := map[string]bool{n.GatewayAccount().ID: true, n.DeployerID(): true, n.PreviewerID(): true}
	for i, b := range backends {
		id := n.RuntimeAccount(b).ID
		switch {
		case len(id) > maxAccountID:
			bad[i] = fmt.Errorf("%q is too long with serviceName %q: the runtime account id %s must fit in %d characters", b, n.Service, id, maxAccountID)
		case !accountIDRe.MatchString(id):
			bad[i] = fmt.Errorf("%q makes the runtime account id %s, which is not a valid account id", b, id)
		case seen[id]:
			bad[i] = fmt.Errorf("%q makes the runtime account id %s, which another account of the stack has", b, id)
		}
		seen[id] = true
	}
	return bad
}
