package components

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/stack"
)

// accountsNeeds: the accounts wait on the IAM API; creating them needs
// iam.serviceAccounts.create, which no deployer role of the CI bootstrap
// carries: with existingServiceAccounts (how CI deploys) the bootstrap
// creates them, and the stack creates none.
func accountsNeeds(existing bool) Needs {
	n := Needs{APIs: []string{"iam.googleapis.com"}}
	if !existing {
		n.DeployRoles = []Grant{{"roles/iam.serviceAccountAdmin", "create the stack's service accounts (not needed with existingServiceAccounts, where the CI bootstrap creates them)"}}
	}
	return n
}

// ServiceAccountsArgs configures the stack's identities.
type ServiceAccountsArgs struct {
	Project string
	// Accounts are the stack's accounts (stack.Names.Accounts): one
	// runtime account per backend, and the gateway's.
	Accounts []stack.Account
	// Existing uses accounts created outside the stack (by infra/bootstrap)
	// with those ids instead of creating them.
	Existing bool
	Services *ProjectServices // the APIs to wait on
}

// ServiceAccounts are the backends' runtime identities and the gateway's
// identity. None gets a project-level role: the runtime accounts need none
// (the backends call no Google API), and the gateway account is granted
// roles/run.invoker on each backend's Cloud Run service only.
type ServiceAccounts struct {
	pulumi.ResourceState

	// Created are the accounts by Key; empty with Existing.
	Created map[string]*serviceaccount.Account
	// Emails are the accounts' emails by Key.
	Emails map[string]pulumi.StringOutput
}

// NewServiceAccounts creates the stack's service accounts, or refers to
// the existing ones.
func NewServiceAccounts(ctx *pulumi.Context, name string, args *ServiceAccountsArgs, opts ...pulumi.ResourceOption) (*ServiceAccounts, error) {
	c := &ServiceAccounts{Created: map[string]*serviceaccount.Account{}, Emails: map[string]pulumi.StringOutput{}}
	if err := ctx.RegisterComponentResource(typePrefix+"ServiceAccounts", name, c, opts...); err != nil {
		return nil, err
	}
	iamAPI, err := args.Services.Require(accountsNeeds(args.Existing).APIs...)
	if err != nil {
		return nil, err
	}
	outputs := pulumi.Map{}
	for _, a := range args.Accounts {
		if args.Existing {
			c.Emails[a.Key] = pulumi.String(stack.AccountEmail(a.ID, args.Project)).ToStringOutput()
		} else {
			acct, err := NewStackAccount(ctx, name+"-"+a.Key, args.Project, a,
				withParent(c, iamAPI, FormerName(name, a.Key, a.FormerKey))...)
			if err != nil {
				return nil, err
			}
			c.Created[a.Key], c.Emails[a.Key] = acct, acct.Email
		}
		outputs[a.Key] = c.Emails[a.Key]
	}
	if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}

// NewStackAccount creates one of the stack's own accounts (a backend's
// runtime account or the gateway's), as the main stack and the CI
// bootstrap both do, so that either can hand it to the other:
//   - retained on delete: a live Cloud Run service runs as it and the API
//     config names it, so the engine never deletes it in Google, whether
//     the stack is destroyed or the account leaves the program (the main
//     stack with existingServiceAccounts, after the bootstrap took the
//     accounts over: README, "A stack already deployed from a laptop");
//   - created or adopted: createIgnoreAlreadyExists makes a create that
//     meets 409 ALREADY_EXISTS read the existing account instead
//     (terraform-provider-google resource_google_service_account.go), so
//     the bootstrap adopts the accounts a laptop stack made, and an up
//     after a destroy adopts the retained ones. The flag matters at create
//     only: changes to it are ignored, so stacks created without it are
//     not updated for it.
func NewStackAccount(ctx *pulumi.Context, name, project string, a stack.Account, opts ...pulumi.ResourceOption) (*serviceaccount.Account, error) {
	return serviceaccount.NewAccount(ctx, name, &serviceaccount.AccountArgs{
		Project:                   pulumi.String(project),
		AccountId:                 pulumi.String(a.ID),
		DisplayName:               pulumi.String(a.DisplayName),
		Description:               pulumi.String(a.Description),
		CreateIgnoreAlreadyExists: pulumi.Bool(true),
	}, append(opts, pulumi.RetainOnDelete(true), pulumi.IgnoreChanges([]string{"createIgnoreAlreadyExists"}))...)
}

// Email is account a's email.
func (c *ServiceAccounts) Email(a stack.Account) pulumi.StringOutput { return c.Emails[a.Key] }

// FormerName aliases the resource named prefix-Key to prefix-FormerKey,
// the name an earlier layout gave it, so that the engine keeps the
// account instead of replacing it. Both programs name their copies so.
func FormerName(prefix string, key, formerKey string) pulumi.ResourceOption {
	if formerKey == "" {
		return pulumi.Aliases(nil)
	}
	return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(prefix + "-" + formerKey)}})
}
