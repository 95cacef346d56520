package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/stack"
)

// deployNeeds are the project roles the CI accounts get: the union of the
// main stack's components' needs (components.StackNeeds), as the main
// stack runs from CI, with the accounts this program creates.
func deployNeeds(manageFirebase bool) components.Needs {
	return components.StackNeeds(components.StackOptions{ManageFirebase: manageFirebase, ExistingServiceAccounts: true})
}

// accounts creates the deployer and the previewer, who may become which
// (workload identity), their project roles, and the main stack's accounts
// with actAs on exactly those for the deployer.
func (c *CIAccess) accounts(ctx *pulumi.Context, name string, args *CIAccessArgs, apis *components.ProjectServices, principal func(string) pulumi.StringOutput) error {
	iamAPI, err := apis.Require("iam.googleapis.com")
	if err != nil {
		return err
	}
	account := func(suffix, id, display, description string, extra ...pulumi.ResourceOption) (*serviceaccount.Account, error) {
		return serviceaccount.NewAccount(ctx, name+"-"+suffix, &serviceaccount.AccountArgs{
			Project:     pulumi.String(args.Project),
			AccountId:   pulumi.String(id),
			DisplayName: pulumi.String(display),
			Description: pulumi.String(description),
		}, append([]pulumi.ResourceOption{pulumi.Parent(c), iamAPI}, extra...)...)
	}
	n, service := args.Names, args.Names.Service
	if c.Deployer, err = account("deployer", n.DeployerID(), service+" CI deployer",
		"GitHub Actions deploys "+service+" as this account, only from the "+args.DeployEnvironment+" environment of "+args.Repository+"."); err != nil {
		return err
	}
	if c.Previewer, err = account("previewer", n.PreviewerID(), service+" CI previewer",
		"GitHub Actions previews "+service+" as this account on pull requests of "+args.Repository+". Read-only."); err != nil {
		return err
	}

	// The main stack's accounts, from the one table both programs use (so
	// an adopted account imports without a diff).
	stackAccounts := n.Accounts(args.Backends)
	c.StackAccounts = map[string]*serviceaccount.Account{}
	for _, a := range stackAccounts {
		opts := []pulumi.ResourceOption{components.FormerName(name, a.Key, a.FormerKey)}
		if args.AdoptAccounts && (a.FormerKey != "" || a.Key == n.GatewayAccount().Key) {
			// The two accounts a stack deployed before the bootstrap made
			// itself: the original backend's runtime and the gateway's.
			opts = append(opts, pulumi.Import(pulumi.ID(n.AccountResourceID(a.ID))))
		}
		if c.StackAccounts[a.Key], err = account(a.Key, a.ID, a.DisplayName, a.Description, opts...); err != nil {
			return err
		}
	}

	// Who may become which account: the deployer only from a job in the
	// deploy environment, the previewer only from a pull request's job.
	if _, err := serviceaccount.NewIAMMember(ctx, name+"-deployer-wif", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: c.Deployer.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           principal(deploySubject(args.Repository, args.DeployEnvironment)),
	}, pulumi.Parent(c)); err != nil {
		return err
	}
	if _, err := serviceaccount.NewIAMMember(ctx, name+"-previewer-wif", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: c.Previewer.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           principal(previewSubject(args.Repository)),
	}, pulumi.Parent(c)); err != nil {
		return err
	}

	projectRoles := func(who string, acct *serviceaccount.Account, grants []components.Grant) error {
		for _, g := range grants {
			if _, err := projects.NewIAMMember(ctx, fmt.Sprintf("%s-%s-%s", name, who, roleSlug(g.Role)), &projects.IAMMemberArgs{
				Project: pulumi.String(args.Project),
				Role:    pulumi.String(g.Role),
				Member:  acct.Member,
			}, pulumi.Parent(c)); err != nil {
				return err
			}
		}
		return nil
	}
	needs := deployNeeds(args.ManageFirebase)
	if err := projectRoles("deployer", c.Deployer, needs.DeployRoles); err != nil {
		return err
	}
	if err := projectRoles("previewer", c.Previewer, needs.PreviewRoles); err != nil {
		return err
	}
	// actAs on exactly the accounts the stack deploys as: Cloud Run runs as
	// the runtime accounts, and the API config names the gateway account.
	for _, a := range stackAccounts {
		if _, err := serviceaccount.NewIAMMember(ctx, name+"-deployer-actas-"+a.Key, &serviceaccount.IAMMemberArgs{
			ServiceAccountId: c.StackAccounts[a.Key].Name,
			Role:             pulumi.String("roles/iam.serviceAccountUser"),
			Member:           c.Deployer.Member,
		}, pulumi.Parent(c), components.FormerName(name+"-deployer-actas", a.Key, a.FormerKey)); err != nil {
			return err
		}
	}
	return nil
}

// roleSlug turns "roles/run.admin" into "run-admin" for resource names.
func roleSlug(role string) string {
	return strings.ReplaceAll(strings.TrimPrefix(role, "roles/"), ".", "-")
}

// stackBackends are the main stack's backends whose runtime accounts the
// bootstrap makes: the original one (/v1, whose account the bootstrap has
// always made) and the further ones the config lists.
func stackBackends(further []string) []string {
	out := []string{stack.OriginalBackend}
	for _, b := range further {
		if b != stack.OriginalBackend {
			out = append(out, b)
		}
	}
	return out
}
