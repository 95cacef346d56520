// Command bootstrap is gatehouse's one-time CI setup, run once by a project
// owner: keyless GitHub Actions access (a Workload Identity pool and GitHub
// provider pinned to one repository), a deployer and a previewer service
// account with the least roles the main stack needs, the main stack's
// service accounts (so the deployer's actAs covers those alone), Firebase
// and Identity Platform (which only an owner can turn on), and optionally
// a bucket for Pulumi state. Its outputs are the GitHub
// repository variables the workflows read.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/stack"
)

func main() { pulumi.Run(program) }

func program(ctx *pulumi.Context) error { return build(ctx, ctx.Export) }

// build reads the configuration, builds the graph and exports the values
// GitHub's repository variables take, under the variables' names.
func build(ctx *pulumi.Context, export func(string, pulumi.Input)) error {
	cfg, err := Load(config.New(ctx, "gcp"), config.New(ctx, Namespace))
	if err != nil {
		return err // before any resource is registered
	}
	provider, err := components.NewGoogleProvider(ctx, "gcp", components.GoogleProviderArgs{
		Project: cfg.Project, AccessToken: cfg.AccessToken,
		Credentials: cfg.Credentials, ImpersonateServiceAccount: cfg.ImpersonateServiceAccount,
	})
	if err != nil {
		return err
	}
	ci, err := NewCIAccess(ctx, "ci", &CIAccessArgs{
		Project:           cfg.Project,
		Repository:        cfg.Repository,
		RepositoryID:      cfg.RepositoryID,
		DeployEnvironment: cfg.DeployEnvironment,
		DeployBranch:      cfg.DeployBranch,
		PoolID:            cfg.PoolID,
		Names:             stack.Names{Service: cfg.ServiceName, Project: cfg.Project, Region: cfg.Region},
		Backends:          stackBackends(cfg.Backends),
		ManageFirebase:    cfg.ManageFirebase,
		InitializeAuth:    cfg.InitializeAuth,
		StateBucket:       cfg.StateBucket,
		StateLocation:     cfg.StateLocation,
	}, pulumi.Providers(provider))
	if err != nil {
		return err
	}
	export("GCP_WORKLOAD_IDENTITY_PROVIDER", ci.Provider.Name)
	export("GCP_DEPLOY_SERVICE_ACCOUNT", ci.Deployer.Email)
	export("GCP_PREVIEW_SERVICE_ACCOUNT", ci.Previewer.Email)
	export("PULUMI_BACKEND_URL", ci.StateURL)
	return nil
}
