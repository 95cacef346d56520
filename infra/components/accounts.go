package components

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// ServiceAccountsArgs configures the stack's two identities.
type ServiceAccountsArgs struct {
	Project string
	Prefix  string // account ids are Prefix+"-runtime" and Prefix+"-gateway"
}

// ServiceAccounts are the backend's runtime identity and the gateway's
// identity. Neither gets a project-level role: the runtime account needs
// none (the backend calls no Google API), and the gateway account is granted
// roles/run.invoker on the one Cloud Run service only.
type ServiceAccounts struct {
	pulumi.ResourceState

	Runtime *serviceaccount.Account
	Gateway *serviceaccount.Account
}

// NewServiceAccounts creates the runtime and gateway service accounts.
func NewServiceAccounts(ctx *pulumi.Context, name string, args *ServiceAccountsArgs, opts ...pulumi.ResourceOption) (*ServiceAccounts, error) {
	c := &ServiceAccounts{}
	if err := ctx.RegisterComponentResource(typePrefix+"ServiceAccounts", name, c, opts...); err != nil {
		return nil, err
	}
	var err error
	c.Runtime, err = serviceaccount.NewAccount(ctx, name+"-runtime", &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.Prefix + "-runtime"),
		DisplayName: pulumi.String(args.Prefix + " Cloud Run runtime"),
		Description: pulumi.String("Identity of the gatehouse backend on Cloud Run. Holds no project roles."),
	}, withParent(c)...)
	if err != nil {
		return nil, err
	}
	c.Gateway, err = serviceaccount.NewAccount(ctx, name+"-gateway", &serviceaccount.AccountArgs{
		Project:     pulumi.String(args.Project),
		AccountId:   pulumi.String(args.Prefix + "-gateway"),
		DisplayName: pulumi.String(args.Prefix + " API Gateway"),
		Description: pulumi.String("Identity API Gateway uses to invoke the gatehouse backend (roles/run.invoker on that service only)."),
	}, withParent(c)...)
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"runtimeEmail": c.Runtime.Email,
		"gatewayEmail": c.Gateway.Email,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
