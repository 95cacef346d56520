package main

import (
	"fmt"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/infra/components"
)

// GitHubOIDCIssuer is the issuer of GitHub Actions' OIDC tokens.
const GitHubOIDCIssuer = "https://token.actions.githubusercontent.com"

// RepositoryCondition is the provider's attribute condition: only tokens of
// this repository, by its name and by its numeric id, are accepted. Ids are
// never reused, so a repository renamed away, or deleted and re-created
// under the same name by someone else, gets nothing.
func RepositoryCondition(repository, repositoryID string) string {
	return fmt.Sprintf("assertion.repository == '%s' && assertion.repository_id == '%s'", repository, repositoryID)
}

// AttributeMapping maps GitHub's claims to the attributes the bindings
// name. The bindings never name the `sub` claim: since 2026-06-18 GitHub
// writes immutable owner and repository ids into the default subject of
// every repository created, renamed or transferred after that date
// (repo:OWNER@ID/REPO@ID:..., GitHub changelog 2026-04-23, "Immutable
// subject claims for GitHub Actions OIDC tokens";
// https://docs.github.com/en/actions/reference/openid-connect-reference),
// so a binding on the old repo:OWNER/REPO:... subject admits no job of a
// new repository. The claims below have the same form in both formats
// (https://docs.github.com/en/actions/reference/openid-connect-reference#oidc-token-claims).
//
//   - google.subject is required by Workload Identity Federation; it names
//     the job in audit logs and nothing is granted on it. It is NOT the
//     `sub` claim, which Google's GitHub examples map: a mapped subject
//     longer than 127 bytes refuses the exchange ("The size of mapped
//     attribute exceeds the 127 bytes limit",
//     https://cloud.google.com/iam/docs/troubleshooting-workload-identity-federation),
//     and the new subject (repo:OWNER@ID/REPO@ID:environment:NAME) passes
//     127 bytes for long owner, repository or environment names (owner
//     up to 39 characters, repository up to 100). Repository id, event,
//     run id and attempt (claims of every job's token:
//     https://docs.github.com/en/actions/reference/openid-connect-reference#oidc-token-claims)
//     name the one run in at most about 75 bytes.
//   - attribute.event_name: a pull-request job's event is pull_request
//     (pull_request_target, which runs with the base branch's secrets, is
//     another event).
//   - attribute.environment_ref is ENVIRONMENT:REF, so one binding can
//     require both the deploy environment and the deploy branch: a branch
//     can name the environment in its own workflow (its environment's
//     protection rules then apply, and reviewers may be careless), but its
//     ref is its own. A job without an environment (a pull request's) maps
//     to ":REF"; `has` keeps a missing claim from failing the mapping.
//     Neither an environment name nor a git ref contains ':'.
var AttributeMapping = map[string]string{
	"google.subject":            GitHubSubject,
	"attribute.repository":      "assertion.repository",
	"attribute.repository_id":   "assertion.repository_id",
	"attribute.event_name":      "assertion.event_name",
	"attribute.ref":             "assertion.ref",
	"attribute.environment_ref": "(has(assertion.environment) ? assertion.environment : '') + ':' + assertion.ref",
}

// GitHubSubject is the google.subject mapping (see AttributeMapping).
const GitHubSubject = "assertion.repository_id + ':' + assertion.event_name + ':' + assertion.run_id + ':' + assertion.run_attempt"

// DeployAttribute and PreviewAttribute are the principal sets the CI
// accounts' workload identity bindings name: a job of the deploy
// environment on the deploy branch, and a pull request's job.
func DeployAttribute(environment, branch string) string {
	return "attribute.environment_ref/" + environment + ":refs/heads/" + branch
}

// PreviewAttribute: see DeployAttribute.
const PreviewAttribute = "attribute.event_name/pull_request"

// workloadIdentity creates the Workload Identity pool and its GitHub
// provider, pinned to one repository, and returns the principal set of one
// attribute value of that pool.
func (c *CIAccess) workloadIdentity(ctx *pulumi.Context, name string, args *CIAccessArgs, apis *components.ProjectServices) (func(attribute string) pulumi.StringOutput, error) {
	iamAPI, err := apis.Require("iam.googleapis.com")
	if err != nil {
		return nil, err
	}
	pool, err := iam.NewWorkloadIdentityPool(ctx, name+"-pool", &iam.WorkloadIdentityPoolArgs{
		Project:                pulumi.String(args.Project),
		WorkloadIdentityPoolId: pulumi.String(args.PoolID),
		DisplayName:            pulumi.String("GitHub Actions"),
		Description:            pulumi.String("Keyless access for " + args.Repository + "'s workflows."),
	}, pulumi.Parent(c), iamAPI, pulumi.Protect(true)) // a deleted pool's id stays taken for 30 days
	if err != nil {
		return nil, err
	}
	c.Provider, err = iam.NewWorkloadIdentityPoolProvider(ctx, name+"-github", &iam.WorkloadIdentityPoolProviderArgs{
		Project:                        pulumi.String(args.Project),
		WorkloadIdentityPoolId:         pool.WorkloadIdentityPoolId,
		WorkloadIdentityPoolProviderId: pulumi.String("github"),
		DisplayName:                    pulumi.String("GitHub"),
		AttributeMapping:               pulumi.ToStringMap(AttributeMapping),
		AttributeCondition:             pulumi.String(RepositoryCondition(args.Repository, args.RepositoryID)),
		Oidc:                           &iam.WorkloadIdentityPoolProviderOidcArgs{IssuerUri: pulumi.String(GitHubOIDCIssuer)},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// principalSet://iam.googleapis.com/POOL/attribute.NAME/VALUE names
	// every identity of the pool with that attribute value
	// (https://cloud.google.com/iam/docs/principal-identifiers); pool.Name
	// is projects/NUMBER/locations/global/workloadIdentityPools/ID.
	return func(attribute string) pulumi.StringOutput {
		return pulumi.Sprintf("principalSet://iam.googleapis.com/%s/%s", pool.Name, attribute)
	}, nil
}
