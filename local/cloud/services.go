package cloud

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/local/cloud/discovery"
)

// services is THE list of APIs the local cloud serves: routing, the
// environment (Env) and the README are all read from it.
//
// Prefixes and endpoint paths follow the provider's http quirks
// (../shared/reference/gcp-control-plane.md §1.3): client-library services
// (IAM, Resource Manager, Service Usage) get a root-style endpoint, because
// over http the provider does not strip the version and the client adds its
// own (terraform-provider-google-beta v5.42.0 transport/config.go:2298-2301,
// RemoveBasePathVersion matches only https); Firebase's endpoint must not
// hold a segment named "firebase/" (fwtransport/framework_provider_clients.go:40-52
// deletes it).
func services(c *Cloud) ([]*Service, error) {
	defs := []struct {
		svc   *Service
		doc   string
		build func(*Service)
	}{
		{&Service{Name: "serviceusage.googleapis.com", Title: "Service Usage API", Prefix: "/serviceusage/", Always: true,
			Endpoints: map[string]string{"GOOGLE_SERVICE_USAGE_CUSTOM_ENDPOINT": "serviceusage/"},
			// The provider polls Service Usage operations at its v1beta1
			// base (service_usage_operation.go:46), which with a root
			// endpoint is /serviceusage/operations/ID.
			Rewrite: func(p string) string {
				if strings.HasPrefix(p, "operations/") {
					return "v1/" + p
				}
				return p
			}}, "serviceusage-api.json", c.serviceUsage},
		{&Service{Name: "cloudresourcemanager.googleapis.com", Title: "Cloud Resource Manager API", Prefix: "/cloudresourcemanager/",
			Endpoints: map[string]string{"GOOGLE_RESOURCE_MANAGER_CUSTOM_ENDPOINT": "cloudresourcemanager/"}}, "cloudresourcemanager-api.json", c.resourceManager},
		{&Service{Name: "iam.googleapis.com", Title: "Identity and Access Management (IAM) API", Prefix: "/iam/",
			Endpoints: map[string]string{"GOOGLE_IAM_CUSTOM_ENDPOINT": "iam/", "GOOGLE_IAM_BETA_CUSTOM_ENDPOINT": "iam/v1/"}}, "iam-api.json", c.iam},
		{&Service{Name: "iamcredentials.googleapis.com", Title: "IAM Service Account Credentials API", Prefix: "/iamcredentials/",
			Endpoints: map[string]string{"GOOGLE_IAM_CREDENTIALS_CUSTOM_ENDPOINT": "iamcredentials/v1/"}}, "iamcredentials-api.json", c.iamCredentials},
		{&Service{Name: "artifactregistry.googleapis.com", Title: "Artifact Registry API", Prefix: "/artifactregistry/",
			Endpoints: map[string]string{"GOOGLE_ARTIFACT_REGISTRY_CUSTOM_ENDPOINT": "artifactregistry/v1/"}}, "artifactregistry-api.json", c.artifactRegistry},
		{&Service{Name: "run.googleapis.com", Title: "Cloud Run Admin API", Prefix: "/run/",
			Endpoints: map[string]string{"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT": "run/v2/"}}, "run-api.json", c.run},
		{&Service{Name: "apigateway.googleapis.com", Title: "API Gateway API", Prefix: "/apigateway/",
			Endpoints: map[string]string{"GOOGLE_API_GATEWAY_CUSTOM_ENDPOINT": "apigateway/v1beta/"}}, "apigateway-api.json", c.apiGateway},
		{&Service{Name: "firebase.googleapis.com", Title: "Firebase Management API", Prefix: "/fb/",
			Endpoints: map[string]string{"GOOGLE_FIREBASE_CUSTOM_ENDPOINT": "fb/v1beta1/"},
			// getWebAppConfig's framework client keeps the version over
			// http and its client library adds it again:
			// /fb/v1beta1/v1beta1/... (gcp-control-plane.md §1.3 item 3).
			Rewrite: func(p string) string { return strings.Replace(p, "v1beta1/v1beta1/", "v1beta1/", 1) }}, "firebase-api.json", c.firebase},
		{&Service{Name: "identitytoolkit.googleapis.com", Title: "Identity Toolkit API", Prefix: "/identitytoolkit/",
			Endpoints: map[string]string{"GOOGLE_IDENTITY_PLATFORM_CUSTOM_ENDPOINT": "identitytoolkit/v2/"}}, "identitytoolkit-api.json", c.identityToolkit},
		{&Service{Name: "storage.googleapis.com", Title: "Cloud Storage JSON API", Prefix: "/storage/",
			Endpoints: map[string]string{"GOOGLE_STORAGE_CUSTOM_ENDPOINT": "storage/v1/"},
			// The document's servicePath is "storage/v1/": its templates
			// start with it, so the prefix goes back on.
			Rewrite: func(p string) string { return "storage/" + p }}, "storage-api.json", c.storage},
	}
	var out []*Service
	for _, d := range defs {
		doc, err := discovery.Load(d.doc)
		if err != nil {
			return nil, err
		}
		d.svc.Doc = doc
		d.svc.Methods = map[string]*Method{}
		d.build(d.svc)
		for id := range d.svc.Methods {
			if doc.Method(id) == nil {
				return nil, fmt.Errorf("%s: method %s is not in %s", d.svc.Name, id, d.doc)
			}
		}
		out = append(out, d.svc)
	}
	return out, nil
}

// KnownServices are the services a project may enable here, with their
// titles: those the stacks enable, and the defaults.
var KnownServices = map[string]string{
	"iam.googleapis.com":                  "Identity and Access Management (IAM) API",
	"iamcredentials.googleapis.com":       "IAM Service Account Credentials API",
	"sts.googleapis.com":                  "Security Token Service API",
	"artifactregistry.googleapis.com":     "Artifact Registry API",
	"run.googleapis.com":                  "Cloud Run Admin API",
	"apigateway.googleapis.com":           "API Gateway API",
	"servicemanagement.googleapis.com":    "Service Management API",
	"servicecontrol.googleapis.com":       "Service Control API",
	"firebase.googleapis.com":             "Firebase Management API",
	"identitytoolkit.googleapis.com":      "Identity Toolkit API",
	"cloudresourcemanager.googleapis.com": "Cloud Resource Manager API",
	"serviceusage.googleapis.com":         "Service Usage API",
	"storage.googleapis.com":              "Cloud Storage API",
}

// Resource-id rules, as the APIs document them.
var (
	// Cloud Run service ids: lowercase letters, digits and hyphens, a
	// letter first, at most 49 characters, not ending in a hyphen
	// (https://cloud.google.com/run/docs/reference/rest/v2/projects.locations.services/create).
	runServiceIDRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,47}[a-z0-9])?$`)
	// Service account ids: 6-30 characters
	// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/create).
	accountIDRe = regexp.MustCompile(`^[a-z]([-a-z0-9]{4,28}[a-z0-9])$`)
	// API Gateway resource ids (apis, configs, gateways): RFC 1035-ish,
	// at most 63 characters
	// (https://cloud.google.com/api-gateway/docs/reference/rest/v1beta/projects.locations.apis/create).
	gatewayIDRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// create stores a new resource; an existing (or soft-deleted) one is 409
// ALREADY_EXISTS.
func (c *Cloud) create(name, kind string, obj map[string]any) error {
	if _, ok := c.st.Objects[name]; ok {
		return AlreadyExists("%s %q already exists.", kind, name)
	}
	if t, ok := c.st.Tombstones[name]; ok && c.now().Before(t.Until) {
		return AlreadyExists("%s %q already exists (it was deleted on %s and its id stays reserved until %s).", kind, name,
			timestamp(t.Until.Add(-softDeleteTTL)), timestamp(t.Until))
	}
	delete(c.st.Tombstones, name)
	c.st.Objects[name] = obj
	return nil
}

// get returns a stored resource, 404 when there is none.
func (c *Cloud) get(name, kind string) (map[string]any, error) {
	obj, ok := c.st.Objects[name]
	if !ok {
		return nil, NotFound("%s %q not found.", kind, name)
	}
	return obj, nil
}

// softDeleteTTL is how long a soft-deleted id stays taken: Workload
// Identity pools and providers "can be undeleted for 30 days"
// (https://cloud.google.com/iam/docs/manage-workload-identity-pools-providers#delete-pool;
// hashicorp/terraform-provider-google#14191).
const softDeleteTTL = 30 * 24 * 60 * 60 * 1e9

// merge copies the body's fields (except output-only ones a client may
// echo) into obj.
func merge(obj, body map[string]any, outputOnly ...string) {
	for k, v := range body {
		skip := false
		for _, o := range outputOnly {
			if k == o {
				skip = true
			}
		}
		if !skip {
			obj[k] = v
		}
	}
}

// applyMask copies the fields the updateMask names (top-level and dotted
// paths) from body into obj; an empty mask copies every field.
func applyMask(obj, body map[string]any, mask string, outputOnly ...string) {
	if strings.TrimSpace(mask) == "" {
		merge(obj, body, outputOnly...)
		return
	}
	for _, path := range strings.Split(mask, ",") {
		path = strings.TrimSpace(path)
		parts := strings.Split(camel(path), ".")
		src, dst := body, obj
		for i, p := range parts {
			if i == len(parts)-1 {
				if v, ok := src[p]; ok {
					dst[p] = v
				} else {
					delete(dst, p)
				}
				break
			}
			s, _ := src[p].(map[string]any)
			d, ok := dst[p].(map[string]any)
			if !ok {
				d = map[string]any{}
				dst[p] = d
			}
			if s == nil {
				s = map[string]any{}
			}
			src, dst = s, d
		}
	}
}

// camel turns snake_case mask paths into the JSON names.
func camel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

// projectResource is "projects/ID" for a path's project (id or number).
func (c *Cloud) projectResource(idOrNumber string) string {
	if p := c.st.project(idOrNumber); p != nil {
		return "projects/" + p.ID
	}
	return "projects/" + idOrNumber
}
