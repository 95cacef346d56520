package components

import (
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/artifactregistry"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

var repositoryNeeds = Needs{
	APIs: []string{"artifactregistry.googleapis.com"},
	DeployRoles: []Grant{
		{"roles/artifactregistry.admin", "create the image repository (artifactregistry.repositories.create is in no narrower predefined role) and push the backend image"},
	},
}

// ImageRepositoryArgs configures the stack's image repository.
type ImageRepositoryArgs struct {
	Project, Region string
	RepositoryID    string // stack.Names.Repository
	Registry        string // its host (stack.Names.Registry)
	Protect         bool
	Services        *ProjectServices // the APIs to wait on
}

// ImageRepository is the Artifact Registry repository every backend of the
// stack pushes its image to: created once, whichever backends the stack
// has. It grants nothing to anyone: pushes use the deployer's token, and
// Cloud Run pulls as its own service agent.
type ImageRepository struct {
	pulumi.ResourceState

	Repository *artifactregistry.Repository
	Host       string // the registry host, such as europe-west1-docker.pkg.dev
}

// Local says whether the host is a loopback registry: the TEST-ONLY local
// Google Cloud's (gatehouse:imageRegistry, which the stack accepts only on
// loopback).
func (c *ImageRepository) Local() bool {
	for _, p := range []string{"127.0.0.1:", "localhost:", "[::1]:"} {
		if strings.HasPrefix(c.Host, p) {
			return true
		}
	}
	return false
}

// NewImageRepository creates the repository.
func NewImageRepository(ctx *pulumi.Context, name string, args *ImageRepositoryArgs, opts ...pulumi.ResourceOption) (*ImageRepository, error) {
	c := &ImageRepository{Host: args.Registry}
	if err := ctx.RegisterComponentResource(typePrefix+"ImageRepository", name, c, opts...); err != nil {
		return nil, err
	}
	api, err := args.Services.Require(repositoryNeeds.APIs...)
	if err != nil {
		return nil, err
	}
	c.Repository, err = artifactregistry.NewRepository(ctx, name+"-repo", &artifactregistry.RepositoryArgs{
		Project:      pulumi.String(args.Project),
		Location:     pulumi.String(args.Region),
		RepositoryId: pulumi.String(args.RepositoryID),
		Format:       pulumi.String("DOCKER"),
		Description:  pulumi.String("gatehouse backend images"),
	}, withParent(c, api, pulumi.Protect(args.Protect), formerRepository(ctx))...)
	if err != nil {
		return nil, err
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"repositoryId": c.Repository.RepositoryId}); err != nil {
		return nil, err
	}
	return c, nil
}

// formerRepository aliases the repository to where the layout before one
// list of backends registered it: "backend-repo", a child of the /v1
// backend's component "backend", which created it for all the others.
func formerRepository(ctx *pulumi.Context) pulumi.ResourceOption {
	parent := pulumi.CreateURN(pulumi.String("backend"), pulumi.String(typePrefix+"SecureBackend"), nil,
		pulumi.String(ctx.Project()), pulumi.String(ctx.Stack()))
	return pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String("backend-repo"), ParentURN: parent}})
}
