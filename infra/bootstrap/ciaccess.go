package components

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iam"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/identityplatform"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/serviceaccount"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/storage"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// GitHubOIDCIssuer is the issuer of GitHub Actions' OIDC tokens.
const GitHubOIDCIssuer = "https://token.actions.githubusercontent.com"

// Grant is a role with the reason it is needed, for the README and the
// closing note to quote.
type Grant struct{ Role, Reason string }

// DeployerRoles are the project roles of the CI deployer: the least set of
// predefined roles with which the main stack's `pulumi up` succeeds. None can
// be narrowed to the stack's resources with an IAM Condition: resource
// attributes work only for the services listed on
// https://cloud.google.com/iam/docs/conditions-resource-attributes, which
// include neither Cloud Run, Artifact Registry, API Gateway nor Service
// Usage. actAs is not among them: it is granted on the stack's two service
// accounts only (see NewCIAccess).
var DeployerRoles = []Grant{
	{"roles/serviceusage.serviceUsageAdmin", "enable the stack's APIs and the gateway's managed service (projects.Service); also carries serviceusage.services.use, which every request needs because the provider sets user_project_override"},
	{"roles/run.admin", "create and update the Cloud Run service and grant roles/run.invoker on it to the gateway account: run.services.setIamPolicy is in no narrower predefined role, and the service does not exist before the first up, so the role cannot be granted on it"},
	{"roles/artifactregistry.admin", "create the image repository (artifactregistry.repositories.create is in no narrower predefined role) and push the backend image"},
	{"roles/apigateway.admin", "create and update the API, its configs and the gateway"},
}

// FirebaseDeployerRoles are added when the stack manages Firebase.
var FirebaseDeployerRoles = []Grant{
	{"roles/firebase.admin", "add Firebase to the project, create the web app and read its configuration (the API key the stack exports)"},
	{"roles/identitytoolkit.admin", "read and adopt the Identity Platform configuration (firebaseauth.configs.*); its one-time initialisation is done by the bootstrap itself, run by a project owner"},
}

// PreviewerRoles are the project roles of the identity pull requests preview
// with: read-only, so that a branch cannot deploy.
var PreviewerRoles = []Grant{
	{"roles/serviceusage.serviceUsageConsumer", "serviceusage.services.use, which every request needs because the provider sets user_project_override"},
}

// FirebasePreviewerRoles are added when the stack manages Firebase.
var FirebasePreviewerRoles = []Grant{
	{"roles/firebase.viewer", "read the web app's configuration, which the preview looks up once the app exists"},
}

// CIAccessArgs configures keyless, least-privilege GitHub Actions access.
type CIAccessArgs struct {
	Project string
	// Repository is OWNER/REPO; RepositoryID, when set, its numeric id,
	// which survives renames and is not reused by a new repository of the
	// same name.
	Repository, RepositoryID string
	// DeployEnvironment is the GitHub environment whose jobs may deploy.
	DeployEnvironment string
	PoolID            string
	ServiceName       string // the main stack's serviceName: its accounts' prefix
	ManageFirebase    bool
	// InitializeAuth turns on Identity Platform (initializeAuth, once per
	// project) with email/password sign-in, which needs more than any
	// deployer role (hashicorp/terraform-provider-google#19111).
	InitializeAuth bool
	// BackendAccountIDs are the runtime accounts of the main stack's further
	// backends (gatehouse:backends), by name: created here too, with actAs.
	BackendAccountIDs map[string]string
	// AdoptAccounts imports the stack's runtime and gateway accounts, which
	// a stack deployed before the bootstrap created itself, instead of
	// creating them.
	AdoptAccounts bool
	// StateBucket, when set, is created for `pulumi login gs://...` in
	// StateLocation.
	StateBucket, StateLocation string
}

// CIAccess is what GitHub Actions needs to preview and deploy the main stack
// without keys.
type CIAccess struct {
	pulumi.ResourceState

	Provider  *iam.WorkloadIdentityPoolProvider
	Deployer  *serviceaccount.Account
	Previewer *serviceaccount.Account
	Runtime   *serviceaccount.Account
	Gateway   *serviceaccount.Account
	Bucket    *storage.Bucket // nil without StateBucket
	StateURL  pulumi.StringOutput
}

// BootstrapAPIs are the APIs keyless deploys need before anything else.
var BootstrapAPIs = []string{
	"cloudresourcemanager.googleapis.com",
	"serviceusage.googleapis.com",
	"iam.googleapis.com",
	"iamcredentials.googleapis.com", // generateAccessToken: service account impersonation
	"sts.googleapis.com",            // token exchange for the GitHub OIDC token
}

// RepositoryCondition is the provider's attribute condition: only tokens of
// this repository (and, with its id, of this very repository) are accepted.
func RepositoryCondition(repository, repositoryID string) string {
	c := fmt.Sprintf("assertion.repository == '%s'", repository)
	if repositoryID != "" {
		c += fmt.Sprintf(" && assertion.repository_id == '%s'", repositoryID)
	}
	return c
}

// GitHub's default OIDC subjects: a job in an environment, and a job run for
// a pull request (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims).
func deploySubject(repository, environment string) string {
	return fmt.Sprintf("repo:%s:environment:%s", repository, environment)
}
func previewSubject(repository string) string { return fmt.Sprintf("repo:%s:pull_request", repository) }

// NewCIAccess creates the Workload Identity pool and GitHub provider, the
// deployer and previewer accounts and their grants, the main stack's two
// service accounts (so actAs can be granted on them alone), and optionally
// the state bucket and Identity Platform's initialisation.
func NewCIAccess(ctx *pulumi.Context, name string, args *CIAccessArgs, opts ...pulumi.ResourceOption) (*CIAccess, error) {
	c := &CIAccess{}
	if err := ctx.RegisterComponentResource(typePrefix+"CIAccess", name, c, opts...); err != nil {
		return nil, err
	}
	apiList := append([]string{}, BootstrapAPIs...)
	if args.StateBucket != "" {
		apiList = append(apiList, "storage.googleapis.com")
	}
	if args.InitializeAuth {
		apiList = append(apiList, "identitytoolkit.googleapis.com")
	}
	apis, err := NewProjectServices(ctx, name+"-apis", &ProjectServicesArgs{Project: args.Project, Services: apiList}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	iamAPI := apis.Require("iam.googleapis.com")

	pool, err := iam.NewWorkloadIdentityPool(ctx, name+"-pool", &iam.WorkloadIdentityPoolArgs{
		Project:                pulumi.String(args.Project),
		WorkloadIdentityPoolId: pulumi.String(args.PoolID),
		DisplayName:            pulumi.String("GitHub Actions"),
		Description:            pulumi.String("Keyless access for " + args.Repository + "'s workflows."),
	}, withParent(c, iamAPI, pulumi.Protect(true))...) // a deleted pool's id stays taken for 30 days
	if err != nil {
		return nil, err
	}
	c.Provider, err = iam.NewWorkloadIdentityPoolProvider(ctx, name+"-github", &iam.WorkloadIdentityPoolProviderArgs{
		Project:                        pulumi.String(args.Project),
		WorkloadIdentityPoolId:         pool.WorkloadIdentityPoolId,
		WorkloadIdentityPoolProviderId: pulumi.String("github"),
		DisplayName:                    pulumi.String("GitHub"),
		AttributeMapping: pulumi.StringMap{
			"google.subject":          pulumi.String("assertion.sub"),
			"attribute.repository":    pulumi.String("assertion.repository"),
			"attribute.repository_id": pulumi.String("assertion.repository_id"),
		},
		AttributeCondition: pulumi.String(RepositoryCondition(args.Repository, args.RepositoryID)),
		Oidc:               &iam.WorkloadIdentityPoolProviderOidcArgs{IssuerUri: pulumi.String(GitHubOIDCIssuer)},
	}, withParent(c)...)
	if err != nil {
		return nil, err
	}
	// principal://.../subject/SUBJECT names exactly one subject; pool.Name is
	// projects/NUMBER/locations/global/workloadIdentityPools/ID.
	principal := func(subject string) pulumi.StringOutput {
		return pulumi.Sprintf("principal://iam.googleapis.com/%s/subject/%s", pool.Name, subject)
	}

	account := func(suffix, id, display, description string, extra ...pulumi.ResourceOption) (*serviceaccount.Account, error) {
		return serviceaccount.NewAccount(ctx, name+"-"+suffix, &serviceaccount.AccountArgs{
			Project:     pulumi.String(args.Project),
			AccountId:   pulumi.String(id),
			DisplayName: pulumi.String(display),
			Description: pulumi.String(description),
		}, withParent(c, append([]pulumi.ResourceOption{iamAPI}, extra...)...)...)
	}
	// The main stack's accounts, with the same ids, names and descriptions
	// it gives its own (so an adopted account imports without a diff).
	adopt := func(id string) []pulumi.ResourceOption {
		if !args.AdoptAccounts {
			return nil
		}
		return []pulumi.ResourceOption{pulumi.Import(pulumi.ID("projects/" + args.Project + "/serviceAccounts/" + AccountEmail(id, args.Project)))}
	}
	if c.Deployer, err = account("deployer", args.ServiceName+"-deploy", args.ServiceName+" CI deployer",
		"GitHub Actions deploys "+args.ServiceName+" as this account, only from the "+args.DeployEnvironment+" environment of "+args.Repository+"."); err != nil {
		return nil, err
	}
	if c.Previewer, err = account("previewer", args.ServiceName+"-preview", args.ServiceName+" CI previewer",
		"GitHub Actions previews "+args.ServiceName+" as this account on pull requests of "+args.Repository+". Read-only."); err != nil {
		return nil, err
	}
	if c.Runtime, err = account("runtime", RuntimeAccountID(args.ServiceName), RuntimeDisplayName(args.ServiceName), RuntimeAccountDescription,
		adopt(RuntimeAccountID(args.ServiceName))...); err != nil {
		return nil, err
	}
	if c.Gateway, err = account("gateway", GatewayAccountID(args.ServiceName), GatewayDisplayName(args.ServiceName), GatewayAccountDescription,
		adopt(GatewayAccountID(args.ServiceName))...); err != nil {
		return nil, err
	}

	stackAccounts := []struct {
		suffix string
		acct   *serviceaccount.Account
	}{{"runtime", c.Runtime}, {"gateway", c.Gateway}}
	for _, name := range slices.Sorted(maps.Keys(args.BackendAccountIDs)) {
		acct, err := account(name+"-runtime", args.BackendAccountIDs[name], args.ServiceName+" "+name+" runtime",
			"Identity of the gatehouse backend "+name+" on Cloud Run. Holds no project roles.")
		if err != nil {
			return nil, err
		}
		stackAccounts = append(stackAccounts, struct {
			suffix string
			acct   *serviceaccount.Account
		}{name + "-runtime", acct})
	}

	// Who may become which account: the deployer only from a job in the
	// deploy environment, the previewer only from a pull request's job.
	if _, err := serviceaccount.NewIAMMember(ctx, name+"-deployer-wif", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: c.Deployer.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           principal(deploySubject(args.Repository, args.DeployEnvironment)),
	}, withParent(c)...); err != nil {
		return nil, err
	}
	if _, err := serviceaccount.NewIAMMember(ctx, name+"-previewer-wif", &serviceaccount.IAMMemberArgs{
		ServiceAccountId: c.Previewer.Name,
		Role:             pulumi.String("roles/iam.workloadIdentityUser"),
		Member:           principal(previewSubject(args.Repository)),
	}, withParent(c)...); err != nil {
		return nil, err
	}

	projectRoles := func(who string, acct *serviceaccount.Account, grants []Grant) error {
		for _, g := range grants {
			if _, err := projects.NewIAMMember(ctx, fmt.Sprintf("%s-%s-%s", name, who, roleSlug(g.Role)), &projects.IAMMemberArgs{
				Project: pulumi.String(args.Project),
				Role:    pulumi.String(g.Role),
				Member:  acct.Member,
			}, withParent(c)...); err != nil {
				return err
			}
		}
		return nil
	}
	deployRoles, previewRoles := DeployerRoles, PreviewerRoles
	if args.ManageFirebase {
		deployRoles = append(append([]Grant{}, deployRoles...), FirebaseDeployerRoles...)
		previewRoles = append(append([]Grant{}, previewRoles...), FirebasePreviewerRoles...)
	}
	if err := projectRoles("deployer", c.Deployer, deployRoles); err != nil {
		return nil, err
	}
	if err := projectRoles("previewer", c.Previewer, previewRoles); err != nil {
		return nil, err
	}
	// actAs on exactly the accounts the stack deploys as: Cloud Run runs as
	// the runtime accounts, and the API config names the gateway account.
	for _, sa := range stackAccounts {
		if _, err := serviceaccount.NewIAMMember(ctx, name+"-deployer-actas-"+sa.suffix, &serviceaccount.IAMMemberArgs{
			ServiceAccountId: sa.acct.Name,
			Role:             pulumi.String("roles/iam.serviceAccountUser"),
			Member:           c.Deployer.Member,
		}, withParent(c)...); err != nil {
			return nil, err
		}
	}

	c.StateURL = pulumi.String("").ToStringOutput()
	if args.StateBucket != "" {
		c.Bucket, err = storage.NewBucket(ctx, name+"-state", &storage.BucketArgs{
			Project:                  pulumi.String(args.Project),
			Name:                     pulumi.String(args.StateBucket),
			Location:                 pulumi.String(args.StateLocation),
			UniformBucketLevelAccess: pulumi.Bool(true),
			PublicAccessPrevention:   pulumi.String("enforced"),
			Versioning:               &storage.BucketVersioningArgs{Enabled: pulumi.Bool(true)},
			ForceDestroy:             pulumi.Bool(false),
		}, withParent(c, apis.Require("storage.googleapis.com"), pulumi.Protect(true))...)
		if err != nil {
			return nil, err
		}
		// The deployer reads and writes the state; the previewer reads it
		// and takes the stack's lock, which the filesystem backend writes
		// under .pulumi/locks/ even for a preview.
		grants := []struct {
			suffix    string
			acct      *serviceaccount.Account
			role      string
			condition *storage.BucketIAMMemberConditionArgs
		}{
			{"deployer", c.Deployer, "roles/storage.objectAdmin", nil},
			{"previewer", c.Previewer, "roles/storage.objectViewer", nil},
			{"previewer-locks", c.Previewer, "roles/storage.objectUser", &storage.BucketIAMMemberConditionArgs{
				Title:      pulumi.String("pulumi-locks-only"),
				Expression: pulumi.Sprintf(`resource.name.startsWith("projects/_/buckets/%s/objects/.pulumi/locks/")`, args.StateBucket),
			}},
		}
		for _, g := range grants {
			if _, err := storage.NewBucketIAMMember(ctx, name+"-state-"+g.suffix, &storage.BucketIAMMemberArgs{
				Bucket:    c.Bucket.Name,
				Role:      pulumi.String(g.role),
				Member:    g.acct.Member,
				Condition: g.condition,
			}, withParent(c)...); err != nil {
				return nil, err
			}
		}
		c.StateURL = pulumi.Sprintf("gs://%s", c.Bucket.Name)
	}

	if args.InitializeAuth {
		// Identity Platform's one-time initialisation, with email/password
		// sign-in as the CLI uses. Retained on delete (its delete does
		// nothing in Google: hashicorp/terraform-provider-google#16520); the
		// main stack adopts it with gatehouse:identityPlatformExists.
		if _, err := identityplatform.NewConfig(ctx, name+"-auth", &identityplatform.ConfigArgs{
			Project: pulumi.String(args.Project),
			SignIn: &identityplatform.ConfigSignInArgs{
				AllowDuplicateEmails: pulumi.Bool(false),
				Email: &identityplatform.ConfigSignInEmailArgs{
					Enabled:          pulumi.Bool(true),
					PasswordRequired: pulumi.Bool(true),
				},
			},
		}, withParent(c, apis.Require("identitytoolkit.googleapis.com"), pulumi.RetainOnDelete(true))...); err != nil {
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

// roleSlug turns "roles/run.admin" into "run-admin" for resource names.
func roleSlug(role string) string {
	return strings.ReplaceAll(strings.TrimPrefix(role, "roles/"), ".", "-")
}
