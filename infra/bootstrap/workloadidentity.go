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

// workloadIdentity creates the Workload Identity pool and its GitHub
// provider, pinned to one repository, and returns the principal of one
// subject of that pool.
func (c *CIAccess) workloadIdentity(ctx *pulumi.Context, name string, args *CIAccessArgs, apis *components.ProjectServices) (func(subject string) pulumi.StringOutput, error) {
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
		AttributeMapping: pulumi.StringMap{
			"google.subject":          pulumi.String("assertion.sub"),
			"attribute.repository":    pulumi.String("assertion.repository"),
			"attribute.repository_id": pulumi.String("assertion.repository_id"),
		},
		AttributeCondition: pulumi.String(RepositoryCondition(args.Repository, args.RepositoryID)),
		Oidc:               &iam.WorkloadIdentityPoolProviderOidcArgs{IssuerUri: pulumi.String(GitHubOIDCIssuer)},
	}, pulumi.Parent(c))
	if err != nil {
		return nil, err
	}
	// principal://.../subject/SUBJECT names exactly one subject; pool.Name is
	// projects/NUMBER/locations/global/workloadIdentityPools/ID.
	return func(subject string) pulumi.StringOutput {
		return pulumi.Sprintf("principal://iam.googleapis.com/%s/subject/%s", pool.Name, subject)
	}, nil
}
