package components

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/artifactregistry"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/organizations"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// How the backend image is built. `make image-test` builds the same
// Dockerfile for the same platform; a test keeps the two in step.
const (
	ImagePlatform   = "linux/amd64" // Cloud Run runs amd64
	ImageContext    = "../service"  // relative to infra/, where Pulumi runs the program
	ImageDockerfile = "Dockerfile"  // inside ImageContext
	ContainerPort   = 8080
	HealthPath      = "/healthz"
)

// SecureBackendArgs configures the Cloud Run backend.
type SecureBackendArgs struct {
	Project, Region string
	ServiceName     string
	ImageTag        string

	// RuntimeServiceAccount is the email the service runs as.
	RuntimeServiceAccount pulumi.StringInput
	// InvokerMember is the only principal granted roles/run.invoker on the
	// service, e.g. "serviceAccount:gw@p.iam.gserviceaccount.com".
	InvokerMember pulumi.StringInput

	MinInstances, MaxInstances int
	CPU, Memory                string
	Concurrency                int
	RequestTimeout             time.Duration
	LogLevel                   string
	CORSOrigins                []string // CORS_ALLOW_ORIGINS for the backend; none: CORS off
	DeletionProtection         bool

	// APIs are options that make resources wait for their Google APIs.
	RegistryAPI, RunAPI pulumi.ResourceOption

	// Repository, when set, is the image repository to push to (one for
	// all the stack's backends); otherwise the backend creates it.
	Repository *artifactregistry.Repository
	// Build says how the image is built: nil builds service/ as before.
	Build *ImageBuild
	// ImageRef runs an existing image instead of building one.
	ImageRef string
	// ImageRegistry is TEST-ONLY (gatehouse:imageRegistry): a loopback
	// registry to push to instead of REGION-docker.pkg.dev.
	ImageRegistry string
}

// ImageBuild is a Docker build of a backend image; paths are relative to
// infra/, where Pulumi runs the program.
type ImageBuild struct {
	Context, Dockerfile string
	Args                map[string]string // build arguments
}

// SecureBackend is the image in Artifact Registry, the Cloud Run service
// running it as a dedicated identity, and the IAM binding that lets exactly
// one principal (the gateway) invoke it.
type SecureBackend struct {
	pulumi.ResourceState

	Repository *artifactregistry.Repository
	Image      *docker.Image
	Service    *cloudrunv2.Service
	Invoker    *cloudrunv2.ServiceIamMember

	URL         pulumi.StringOutput // Cloud Run URL; direct calls get 403
	ImageDigest pulumi.StringOutput // repo digest the service runs
}

// NewSecureBackend builds and deploys the backend.
func NewSecureBackend(ctx *pulumi.Context, name string, args *SecureBackendArgs, opts ...pulumi.ResourceOption) (*SecureBackend, error) {
	c := &SecureBackend{}
	if err := ctx.RegisterComponentResource(typePrefix+"SecureBackend", name, c, opts...); err != nil {
		return nil, err
	}
	protect := pulumi.Protect(args.DeletionProtection)

	var err error
	c.Repository = args.Repository
	if c.Repository == nil {
		c.Repository, err = artifactregistry.NewRepository(ctx, name+"-repo", &artifactregistry.RepositoryArgs{
			Project:      pulumi.String(args.Project),
			Location:     pulumi.String(args.Region),
			RepositoryId: pulumi.String(args.ServiceName),
			Format:       pulumi.String("DOCKER"),
			Description:  pulumi.String("gatehouse backend images"),
		}, withParent(c, args.RegistryAPI, protect)...)
		if err != nil {
			return nil, err
		}
	}
	image, err := c.image(ctx, name, args)
	if err != nil {
		return nil, err
	}

	envs := cloudrunv2.ServiceTemplateContainerEnvArray{
		&cloudrunv2.ServiceTemplateContainerEnvArgs{Name: pulumi.String("GOOGLE_CLOUD_PROJECT"), Value: pulumi.String(args.Project)},
		&cloudrunv2.ServiceTemplateContainerEnvArgs{Name: pulumi.String("LOG_LEVEL"), Value: pulumi.String(args.LogLevel)},
	}
	if len(args.CORSOrigins) > 0 {
		envs = append(envs, &cloudrunv2.ServiceTemplateContainerEnvArgs{
			Name: pulumi.String("CORS_ALLOW_ORIGINS"), Value: pulumi.String(strings.Join(args.CORSOrigins, ",")),
		})
	}
	c.Service, err = cloudrunv2.NewService(ctx, name+"-service", &cloudrunv2.ServiceArgs{
		Project:     pulumi.String(args.Project),
		Location:    pulumi.String(args.Region),
		Name:        pulumi.String(args.ServiceName),
		Description: pulumi.String("gatehouse backend; invokable only by the API Gateway service account"),
		// API Gateway reaches Cloud Run over the public front end, not as an
		// "internal" source, so ingress must stay ALL. IAM is the lock: only
		// the gateway's service account holds roles/run.invoker, and Google
		// rejects every other caller with 403 before the container sees it.
		Ingress: pulumi.String("INGRESS_TRAFFIC_ALL"),
		Template: &cloudrunv2.ServiceTemplateArgs{
			ServiceAccount:                args.RuntimeServiceAccount,
			MaxInstanceRequestConcurrency: pulumi.Int(args.Concurrency),
			Timeout:                       pulumi.String(strconv.Itoa(int(args.RequestTimeout.Seconds())) + "s"),
			Scaling: &cloudrunv2.ServiceTemplateScalingArgs{
				MinInstanceCount: pulumi.Int(args.MinInstances),
				MaxInstanceCount: pulumi.Int(args.MaxInstances),
			},
			Containers: cloudrunv2.ServiceTemplateContainerArray{&cloudrunv2.ServiceTemplateContainerArgs{
				// Pinned to the pushed digest: a code change rolls a new
				// revision; an unchanged image changes nothing.
				Image: image,
				Ports: cloudrunv2.ServiceTemplateContainerPortArray{&cloudrunv2.ServiceTemplateContainerPortArgs{
					ContainerPort: pulumi.Int(ContainerPort),
				}},
				Envs: envs,
				Resources: &cloudrunv2.ServiceTemplateContainerResourcesArgs{
					Limits:          pulumi.StringMap{"cpu": pulumi.String(args.CPU), "memory": pulumi.String(args.Memory)},
					CpuIdle:         pulumi.Bool(true),
					StartupCpuBoost: pulumi.Bool(true),
				},
				StartupProbe: &cloudrunv2.ServiceTemplateContainerStartupProbeArgs{
					HttpGet: &cloudrunv2.ServiceTemplateContainerStartupProbeHttpGetArgs{
						Path: pulumi.String(HealthPath), Port: pulumi.Int(ContainerPort),
					},
					PeriodSeconds:    pulumi.Int(1),
					TimeoutSeconds:   pulumi.Int(1),
					FailureThreshold: pulumi.Int(10),
				},
				LivenessProbe: &cloudrunv2.ServiceTemplateContainerLivenessProbeArgs{
					HttpGet: &cloudrunv2.ServiceTemplateContainerLivenessProbeHttpGetArgs{
						Path: pulumi.String(HealthPath), Port: pulumi.Int(ContainerPort),
					},
					PeriodSeconds:    pulumi.Int(30),
					TimeoutSeconds:   pulumi.Int(2),
					FailureThreshold: pulumi.Int(3),
				},
			}},
		},
	}, withParent(c, args.RunAPI, protect)...)
	if err != nil {
		return nil, err
	}

	// roles/run.invoker on this service only (never at project level), for
	// exactly one member.
	c.Invoker, err = cloudrunv2.NewServiceIamMember(ctx, name+"-invoker", &cloudrunv2.ServiceIamMemberArgs{
		Project:  c.Service.Project,
		Location: c.Service.Location,
		Name:     c.Service.Name,
		Role:     pulumi.String("roles/run.invoker"),
		Member:   args.InvokerMember,
	}, withParent(c)...)
	if err != nil {
		return nil, err
	}
	c.URL = c.Service.Uri

	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"url":         c.URL,
		"imageDigest": c.ImageDigest,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// image builds and pushes the backend's image and returns the reference
// Cloud Run runs, or returns ImageRef as it is.
func (c *SecureBackend) image(ctx *pulumi.Context, name string, args *SecureBackendArgs) (pulumi.StringOutput, error) {
	if args.ImageRef != "" {
		c.ImageDigest = pulumi.String(args.ImageRef).ToStringOutput()
		return c.ImageDigest, nil
	}
	build := args.Build
	if build == nil {
		build = &ImageBuild{Context: ImageContext, Dockerfile: filepath.Join(ImageContext, ImageDockerfile)}
	}
	buildArgs := pulumi.StringMap{}
	for k, v := range build.Args {
		buildArgs[k] = pulumi.String(v)
	}
	var buildArgsInput pulumi.StringMapInput
	if len(buildArgs) > 0 {
		buildArgsInput = buildArgs
	}
	// Push with a short-lived OAuth token of the credentials Pulumi runs
	// with; no key file is involved.
	registry := fmt.Sprintf("%s-docker.pkg.dev", args.Region)
	if args.ImageRegistry != "" {
		registry = args.ImageRegistry
	}
	token := organizations.GetClientConfigOutput(ctx, pulumi.Parent(c)).AccessToken()
	imageName := pulumi.Sprintf("%s/%s/%s/%s:%s", registry, args.Project, c.Repository.RepositoryId, args.ServiceName, args.ImageTag)
	// With the test-only local registry, the build runs on the host's
	// network: the offline test daemon (local/image/docker.sh) has no bridge.
	var network pulumi.StringPtrInput
	if args.ImageRegistry != "" {
		network = pulumi.String("host")
	}
	var err error
	c.Image, err = docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: imageName,
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(build.Context),
			Dockerfile: pulumi.String(build.Dockerfile),
			Platform:   pulumi.String(ImagePlatform),
			Args:       buildArgsInput,
			Network:    network,
		},
		Registry: &docker.RegistryArgs{
			Server:   pulumi.String(registry),
			Username: pulumi.String("oauth2accesstoken"),
			Password: pulumi.ToSecret(token).(pulumi.StringOutput),
		},
	}, withParent(c, pulumi.DependsOn([]pulumi.Resource{c.Repository}))...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	c.ImageDigest = c.Image.RepoDigest
	return c.ImageDigest, nil
}
