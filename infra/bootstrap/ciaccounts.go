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

// deployNeeds are what the CI accounts get: the union of the main stack's
// components' needs (components.StackNeeds), as the main stack runs from
// CI, with the accounts this program creates.
func deployNeeds(manageFirebase bool) components.Needs {
	return components.StackNeeds(components.StackOptions{ManageFirebase: manageFirebase, ExistingServiceAccounts: true})
}

// CustomRoleID is the id of a CI account's custom role: custom role ids
// take letters, digits, '_' and '.' (3-64), so the service name's hyphens
// become '_' (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create).
func CustomRoleID(service, who string) string {
	return strings.ReplaceAll(service, "-", "_") + "_" + who
}

// accounts creates the deployer and the previewer, who may become which
// (workload identity), their project roles, and the main stack's accounts
// with actAs on exactly those for the deployer.
func (c *CIAccess) accounts(ctx *pulumi.Context, name string, args *CIAccessArgs, apis *components.ProjectServices, principalSet func(string) pulumi.StringOutput) error {
	iamAPI, err := apis.Require("iam.googleapis.com")
	if err != nil {
		return err
	}
	// Project IAM reads and writes the project's policy through Cloud
	// Resource Manager, which a fresh project may not have on yet.
	crmAPI, err := apis.Require("cloudresourcemanager.googleapis.com")
	if err != nil {
		return err
	}
	account := func(suffix, id, display, description string) (*serviceaccount.Account, error) {
		return serviceaccount.NewAccount(ctx, name+"-"+suffix, &serviceaccount.AccountArgs{
			Project:     pulumi.String(args.Project),
			AccountId:   pulumi.String(id),
			DisplayName: pulumi.String(display),
			Description: pulumi.String(description),
		}, pulumi.Parent(c), iamAPI)
	}
	n, service := args.Names, args.Names.Service
	if c.Deployer, err = account("deployer", n.DeployerID(), service+" CI deployer",
		"GitHub Actions deploys "+service+" as this account, only from the "+args.DeployEnvironment+" environment on "+args.DeployBranch+" of "+args.Repository+"."); err != nil {
		return err
	}
	if c.Previewer, err = account("previewer", n.PreviewerID(), service+" CI previewer",
		"GitHub Actions previews "+service+" as this account on pull requests of "+args.Repository+". Read-only."); err != nil {
		return err
	}

	// The main stack's accounts, from the one table both programs use, each
	// created or adopted (an account a laptop stack made, or one retained
	// when this stack was destroyed) and retained on delete, since a live
	// Cloud Run service runs as it (components.NewStackAccount).
	stackAccounts := n.Accounts(args.Backends)
	c.StackAccounts = map[string]*serviceaccount.Account{}
	for _, a := range stackAccounts {
		if c.StackAccounts[a.Key], err = components.NewStackAccount(ctx, name+"-"+a.Key, args.Project, a,
			pulumi.Parent(c), iamAPI, components.FormerName(name, a.Key, a.FormerKey)); err != nil {
			return err
		}
	}

	// Who may become which account, by the attributes of the job's token
	// (workloadidentity.go): the deployer only a job of the deploy
	// environment on the deploy branch, the previewer only a pull
	// request's job.
	if _, err := serviceaccount.NewIAMMember(ctx, name+"-deployer-wif", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: c.Deployer.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           principalSet(DeployAttribute(args.DeployEnvironment, args.DeployBranch)),
	}, pulumi.Parent(c)); err != nil {
		return err
	}
	if _, err := serviceaccount.NewIAMMember(ctx, name+"-previewer-wif", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: c.Previewer.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           principalSet(PreviewAttribute),
	}, pulumi.Parent(c)); err != nil {
		return err
	}

	grant := func(who string, acct *serviceaccount.Account, suffix string, role pulumi.StringInput) error {
		_, err := projects.NewIAMMember(ctx, fmt.Sprintf("%s-%s-%s", name, who, suffix), &projects.IAMMemberArgs{
			Project: pulumi.String(args.Project),
			Role:    role,
			Member:  acct.Member,
		}, pulumi.Parent(c), crmAPI)
		return err
	}
	// A custom role of single permissions, each with the call that needs it
	// (components.Needs); none when there is none to hold.
	customRole := func(who, title string, perms []components.Permission) (pulumi.StringInput, error) {
		if len(perms) == 0 {
			return nil, nil
		}
		role, err := projects.NewIAMCustomRole(ctx, name+"-"+who+"-role", &projects.IAMCustomRoleArgs{
			Project:     pulumi.String(args.Project),
			RoleId:      pulumi.String(CustomRoleID(service, who)),
			Title:       pulumi.String(title),
			Description: pulumi.String("What " + service + "'s CI " + who + " calls beyond its predefined roles; each permission's reason is in gatehouse's README."),
			Permissions: pulumi.ToStringArray(components.Names(perms)),
		}, pulumi.Parent(c), iamAPI)
		if err != nil {
			return nil, err
		}
		return role.Name, nil
	}
	needs := deployNeeds(args.ManageFirebase)
	for _, g := range needs.DeployRoles {
		if err := grant("deployer", c.Deployer, roleSlug(g.Role), pulumi.String(g.Role)); err != nil {
			return err
		}
	}
	if role, err := customRole("deployer", service+" CI deployer", needs.DeployPermissions); err != nil {
		return err
	} else if role != nil {
		if err := grant("deployer", c.Deployer, "custom", role); err != nil {
			return err
		}
	}
	// The previewer holds its custom role only: the read-only calls a
	// `pulumi preview` makes.
	if role, err := customRole("previewer", service+" CI previewer (read-only)", needs.PreviewPermissions); err != nil {
		return err
	} else if role != nil {
		if err := grant("previewer", c.Previewer, "custom", role); err != nil {
			return err
		}
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
