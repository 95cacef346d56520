package components

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/projects"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// serviceUsageAdmin enables the stack's APIs (projects.Service: list, get,
// enable and batchEnable and their operations, resourcemanager.projects.get
// to read the project). It also carries serviceusage.services.use, which
// every request needs because the provider names the project as the quota
// project, and the serviceusage.services.list and
// resourcemanager.projects.get Firebase asks every Firebase role to hold.
var serviceUsageAdmin = Grant{"roles/serviceusage.serviceUsageAdmin", "enable the stack's APIs (projects.Service: serviceusage.services.enable, get, list, and resourcemanager.projects.get); also carries serviceusage.services.use, which every request needs because the provider sets user_project_override"}

var servicesNeeds = Needs{DeployRoles: []Grant{serviceUsageAdmin}}

// ProjectServicesArgs lists the Google APIs to enable.
type ProjectServicesArgs struct {
	Project  string
	Services []string // e.g. "run.googleapis.com"
}

// ProjectServices enables Google APIs in a project. They are left enabled on
// destroy: other workloads in the project may use them.
type ProjectServices struct {
	pulumi.ResourceState

	Enabled map[string]*projects.Service
}

// NewProjectServices enables every API in args.Services.
func NewProjectServices(ctx *pulumi.Context, name string, args *ProjectServicesArgs, opts ...pulumi.ResourceOption) (*ProjectServices, error) {
	c := &ProjectServices{Enabled: map[string]*projects.Service{}}
	if err := ctx.RegisterComponentResource(typePrefix+"ProjectServices", name, c, opts...); err != nil {
		return nil, err
	}
	names := pulumi.StringArray{}
	for _, svc := range args.Services {
		s, err := projects.NewService(ctx, name+"-"+strings.TrimSuffix(svc, ".googleapis.com"), &projects.ServiceArgs{
			Project:                  pulumi.String(args.Project),
			Service:                  pulumi.String(svc),
			DisableOnDestroy:         pulumi.Bool(false),
			DisableDependentServices: pulumi.Bool(false),
		}, withParent(c)...)
		if err != nil {
			return nil, fmt.Errorf("enable %s: %w", svc, err)
		}
		c.Enabled[svc] = s
		names = append(names, s.Service)
	}
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{"services": names}); err != nil {
		return nil, err
	}
	return c, nil
}

// Require returns a DependsOn option on the named APIs, for resources that
// cannot be created before their API is on. An API these services do not
// enable is an error: a component declared a need (its Needs) that the
// program left out of what it enables, and its resources would otherwise
// race their API. A nil ProjectServices (a component built alone, in a
// test) requires nothing.
//
// A just-enabled API can still answer 403 SERVICE_DISABLED for a minute or
// two. The Google provider does not retry that error: its global retry
// predicates (terraform-provider-google, error_retry_predicates.go,
// defaultErrorRetryPredicates) cover network errors, 429/500/502/503, 409
// operationInProgress and per-minute quota 403s, not SERVICE_DISABLED. A
// bounded wait would need a sleep resource (pulumiverse time), which this
// stack does not pin; so the README's troubleshooting says to run `pulumi
// up` again, which creates what is left.
func (p *ProjectServices) Require(services ...string) (pulumi.ResourceOption, error) {
	if p == nil {
		return pulumi.DependsOn(nil), nil
	}
	var deps []pulumi.Resource
	var missing []string
	for _, s := range services {
		svc, ok := p.Enabled[s]
		if !ok {
			missing = append(missing, s)
			continue
		}
		deps = append(deps, svc)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("require %s: not among the APIs the stack enables (a component's Needs left out of StackNeeds?)", strings.Join(missing, ", "))
	}
	return pulumi.DependsOn(deps), nil
}
