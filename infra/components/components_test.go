package components

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	pt "github.com/gatehouse/gatehouse/infra/internal/pulumitest"
	"github.com/gatehouse/gatehouse/stack"
)

// Tests of single components, with literal args and Pulumi's mocks: no
// stack config is involved.

const digest = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

// TestSecureBackendAlone: one backend, built and pushed to a repository:
// exactly one invoker (the given member, on this service), the image
// pinned by digest, the sizing and runtime account as given.
func TestSecureBackendAlone(t *testing.T) {
	m := &pt.Mocks{Digest: digest}
	err := pt.RunComponent(t, m, func(ctx *pulumi.Context) error {
		repo, err := NewImageRepository(ctx, "images", &ImageRepositoryArgs{Project: "p-123456", Region: "europe-west1",
			RepositoryID: "svc", Registry: "europe-west1-docker.pkg.dev"})
		if err != nil {
			return err
		}
		_, err = NewSecureBackend(ctx, "backend-api", &SecureBackendArgs{
			Project: "p-123456", Region: "europe-west1", ServiceName: "svc-api",
			Build:      &stack.Build{Context: "../service", Dockerfile: "../service/cmd/hello/Dockerfile", Args: map[string]string{"CMD": "./cmd/hello"}},
			Repository: repo, ImageName: "europe-west1-docker.pkg.dev/p-123456/svc/svc-api", ImageTag: "v7",
			RuntimeServiceAccount: pulumi.String("svc-api-rt@p-123456.iam.gserviceaccount.com"),
			InvokerMember:         pulumi.String("serviceAccount:svc-gateway@p-123456.iam.gserviceaccount.com"),
			Run:                   stack.RunSettings{MinInstances: 1, MaxInstances: 4, Concurrency: 20, CPU: "2", Memory: "1Gi", RequestTimeout: 45 * time.Second},
			LogLevel:              "debug",
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	svc := m.One(t, "gcp:cloudrunv2/service:Service")
	inv := m.One(t, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
	img := m.One(t, "docker:index/image:Image")
	if inv.Str("role") != "roles/run.invoker" || inv.Str("member") != "serviceAccount:svc-gateway@p-123456.iam.gserviceaccount.com" || inv.Str("name") != "svc-api" {
		t.Errorf("invoker = %v", inv.Inputs)
	}
	if got := svc.Str("template.containers.0.image"); got != "europe-west1-docker.pkg.dev/p-123456/svc/svc-api@sha256:"+digest {
		t.Errorf("Cloud Run runs %q, want the pushed digest", got)
	}
	if img.Str("imageName") != "europe-west1-docker.pkg.dev/p-123456/svc/svc-api:v7" || img.Str("build.args.CMD") != "./cmd/hello" || img.Str("registry.server") != "europe-west1-docker.pkg.dev" {
		t.Errorf("image = %v", img.Inputs)
	}
	for path, want := range map[string]any{
		"name": "svc-api", "template.serviceAccount": "svc-api-rt@p-123456.iam.gserviceaccount.com", "template.timeout": "45s",
		"template.scaling.minInstanceCount": 1.0, "template.scaling.maxInstanceCount": 4.0, "template.maxInstanceRequestConcurrency": 20.0,
		"template.containers.0.resources.limits.cpu": "2", "template.containers.0.resources.limits.memory": "1Gi",
	} {
		if got := svc.Input(path); got != want {
			t.Errorf("Cloud Run %s = %v, want %v", path, got, want)
		}
	}
	if repo := m.One(t, "gcp:artifactregistry/repository:Repository"); repo.Str("repositoryId") != "svc" {
		t.Errorf("repository = %v", repo.Inputs)
	}
}

// An existing image is run as it is: nothing is built or pushed.
func TestSecureBackendExistingImage(t *testing.T) {
	m := &pt.Mocks{}
	const ref = "europe-docker.pkg.dev/p/r/img@sha256:" + digest
	err := pt.RunComponent(t, m, func(ctx *pulumi.Context) error {
		_, err := NewSecureBackend(ctx, "backend-x", &SecureBackendArgs{Project: "p-123456", Region: "europe-west1", ServiceName: "svc-x",
			ImageRef: ref, RuntimeServiceAccount: pulumi.String("a@p-123456.iam.gserviceaccount.com"), InvokerMember: pulumi.String("serviceAccount:g@p-123456.iam.gserviceaccount.com"),
			Run: stack.RunSettings{MaxInstances: 1, Concurrency: 1, CPU: "1", Memory: "512Mi", RequestTimeout: time.Minute}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.All("docker:index/image:Image")); n != 0 {
		t.Errorf("%d images built for an existing one", n)
	}
	if got := m.One(t, "gcp:cloudrunv2/service:Service").Str("template.containers.0.image"); got != ref {
		t.Errorf("Cloud Run runs %q, want %q", got, ref)
	}
}

// Require of an API the services do not enable is an error, not a dropped
// wait; a component built without services waits on nothing.
func TestRequireUnknownAPI(t *testing.T) {
	err := pt.RunComponent(t, &pt.Mocks{}, func(ctx *pulumi.Context) error {
		apis, err := NewProjectServices(ctx, "apis", &ProjectServicesArgs{Project: "p-123456", Services: []string{"iam.googleapis.com"}})
		if err != nil {
			return err
		}
		if _, err := apis.Require("iam.googleapis.com"); err != nil {
			t.Errorf("Require(enabled) = %v", err)
		}
		if _, err := apis.Require("iam.googleapis.com", "run.googlepis.com"); err == nil || !strings.Contains(err.Error(), "run.googlepis.com") {
			t.Errorf("Require of a misspelt API = %v, want an error naming it", err)
		}
		var none *ProjectServices
		if _, err := none.Require("run.googleapis.com"); err != nil {
			t.Errorf("nil services: %v", err)
		}
		// A component whose needs the program left out fails to build.
		_, err = NewImageRepository(ctx, "images", &ImageRepositoryArgs{Project: "p-123456", Region: "europe-west1", RepositoryID: "svc", Services: apis})
		if err == nil || !strings.Contains(err.Error(), "artifactregistry.googleapis.com") {
			t.Errorf("a repository without its API enabled = %v, want an error naming it", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// StackNeeds: the APIs the program enables and the roles the deployer
// gets, by the stack's options; each need declared once.
func TestStackNeeds(t *testing.T) {
	base := StackNeeds(StackOptions{ExistingServiceAccounts: true})
	if got := strings.Join(base.APIs, " "); got != "iam.googleapis.com artifactregistry.googleapis.com run.googleapis.com apigateway.googleapis.com servicemanagement.googleapis.com servicecontrol.googleapis.com" {
		t.Errorf("APIs = %s", got)
	}
	if got := strings.Join(Roles(base.DeployRoles), " "); got != "roles/serviceusage.serviceUsageAdmin roles/artifactregistry.admin roles/run.admin roles/apigateway.admin" {
		t.Errorf("deploy roles = %s", got)
	}
	fb := StackNeeds(StackOptions{ManageFirebase: true, ExistingServiceAccounts: true})
	if len(fb.DeployRoles) != len(base.DeployRoles) {
		t.Errorf("Firebase adds deploy roles %v: it needs single permissions, not roles/firebase.admin", Roles(fb.DeployRoles[len(base.DeployRoles):]))
	}
	if got := strings.Join(Names(fb.DeployPermissions), " "); got != "firebase.projects.get firebase.clients.create firebase.clients.get firebaseauth.configs.get firebaseauth.configs.update" {
		t.Errorf("Firebase's deploy permissions = %s", got)
	}
	if got := strings.Join(Names(fb.PreviewPermissions), " "); got != "serviceusage.services.use firebase.clients.get" {
		t.Errorf("preview permissions = %s", got)
	}
	for _, p := range append(fb.DeployPermissions, fb.PreviewPermissions...) {
		if p.Reason == "" {
			t.Errorf("permission %s has no reason", p.Name)
		}
	}
	if own := StackNeeds(StackOptions{}); !strings.Contains(strings.Join(Roles(own.DeployRoles), " "), "roles/iam.serviceAccountAdmin") {
		t.Error("creating the accounts needs no role")
	}
}

// The renamed component keeps its URN (and its children's) through an
// alias of its former type.
func TestFirebaseAuthAlias(t *testing.T) {
	m := &pt.Mocks{}
	err := pt.RunComponent(t, m, func(ctx *pulumi.Context) error {
		_, err := NewFirebaseAuth(ctx, "identity", &FirebaseAuthArgs{ProjectID: "other-proj", APIKey: "AIza"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	c := m.One(t, typePrefix+"FirebaseAuth")
	if !strings.Contains(strings.Join(c.Aliases, " "), typePrefix+"Identity") {
		t.Errorf("aliases %v, want the former type %s", c.Aliases, typePrefix+"Identity")
	}
}
