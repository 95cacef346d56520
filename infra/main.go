// Command infra is gatehouse's Pulumi program: each backend's image, its
// private Cloud Run service and runtime account, Firebase Authentication and
// API Gateway, in one typed dependency graph. Run it with `pulumi up` from
// the repository root.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/stack"
)

func main() {
	pulumi.Run(program)
}

// repoRoot is the repository's root as the program opens files: Pulumi runs
// it in infra/ (Pulumi.yaml's main). The stack resolves every
// repository-relative path against it, once.
const repoRoot = ".."

// program is the Pulumi program: the graph with its outputs exported.
func program(ctx *pulumi.Context) error { return build(ctx, ctx.Export) }

// build reads the configuration, builds the graph and hands each stack
// output to export. Tests run it with Pulumi's mocks.
func build(ctx *pulumi.Context, export func(string, pulumi.Input)) error {
	cfg, err := stack.Load(config.New(ctx, "gcp"), config.New(ctx, stack.Namespace), repoRoot)
	if err != nil {
		return err // before any resource is registered
	}
	names := cfg.Names()

	// The stack's own Google provider, used by every Google resource and
	// invoke (components pass it to their children and invokes through
	// pulumi.Parent).
	gcpProvider, err := components.NewGoogleProvider(ctx, "gcp", components.GoogleProviderArgs{
		Project: cfg.Project, Region: cfg.Region, AccessToken: cfg.AccessToken,
		Credentials: cfg.Credentials, ImpersonateServiceAccount: cfg.ImpersonateServiceAccount,
	})
	if err != nil {
		return err
	}
	google := pulumi.Providers(gcpProvider)

	// The APIs every component below needs, each declared in its own file.
	needs := components.StackNeeds(components.StackOptions{ManageFirebase: cfg.ManageFirebase, ExistingServiceAccounts: cfg.ExistingServiceAccounts})
	apis, err := components.NewProjectServices(ctx, "apis", &components.ProjectServicesArgs{
		Project: cfg.Project, Services: needs.APIs,
	}, google)
	if err != nil {
		return err
	}

	auth, err := components.NewFirebaseAuth(ctx, "identity", &components.FirebaseAuthArgs{
		Manage:      cfg.ManageFirebase,
		Project:     cfg.Project,
		ProjectID:   cfg.FirebaseProjectID,
		APIKey:      cfg.FirebaseAPIKey,
		DisplayName: cfg.ServiceName,
		Exists:      cfg.IdentityPlatformExists,
		AllowSignUp: cfg.AllowSignUp,
		Services:    apis,
	}, google)
	if err != nil {
		return err
	}

	accounts, err := components.NewServiceAccounts(ctx, "accounts", &components.ServiceAccountsArgs{
		Project:  cfg.Project,
		Accounts: names.Accounts(cfg.BackendNames()),
		Existing: cfg.ExistingServiceAccounts,
		Services: apis,
	}, google)
	if err != nil {
		return err
	}
	gatewayEmail := accounts.Email(names.GatewayAccount())

	repository, err := components.NewImageRepository(ctx, "images", &components.ImageRepositoryArgs{
		Project: cfg.Project, Region: cfg.Region, RepositoryID: names.Repository(), Registry: names.Registry(),
		Protect: cfg.DeletionProtection, Services: apis,
	}, google)
	if err != nil {
		return err
	}

	// The backends, /v1 included: each its own image (in the one
	// repository), runtime account, Cloud Run service and invoker binding.
	urls, runtimeEmails, images := pulumi.StringMap{}, pulumi.StringMap{}, pulumi.StringMap{}
	for _, b := range cfg.Backends {
		runtime := accounts.Email(names.RuntimeAccount(b.Name))
		backend, err := components.NewSecureBackend(ctx, "backend-"+b.Name, &components.SecureBackendArgs{
			Project:               cfg.Project,
			Region:                cfg.Region,
			ServiceName:           names.CloudRunService(b.Name),
			Build:                 b.Build,
			Repository:            repository,
			ImageName:             names.Image(b.Name),
			ImageTag:              cfg.ImageTag,
			ImageRef:              b.Image,
			RuntimeServiceAccount: runtime,
			InvokerMember:         pulumi.Sprintf("serviceAccount:%s", gatewayEmail),
			Run:                   b.Run,
			LogLevel:              cfg.LogLevel,
			CORSOrigins:           cfg.CORSOrigins,
			RequireVerifiedEmail:  cfg.RequireVerifiedEmail,
			DeletionProtection:    cfg.DeletionProtection,
			Services:              apis,
		}, google, formerBackendName(b.Name))
		if err != nil {
			return err
		}
		urls[b.Name], runtimeEmails[b.Name], images[b.Name] = backend.URL, runtime, backend.ImageDigest
	}

	gateway, err := components.NewGateway(ctx, "gateway", &components.GatewayArgs{
		Project:        cfg.Project,
		Region:         cfg.Region,
		APIID:          names.API(),
		ServiceAccount: gatewayEmail,
		Contract:       cfg.Contract(),
		BackendURLs:    urls,
		Protect:        cfg.DeletionProtection,
		Services:       apis,
	}, google, pulumi.DependsOn([]pulumi.Resource{auth}))
	if err != nil {
		return err
	}

	first := cfg.Backends[0].Name
	export("gatewayUrl", gateway.URL)
	export("backendUrls", urls)
	export("runtimeServiceAccounts", runtimeEmails)
	export("images", images)
	// The first backend's, as before every backend was in backendUrls:
	// kept for one release (the deploy workflow reads backendUrl).
	export("backendUrl", urls[first])
	export("runtimeServiceAccount", runtimeEmails[first])
	export("image", images[first])
	export("gatewayServiceAccount", gatewayEmail)
	export("apiConfigId", gateway.ConfigID)
	export("firebaseProjectId", auth.ProjectID)
	export("firebaseApiKey", auth.APIKey)
	export("region", pulumi.String(cfg.Region))
	export("project", pulumi.String(cfg.Project))
	return nil
}

// formerBackendName keeps the URNs of the original backend's resources:
// before every backend was an entry of gatehouse:backends, the /v1
// backend's component was "backend" (its children "backend-image",
// "backend-service", ...), not "backend-v1". The alias carries over to the
// children, whose names start with the component's.
func formerBackendName(backend string) pulumi.ResourceOption {
	if backend != stack.OriginalBackend {
		return pulumi.Aliases(nil)
	}
	return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("backend")}})
}
