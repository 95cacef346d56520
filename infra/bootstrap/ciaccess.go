package main

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/firebase"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iam"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/identityplatform"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/infra/components"
	"github.com/gatehouse/gatehouse/stack"
)

// ciAccessType is the component's type token. It kept the main stack's
// components prefix when the code moved here, so bootstrap stacks keep
// their URNs.
const ciAccessType = "gatehouse:components:CIAccess"

// BootstrapAPIs are the APIs keyless deploys need before anything else.
var BootstrapAPIs = []string{
	"cloudresourcemanager.googleapis.com",
	"serviceusage.googleapis.com",
	"iam.googleapis.com",
	"iamcredentials.googleapis.com", // generateAccessToken: service account impersonation
	"sts.googleapis.com",            // token exchange for the GitHub OIDC token
}

// CIAccessArgs configures keyless, least-privilege GitHub Actions access.
type CIAccessArgs struct {
	Project string
	// Repository is OWNER/REPO; RepositoryID its numeric id, which
	// survives renames and is not reused by a new repository of the same
	// name.
	Repository, RepositoryID string
	// DeployEnvironment is the GitHub environment whose jobs may deploy,
	// and DeployBranch the branch they must run on.
	DeployEnvironment, DeployBranch string
	PoolID                          string
	// Names are the main stack's names (its serviceName and project).
	Names stack.Names
	// Backends are the main stack's backends, whose runtime accounts are
	// created here, with actAs for the deployer.
	Backends []string
	// ManageFirebase adds Firebase to the project (addFirebase: an owner's
	// call, so done here and adopted by the main stack) and gives the
	// deployer what the main stack's Firebase resources need.
	ManageFirebase bool
	// InitializeAuth turns on Identity Platform (initializeAuth, once per
	// project) with email/password sign-in, which needs more than any
	// deployer role (hashicorp/terraform-provider-google#19111).
	InitializeAuth bool
	// StateBucket, when set, is created for `pulumi login gs://...` in
	// StateLocation.
	StateBucket, StateLocation string
}

// CIAccess is what GitHub Actions needs to preview and deploy the main stack
// without keys: workload identity (workloadidentity.go), the CI accounts
// and their grants (ciaccounts.go) and the state bucket (statebucket.go).
type CIAccess struct {
	pulumi.ResourceState

	Provider  *iam.WorkloadIdentityPoolProvider
	Deployer  *serviceaccount.Account
	Previewer *serviceaccount.Account
	// StackAccounts are the main stack's accounts, by stack.Account Key.
	StackAccounts map[string]*serviceaccount.Account
	Bucket        *storage.Bucket // nil without StateBucket
	StateURL      pulumi.StringOutput
}

// NewCIAccess creates the Workload Identity pool and GitHub provider, the
// deployer and previewer accounts and their grants, the main stack's
// service accounts (so actAs can be granted on them alone), Firebase in the
// project, and optionally the state bucket and Identity Platform's
// initialisation.
func NewCIAccess(ctx *pulumi.Context, name string, args *CIAccessArgs, opts ...pulumi.ResourceOption) (*CIAccess, error) {
	c := &CIAccess{}
	if err := ctx.RegisterComponentResource(ciAccessType, name, c, opts...); err != nil {
		return nil, err
	}
	apiList := append([]string{}, BootstrapAPIs...)
	if args.StateBucket != "" {
		apiList = append(apiList, "storage.googleapis.com")
	}
	if args.ManageFirebase {
		apiList = append(apiList, "firebase.googleapis.com")
	}
	if args.InitializeAuth {
		apiList = append(apiList, "identitytoolkit.googleapis.com")
	}
	apis, err := components.NewProjectServices(ctx, name+"-apis", &components.ProjectServicesArgs{Project: args.Project, Services: apiList}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}

	principal, err := c.workloadIdentity(ctx, name, args, apis)
	if err != nil {
		return nil, err
	}
	if err := c.accounts(ctx, name, args, apis, principal); err != nil {
		return nil, err
	}
	if err := c.stateBucket(ctx, name, args, apis); err != nil {
		return nil, err
	}
	var firebaseProject []pulumi.Resource
	if args.ManageFirebase {
		// Firebase added by the owner: addFirebase needs
		// firebase.projects.update, serviceusage.services.enable and a
		// caller who has accepted Firebase's terms ("the IAM roles of Editor
		// and Owner contain these permissions",
		// https://firebase.google.com/docs/reference/firebase-management/rest/v1beta1/projects/addFirebase).
		// The main stack's firebase.Project then finds it and adopts it
		// (the provider reads projects.get before it would add Firebase),
		// so the deployer needs firebase.projects.get only. Its delete does
		// nothing in Google (a Firebase project is never removed).
		api, err := apis.Require("firebase.googleapis.com")
		if err != nil {
			return nil, err
		}
		fb, err := firebase.NewProject(ctx, name+"-firebase", &firebase.ProjectArgs{Project: pulumi.String(args.Project)}, pulumi.Parent(c), api)
		if err != nil {
			return nil, err
		}
		firebaseProject = append(firebaseProject, fb)
	}
	if args.InitializeAuth {
		// Identity Platform's one-time initialisation, with the main stack's
		// email/password sign-in. Retained on delete (its delete does
		// nothing in Google: hashicorp/terraform-provider-google#16520); the
		// main stack adopts it with gatehouse:identityPlatformExists.
		api, err := apis.Require("identitytoolkit.googleapis.com")
		if err != nil {
			return nil, err
		}
		if _, err := identityplatform.NewConfig(ctx, name+"-auth", components.EmailPasswordAuth(pulumi.String(args.Project), nil),
			pulumi.Parent(c), api, pulumi.DependsOn(firebaseProject), pulumi.RetainOnDelete(true)); err != nil {
			return nil, err
		}
	}

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"provider":  c.Provider.Name,
		"deployer":  c.Deployer.Email,
		"previewer": c.Previewer.Email,
		"stateUrl":  c.StateURL,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
