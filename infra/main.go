// Command infra is gatehouse's Pulumi program: the backend image, its
// private Cloud Run service, Firebase Authentication and API Gateway, in one
// typed dependency graph. Run it with `pulumi up` from the repository root.
package main

import (
	"os"
	"path/filepath"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/infra/settings"
	"github.com/gatehouse/gatehouse/spec"
)

func main() {
	pulumi.Run(program)
}

// Google APIs the stack needs, always and with managed Firebase.
var (
	coreAPIs = []string{
		"iam.googleapis.com",
		"artifactregistry.googleapis.com",
		"run.googleapis.com",
		"apigateway.googleapis.com",
		"servicemanagement.googleapis.com",
		"servicecontrol.googleapis.com",
	}
	firebaseAPIs = []string{"firebase.googleapis.com", "identitytoolkit.googleapis.com"}
)

// program is the Pulumi program: the graph with its outputs exported.
func program(ctx *pulumi.Context) error { return build(ctx, ctx.Export) }

// build reads the configuration, builds the graph and hands each stack
// output to export. Tests run it with Pulumi's mocks.
func build(ctx *pulumi.Context, export func(string, pulumi.Input)) error {
	cfg, err := settings.Load(config.New(ctx, "gcp"), config.New(ctx, settings.Namespace))
	if err != nil {
		return err // before any resource is registered
	}
	if err := cfg.ReadFragments(readRepoFile); err != nil {
		return err // also before any resource
	}

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

	apiList := coreAPIs
	if cfg.ManageFirebase {
		apiList = append(append([]string{}, coreAPIs...), firebaseAPIs...)
	}
	apis, err := components.NewProjectServices(ctx, "apis", &components.ProjectServicesArgs{
		Project: cfg.Project, Services: apiList,
	}, google)
	if err != nil {
		return err
	}

	identity, err := components.NewIdentity(ctx, "identity", &components.IdentityArgs{
		Manage:      cfg.ManageFirebase,
		Project:     cfg.Project,
		ProjectID:   cfg.FirebaseProjectID,
		APIKey:      cfg.FirebaseAPIKey,
		DisplayName: cfg.ServiceName,
		Exists:      cfg.IdentityPlatformExists,
	}, google, apis.Require(firebaseAPIs...))
	if err != nil {
		return err
	}

	accounts, err := components.NewServiceAccounts(ctx, "accounts", &components.ServiceAccountsArgs{
		Project: cfg.Project, Prefix: cfg.ServiceName, Existing: cfg.ExistingServiceAccounts,
		BackendAccountIDs: backendAccountIDs(cfg),
	}, google, apis.Require("iam.googleapis.com"))
	if err != nil {
		return err
	}

	backend, err := components.NewSecureBackend(ctx, "backend", &components.SecureBackendArgs{
		Project:               cfg.Project,
		Region:                cfg.Region,
		ServiceName:           cfg.ServiceName,
		ImageTag:              cfg.ImageTag,
		ImageRegistry:         cfg.ImageRegistry,
		RuntimeServiceAccount: accounts.RuntimeEmail,
		InvokerMember:         accounts.GatewayMember,
		MinInstances:          cfg.MinInstances,
		MaxInstances:          cfg.MaxInstances,
		CPU:                   cfg.CPU,
		Memory:                cfg.Memory,
		Concurrency:           cfg.Concurrency,
		RequestTimeout:        cfg.RequestTimeout,
		LogLevel:              cfg.LogLevel,
		CORSOrigins:           cfg.CORSOrigins,
		DeletionProtection:    cfg.DeletionProtection,
		RegistryAPI:           apis.Require("artifactregistry.googleapis.com"),
		RunAPI:                apis.Require("run.googleapis.com"),
	}, google)
	if err != nil {
		return err
	}

	// Further backends (gatehouse:backends): each its own image (in the one
	// repository), runtime account, Cloud Run service and invoker binding.
	backendURLs := pulumi.StringMap{}
	for _, b := range cfg.Backends {
		extra, err := components.NewSecureBackend(ctx, "backend-"+b.Name, &components.SecureBackendArgs{
			Project:               cfg.Project,
			Region:                cfg.Region,
			ServiceName:           settings.BackendServiceName(cfg.ServiceName, b.Name),
			ImageTag:              cfg.ImageTag,
			ImageRegistry:         cfg.ImageRegistry,
			RuntimeServiceAccount: accounts.BackendEmails[b.Name],
			InvokerMember:         accounts.GatewayMember,
			MinInstances:          b.Run.MinInstances,
			MaxInstances:          b.Run.MaxInstances,
			CPU:                   b.Run.CPU,
			Memory:                b.Run.Memory,
			Concurrency:           b.Run.Concurrency,
			RequestTimeout:        b.Run.RequestTimeout,
			LogLevel:              cfg.LogLevel,
			CORSOrigins:           cfg.CORSOrigins,
			DeletionProtection:    cfg.DeletionProtection,
			RegistryAPI:           apis.Require("artifactregistry.googleapis.com"),
			RunAPI:                apis.Require("run.googleapis.com"),
			Repository:            backend.Repository,
			Build:                 imageBuild(b),
			ImageRef:              b.Image,
		}, google)
		if err != nil {
			return err
		}
		backendURLs[b.Name] = extra.URL
	}

	gateway, err := components.NewGateway(ctx, "gateway", &components.GatewayArgs{
		Project:        cfg.Project,
		Region:         cfg.Region,
		APIID:          cfg.ServiceName,
		ServiceAccount: accounts.GatewayEmail,
		BackendURL:     backend.URL,
		BackendURLs:    backendURLs,
		Spec: func(backendURL, managedService string, urls map[string]string) spec.Params {
			return cfg.SpecParams(backendURL, managedService, urls)
		},
		GatewayAPI: apis.Require("apigateway.googleapis.com", "servicemanagement.googleapis.com", "servicecontrol.googleapis.com"),
		Protect:    cfg.DeletionProtection,
	}, google, pulumi.DependsOn([]pulumi.Resource{identity}))
	if err != nil {
		return err
	}

	export("gatewayUrl", gateway.URL)
	export("backendUrl", backend.URL)
	export("gatewayServiceAccount", accounts.GatewayEmail)
	export("runtimeServiceAccount", accounts.RuntimeEmail)
	export("apiConfigId", gateway.ConfigID)
	export("image", backend.ImageDigest)
	export("firebaseProjectId", identity.ProjectID)
	export("firebaseApiKey", identity.APIKey)
	if len(cfg.Backends) > 0 {
		export("backendUrls", backendURLs)
	}
	export("region", pulumi.String(cfg.Region))
	export("project", pulumi.String(cfg.Project))
	return nil
}

// readRepoFile reads a repository-relative file: Pulumi runs the program
// in infra/.
func readRepoFile(path string) ([]byte, error) { return os.ReadFile(filepath.Join("..", path)) }

func backendAccountIDs(cfg settings.Config) map[string]string {
	ids := map[string]string{}
	for _, b := range cfg.Backends {
		ids[b.Name] = settings.BackendAccountID(cfg.ServiceName, b.Name)
	}
	return ids
}

// imageBuild is a backend's Docker build (paths relative to infra/), or
// nil for an existing image.
func imageBuild(b settings.Backend) *components.ImageBuild {
	if b.Image != "" {
		return nil
	}
	build := &components.ImageBuild{Context: filepath.Join("..", b.Context), Dockerfile: filepath.Join("..", b.Dockerfile)}
	if b.Command != "" {
		build.Args = map[string]string{"CMD": b.Command}
	}
	return build
}
