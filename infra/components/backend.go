package components

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/cloudrunv2"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/stack"
)

// ImagePlatform is the platform backend images are built for: Cloud Run
// runs amd64. `make image-test` builds for the same one; a test keeps the
// two in step.
const ImagePlatform = "linux/amd64"

// The port and health path every backend serves.
const (
	ContainerPort = 8080
	HealthPath    = "/healthz"
)

var backendNeeds = Needs{
	APIs: []string{"run.googleapis.com"},
	DeployRoles: []Grant{
		{"roles/run.admin", "create and update the Cloud Run service and grant roles/run.invoker on it to the gateway account: run.services.setIamPolicy is in no narrower predefined role, and the service does not exist before the first up, so the role cannot be granted on it"},
	},
}

// SecureBackendArgs configures one Cloud Run backend.
type SecureBackendArgs struct {
	Project, Region string
	ServiceName     string // its Cloud Run service (stack.Names.CloudRunService)

	// Build builds the image (paths as the program opens them) and pushes
	// it to Repository as ImageName:ImageTag; or ImageRef runs an existing
	// image instead.
	Build      *stack.Build
	Repository *ImageRepository
	ImageName  string // without tag (stack.Names.Image)
	ImageTag   string
	ImageRef   string

	// RuntimeServiceAccount is the email the service runs as.
	RuntimeServiceAccount pulumi.StringInput
	// InvokerMember is the only principal granted roles/run.invoker on the
	// service, e.g. "serviceAccount:gw@p.iam.gserviceaccount.com".
	InvokerMember pulumi.StringInput

	Run                stack.RunSettings
	LogLevel           string
	CORSOrigins        []string // CORS_ALLOW_ORIGINS for the backend; none: CORS off
	DeletionProtection bool

	// RequireVerifiedEmail sets REQUIRE_EMAIL_VERIFIED=true: identity
	// routes refuse (403) callers without a verified email.
	RequireVerifiedEmail bool

	Services *ProjectServices // the APIs to wait on
}

// SecureBackend is the image in Artifact Registry, the Cloud Run service
// running it as a dedicated identity, and the IAM binding that lets exactly
// one principal (the gateway) invoke it.
type SecureBackend struct {
	pulumi.ResourceState

	Image   *docker.Image // nil with ImageRef
	Service *cloudrunv2.Service
	Invoker *cloudrunv2.ServiceIamMember

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
	runAPI, err := args.Services.Require(backendNeeds.APIs...)
	if err != nil {
		return nil, err
	}
	image, err := c.image(ctx, name, args)
	if err != nil {
		return nil, err
	}

	envs := cloudrunv2.ServiceTemplateContainerEnvArray{
		&cloudrunv2.ServiceTemplateContainerEnvArgs{Name: pulumi.String("GOOGLE_CLOUD_PROJECT"), Value: pulumi.String(args.Project)},
		&cloudrunv2.ServiceTemplateContainerEnvArgs{Name: pulumi.String("LOG_LEVEL"), Value: pulumi.String(args.LogLevel)},
	}
	// The backend serves the caller identity only on requests invoked as the
	// gateway's service account (service/backend, invoker.go): the one
	// member granted roles/run.invoker below, so both come from one input.
	envs = append(envs, &cloudrunv2.ServiceTemplateContainerEnvArgs{
		Name: pulumi.String("GATEWAY_SERVICE_ACCOUNT"), Value: invokerAccount(args.InvokerMember),
	})
	if len(args.CORSOrigins) > 0 {
		envs = append(envs, &cloudrunv2.ServiceTemplateContainerEnvArgs{
			Name: pulumi.String("CORS_ALLOW_ORIGINS"), Value: pulumi.String(strings.Join(args.CORSOrigins, ",")),
		})
	}
	// Only when on: a stack without it keeps its services' environment (and
	// revision) as they were.
	if args.RequireVerifiedEmail {
		envs = append(envs, &cloudrunv2.ServiceTemplateContainerEnvArgs{
			Name: pulumi.String("REQUIRE_EMAIL_VERIFIED"), Value: pulumi.String("true"),
		})
	}
	// Below 1 CPU Cloud Run requires the first-generation execution
	// environment (https://cloud.google.com/run/docs/configuring/services/cpu:
	// "If you use less than 1 vCPU ... You must use the first generation
	// execution environment"); otherwise Cloud Run picks one.
	var executionEnvironment pulumi.StringPtrInput
	if args.Run.BelowOneCPU() {
		executionEnvironment = pulumi.String("EXECUTION_ENVIRONMENT_GEN1")
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
			ExecutionEnvironment:          executionEnvironment,
			MaxInstanceRequestConcurrency: pulumi.Int(args.Run.Concurrency),
			Timeout:                       pulumi.String(strconv.Itoa(int(args.Run.RequestTimeout.Seconds())) + "s"),
			Scaling: &cloudrunv2.ServiceTemplateScalingArgs{
				MinInstanceCount: pulumi.Int(args.Run.MinInstances),
				MaxInstanceCount: pulumi.Int(args.Run.MaxInstances),
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
					Limits:          pulumi.StringMap{"cpu": pulumi.String(args.Run.CPU), "memory": pulumi.String(args.Run.Memory)},
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
	}, withParent(c, runAPI, protect)...)
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

// invokerAccount is the email of an IAM member "serviceAccount:<email>":
// the account the backend expects its requests to be invoked as.
func invokerAccount(member pulumi.StringInput) pulumi.StringOutput {
	return member.ToStringOutput().ApplyT(func(m string) (string, error) {
		email, ok := strings.CutPrefix(m, "serviceAccount:")
		if !ok || email == "" {
			return "", fmt.Errorf("invoker %q is not a service account: the backend checks that requests were invoked as the gateway's service account", m)
		}
		return email, nil
	}).(pulumi.StringOutput)
}

// image builds and pushes the backend's image and returns the reference
// Cloud Run runs, or returns ImageRef as it is.
func (c *SecureBackend) image(ctx *pulumi.Context, name string, args *SecureBackendArgs) (pulumi.StringOutput, error) {
	if args.ImageRef != "" {
		c.ImageDigest = pulumi.String(args.ImageRef).ToStringOutput()
		return c.ImageDigest, nil
	}
	if args.Build == nil || args.Repository == nil {
		return pulumi.StringOutput{}, fmt.Errorf("backend %s: a build needs a repository to push to", name)
	}
	var buildArgs pulumi.StringMapInput
	if len(args.Build.Args) > 0 {
		m := pulumi.StringMap{}
		for k, v := range args.Build.Args {
			m[k] = pulumi.String(v)
		}
		buildArgs = m
	}
	// No credential is an input here: resource inputs are stored in the
	// stack's state, which pull-request jobs can read (issue #24). Without
	// registry username and password, pulumi-docker v4.10.0 pushes with the
	// host's Docker credentials for the registry host: the Docker config's
	// auths and credential helpers (config.Load(config.Dir()) and
	// GetAuthConfig in provider/image.go, getRegistryAuth). So a laptop runs
	// `gcloud auth configure-docker REGION-docker.pkg.dev` once (the gcloud
	// credential helper), and the deploy workflow logs Docker in with the
	// deployer's short-lived token (docker/login-action), as Artifact
	// Registry documents (https://cloud.google.com/artifact-registry/docs/docker/authentication).
	// With the TEST-ONLY loopback registry of the local Google Cloud
	// (gatehouse:imageRegistry), the build runs on the host's network: the
	// offline test daemon (local/image/docker.sh) has no bridge.
	var network pulumi.StringPtrInput
	if args.Repository.Local() {
		network = pulumi.String("host")
	}
	var err error
	c.Image, err = docker.NewImage(ctx, name+"-image", &docker.ImageArgs{
		ImageName: pulumi.String(args.ImageName + ":" + args.ImageTag),
		Build: &docker.DockerBuildArgs{
			Context:    pulumi.String(args.Build.Context),
			Dockerfile: pulumi.String(args.Build.Dockerfile),
			Platform:   pulumi.String(ImagePlatform),
			Args:       buildArgs,
			Network:    network,
		},
		Registry: &docker.RegistryArgs{Server: pulumi.String(args.Repository.Host)},
	}, withParent(c, pulumi.DependsOn([]pulumi.Resource{args.Repository.Repository}))...)
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	c.ImageDigest = c.Image.RepoDigest
	return c.ImageDigest, nil
}
