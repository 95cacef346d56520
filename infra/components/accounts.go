package components

import (
	"fmt"
	"maps"
	"slices"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RuntimeAccountID and GatewayAccountID are the account ids of the stack's
// two service accounts. The CI bootstrap program creates accounts with
// these ids when the stack is to use existing ones.
func RuntimeAccountID(prefix string) string { return prefix + "-runtime" }
func GatewayAccountID(prefix string) string { return prefix + "-gateway" }

// RuntimeDisplayName and GatewayDisplayName are the accounts' display names.
func RuntimeDisplayName(prefix string) string { return prefix + " Cloud Run runtime" }
func GatewayDisplayName(prefix string) string { return prefix + " API Gateway" }

// AccountEmail is the email of a user-managed service account.
func AccountEmail(accountID, project string) string {
	return fmt.Sprintf("%s@%s.iam.gserviceaccount.com", accountID, project)
}

// Descriptions of the two accounts, shared with the bootstrap program.
const (
	RuntimeAccountDescription = "Identity of the gatehouse backend on Cloud Run. Holds no project roles."
	GatewayAccountDescription = "Identity API Gateway uses to invoke the gatehouse backend (roles/run.invoker on that service only)."
)

// ServiceAccountsArgs configures the stack's two identities.
type ServiceAccountsArgs struct {
	Project string
	Prefix  string // account ids are RuntimeAccountID(Prefix) and GatewayAccountID(Prefix)
	// Existing uses accounts created outside the stack (by infra/bootstrap)
	// with those ids instead of creating them.
	Existing bool
	// Backends are further backends, each with a runtime account of its own
	// (id BackendAccountIDs[name]).
	BackendAccountIDs map[string]string
}

// ServiceAccounts are the backend's runtime identity and the gateway's
// identity. Neither gets a project-level role: the runtime account needs
// none (the backend calls no Google API), and the gateway account is granted
// roles/run.invoker on the one Cloud Run service only.
type ServiceAccounts struct {
	pulumi.ResourceState

	// Runtime and Gateway are nil with Existing.
	Runtime *serviceaccount.Account
	Gateway *serviceaccount.Account

	RuntimeEmail  pulumi.StringOutput
	GatewayEmail  pulumi.StringOutput
	GatewayMember pulumi.StringOutput // "serviceAccount:<gateway email>"

	// BackendEmails are the further backends' runtime accounts, by name.
	BackendEmails map[string]pulumi.StringOutput
}

// NewServiceAccounts creates the runtime and gateway service accounts, or
// refers to the existing ones.
func NewServiceAccounts(ctx *pulumi.Context, name string, args *ServiceAccountsArgs, opts ...pulumi.ResourceOption) (*ServiceAccounts, error) {
	componentName := name
	c := &ServiceAccounts{}
	if err := ctx.RegisterComponentResource(typePrefix+"ServiceAccounts", name, c, opts...); err != nil {
		return nil, err
	}
	if args.Existing {
		runtime := AccountEmail(RuntimeAccountID(args.Prefix), args.Project)
		gateway := AccountEmail(GatewayAccountID(args.Prefix), args.Project)
		c.RuntimeEmail = pulumi.String(runtime).ToStringOutput()
		c.GatewayEmail = pulumi.String(gateway).ToStringOutput()
		c.GatewayMember = pulumi.String("serviceAccount:" + gateway).ToStringOutput()
	} else {
		var err error
		c.Runtime, err = serviceaccount.NewAccount(ctx, name+"-runtime", &serviceaccount.AccountArgs{
			Project:     pulumi.String(args.Project),
			AccountId:   pulumi.String(RuntimeAccountID(args.Prefix)),
			DisplayName: pulumi.String(RuntimeDisplayName(args.Prefix)),
			Description: pulumi.String(RuntimeAccountDescription),
		}, withParent(c)...)
		if err != nil {
			return nil, err
		}
		c.Gateway, err = serviceaccount.NewAccount(ctx, name+"-gateway", &serviceaccount.AccountArgs{
			Project:     pulumi.String(args.Project),
			AccountId:   pulumi.String(GatewayAccountID(args.Prefix)),
			DisplayName: pulumi.String(GatewayDisplayName(args.Prefix)),
			Description: pulumi.String(GatewayAccountDescription),
		}, withParent(c)...)
		if err != nil {
			return nil, err
		}
		c.RuntimeEmail, c.GatewayEmail, c.GatewayMember = c.Runtime.Email, c.Gateway.Email, c.Gateway.Member
	}
	c.BackendEmails = map[string]pulumi.StringOutput{}
	compName := componentName
	for _, name := range slices.Sorted(maps.Keys(args.BackendAccountIDs)) {
		id := args.BackendAccountIDs[name]
		if args.Existing {
			c.BackendEmails[name] = pulumi.String(AccountEmail(id, args.Project)).ToStringOutput()
			continue
		}
		acct, err := serviceaccount.NewAccount(ctx, compName+"-"+name+"-runtime", &serviceaccount.AccountArgs{
			Project:     pulumi.String(args.Project),
			AccountId:   pulumi.String(id),
			DisplayName: pulumi.String(args.Prefix + " " + name + " runtime"),
			Description: pulumi.String("Identity of the gatehouse backend " + name + " on Cloud Run. Holds no project roles."),
		}, withParent(c)...)
		if err != nil {
			return nil, err
		}
		c.BackendEmails[name] = acct.Email
	}
	outputs := pulumi.Map{"runtimeEmail": c.RuntimeEmail, "gatewayEmail": c.GatewayEmail}
	for name, email := range c.BackendEmails {
		outputs[name+"RuntimeEmail"] = email
	}
	if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}
