package components

import (
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/firebase"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/identityplatform"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// firebaseAuthNeeds: a managed Firebase project needs its APIs and, for
// the CI deployer, single permissions instead of roles/firebase.admin
// (which also deletes the Firebase project, changes its billing plan and
// manages every Firebase product). The CI bootstrap, run by an owner, adds
// Firebase (addFirebase needs firebase.projects.update with
// serviceusage.services.enable and the Firebase terms accepted by the
// caller: https://firebase.google.com/docs/reference/firebase-management/rest/v1beta1/projects/addFirebase)
// and initialises Identity Platform, so the deployer only reads those two
// and creates the web app. Firebase's docs ask every Firebase role to hold
// firebase.projects.get, resourcemanager.projects.get and
// serviceusage.services.list (https://firebase.google.com/docs/projects/iam/permissions#required-permissions);
// the deployer has the last two through roles/serviceusage.serviceUsageAdmin.
// Identity Platform's config methods check firebaseauth.configs.get and
// .update (roles/firebaseauth.admin holds both, roles/firebaseauth.viewer
// the first: https://firebase.google.com/docs/projects/iam/permissions).
// An existing Firebase project (manageFirebase false) needs nothing.
func firebaseAuthNeeds(manage bool) Needs {
	if !manage {
		return Needs{}
	}
	return Needs{
		APIs: []string{"firebase.googleapis.com", "identitytoolkit.googleapis.com"},
		DeployPermissions: []Permission{
			{"firebase.projects.get", "adopt the Firebase project the CI bootstrap added (firebase.Project reads projects.get and adopts an existing project instead of calling addFirebase)"},
			{"firebase.clients.create", "create the web app (projects.webApps.create)"},
			{"firebase.clients.get", "read the web app and its configuration, the API key the stack exports (projects.webApps.get, projects.webApps.getConfig)"},
			{"firebaseauth.configs.get", "adopt the Identity Platform configuration the CI bootstrap initialised (gatehouse:identityPlatformExists imports it: projects.getConfig)"},
			{"firebaseauth.configs.update", "apply gatehouse:allowSignUp to that configuration (the engine imports it, then updates client.permissions.disabledUserSignup: projects.updateConfig)"},
		},
		PreviewPermissions: []Permission{
			{"firebase.clients.get", "read the web app's configuration, which a preview looks up once the app exists (projects.webApps.getConfig)"},
		},
	}
}

// FirebaseAuthArgs configures end-user authentication.
type FirebaseAuthArgs struct {
	// Manage enables Firebase in Project with email/password sign-in and a
	// web app. Otherwise ProjectID/APIKey name an existing Firebase project.
	Manage      bool
	Project     string
	ProjectID   string // Firebase project id (= Project when managed)
	APIKey      string // web API key, when not managed
	DisplayName string
	// Exists adopts the project's existing Identity Platform config (see
	// NewFirebaseAuth) instead of initializing it.
	Exists bool
	// AllowSignUp sets whether end users may sign up (EmailPasswordAuth);
	// nil leaves it to Identity Platform's default (open) on a new config
	// and as it is on an adopted one.
	AllowSignUp *bool
	Services    *ProjectServices // the APIs to wait on
}

// FirebaseAuth is the Firebase Authentication project whose ID tokens the
// gateway accepts, and the web API key clients sign in with.
type FirebaseAuth struct {
	pulumi.ResourceState

	ProjectID pulumi.StringOutput
	APIKey    pulumi.StringOutput
}

// formerFirebaseAuthType is the component's type token before it was named
// after what it is: an alias keeps its URN, and its children's.
const formerFirebaseAuthType = typePrefix + "Identity"

// NewFirebaseAuth sets up Firebase Authentication, or refers to an
// existing one.
func NewFirebaseAuth(ctx *pulumi.Context, name string, args *FirebaseAuthArgs, opts ...pulumi.ResourceOption) (*FirebaseAuth, error) {
	c := &FirebaseAuth{}
	opts = append(opts, pulumi.Aliases([]pulumi.Alias{{Type: pulumi.String(formerFirebaseAuthType)}}))
	if err := ctx.RegisterComponentResource(typePrefix+"FirebaseAuth", name, c, opts...); err != nil {
		return nil, err
	}
	api, err := args.Services.Require(firebaseAuthNeeds(args.Manage).APIs...)
	if err != nil {
		return nil, err
	}
	if !args.Manage {
		c.ProjectID = pulumi.String(args.ProjectID).ToStringOutput()
		c.APIKey = pulumi.String(args.APIKey).ToStringOutput()
	} else {
		fb, err := firebase.NewProject(ctx, name+"-firebase", &firebase.ProjectArgs{
			Project: pulumi.String(args.Project),
		}, withParent(c, api)...)
		if err != nil {
			return nil, err
		}
		// Email/password sign-in, as the CLI uses. Identity Platform's
		// config is the API behind Firebase Authentication's settings.
		//
		// Its create calls initializeAuth, which works once per project: on a
		// project where Auth is already on (console "Get started", an earlier
		// stack, or after `pulumi destroy`, since its delete is a no-op:
		// hashicorp/terraform-provider-google#16520) it fails. So:
		//   - RetainOnDelete always: the engine never claims a delete that
		//     Google does not do, and a later stack can adopt the config;
		//   - Exists adopts the config with pulumi.Import (its id is
		//     projects/<project>/config). The engine imports it, then updates
		//     what the program's inputs change (pulumi/pulumi#19339; before,
		//     an import with a difference failed). An existing config may
		//     differ in anything (sign-in methods, MFA, quotas) and those are
		//     its owner's, so every input is ignored (the values in Google
		//     are kept) but the sign-up setting when the stack sets one
		//     (allowSignUp): gatehouse then updates exactly that field
		//     (client.permissions.disabledUserSignup; the other permission
		//     stays as it is). Email/password must be on for the CLI: the
		//     README says how to check.
		authOpts := []pulumi.ResourceOption{api, pulumi.DependsOn([]pulumi.Resource{fb}), pulumi.RetainOnDelete(true)}
		if args.Exists {
			authOpts = append(authOpts,
				pulumi.Import(pulumi.ID("projects/"+args.Project+"/config")),
				pulumi.IgnoreChanges(adoptedIgnores(args.AllowSignUp != nil)))
		}
		auth, err := identityplatform.NewConfig(ctx, name+"-auth", EmailPasswordAuth(fb.Project, args.AllowSignUp), withParent(c, authOpts...)...)
		if err != nil {
			return nil, err
		}
		app, err := firebase.NewWebApp(ctx, name+"-web", &firebase.WebAppArgs{
			Project:        fb.Project,
			DisplayName:    pulumi.String(args.DisplayName),
			DeletionPolicy: pulumi.String("DELETE"),
		}, withParent(c, pulumi.DependsOn([]pulumi.Resource{auth}))...)
		if err != nil {
			return nil, err
		}
		conf := firebase.GetWebAppConfigOutput(ctx, firebase.GetWebAppConfigOutputArgs{
			Project:  fb.Project,
			WebAppId: app.AppId,
		}, pulumi.Parent(c))
		c.ProjectID = fb.Project
		c.APIKey = conf.ApiKey()
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"projectId": c.ProjectID, "apiKey": c.APIKey}); err != nil {
		return nil, err
	}
	return c, nil
}

// adoptedIgnores are the inputs of an adopted Identity Platform config that
// gatehouse leaves as they are in Google: all of them, but the sign-up
// setting when the stack manages it (then only its sibling permission,
// disabledUserDeletion, is left as it is).
func adoptedIgnores(manageSignUp bool) []string {
	client := "client"
	if manageSignUp {
		client = "client.permissions.disabledUserDeletion"
	}
	return []string{"signIn", "authorizedDomains", "autodeleteAnonymousUsers", "blockingFunctions",
		client, "mfa", "monitoring", "multiTenant", "quota", "smsRegionConfig"}
}

// EmailPasswordAuth is the Identity Platform config gatehouse turns on:
// email/password sign-in, as the CLI and the browser client use, one
// account per email, and when allowSignUp is set, whether end users may
// sign up: client.permissions.disabledUserSignup, "When true, end users
// cannot sign up for a new account on the associated project through any
// of our API methods" (Identity Toolkit admin v2 Config, ClientPermissions;
// https://cloud.google.com/identity-platform/docs/reference/rest/v2/Config).
// Sign-up then answers ADMIN_ONLY_OPERATION; an administrator still creates
// accounts (Firebase console, Admin SDK). Nil leaves the field out:
// Identity Platform's default is open. The bootstrap initialises Identity
// Platform with this config (nil), which the main stack then adopts.
func EmailPasswordAuth(project pulumi.StringInput, allowSignUp *bool) *identityplatform.ConfigArgs {
	args := &identityplatform.ConfigArgs{
		Project: project,
		SignIn: &identityplatform.ConfigSignInArgs{
			AllowDuplicateEmails: pulumi.Bool(false),
			Email: &identityplatform.ConfigSignInEmailArgs{
				Enabled:          pulumi.Bool(true),
				PasswordRequired: pulumi.Bool(true),
			},
		},
	}
	if allowSignUp != nil {
		args.Client = &identityplatform.ConfigClientArgs{
			Permissions: &identityplatform.ConfigClientPermissionsArgs{DisabledUserSignup: pulumi.Bool(!*allowSignUp)},
		}
	}
	return args
}
