package components

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// providerNeeds: every request carries the project as its quota project
// (user_project_override, below), which needs serviceusage.services.use
// (https://cloud.google.com/docs/quotas/set-quota-project). The deployer
// has it through roles/serviceusage.serviceUsageAdmin (services.go); the
// previewer, which may change nothing, in its custom role.
var providerNeeds = Needs{PreviewPermissions: []Permission{
	{"serviceusage.services.use", "every request names the project as its quota project (X-Goog-User-Project: the provider sets user_project_override)"},
}}

// GoogleProviderArgs configure a program's own Google provider.
type GoogleProviderArgs struct {
	Project, Region string // Region may be empty
	// The credentials the default provider would read from gcp:* stack
	// config; an explicit provider reads no stack config by itself. Empty:
	// Application Default Credentials.
	AccessToken, Credentials, ImpersonateServiceAccount string
}

// NewGoogleProvider is the provider both Pulumi programs (infra and
// infra/bootstrap) pass to every Google resource and invoke.
//
// With user credentials (gcloud auth application-default login), the
// Firebase and Identity Toolkit APIs answer 403 "requires a quota project"
// unless requests name one; `gcloud auth application-default
// set-quota-project` does not reach the Terraform-based provider
// (hashicorp/terraform-provider-google#18668, #20459, #18717).
// user_project_override with billing_project makes every request carry the
// project as its quota project ("X-Goog-User-Project"):
// https://registry.terraform.io/providers/hashicorp/google/latest/docs/guides/provider_reference#user_project_override
func NewGoogleProvider(ctx *pulumi.Context, name string, a GoogleProviderArgs) (*gcp.Provider, error) {
	return gcp.NewProvider(ctx, name, &gcp.ProviderArgs{
		Project:                   pulumi.String(a.Project),
		Region:                    stringOrNil(a.Region),
		UserProjectOverride:       pulumi.Bool(true),
		BillingProject:            pulumi.String(a.Project),
		AccessToken:               secretOrNil(a.AccessToken),
		Credentials:               secretOrNil(a.Credentials),
		ImpersonateServiceAccount: stringOrNil(a.ImpersonateServiceAccount),
	})
}

// secretOrNil is v as a secret input, or nil (unset) when empty.
func secretOrNil(v string) pulumi.StringPtrInput {
	if v == "" {
		return nil
	}
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
}

func stringOrNil(v string) pulumi.StringPtrInput {
	if v == "" {
		return nil
	}
	return pulumi.String(v)
}
