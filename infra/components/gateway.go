package components

import (
	"encoding/base64"

	"github.com/pulumi/pulumi-gcp/sdk/v7/go/gcp/apigateway"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/gatehouse/gatehouse/spec"
)

// gatewayNeeds: API Gateway needs its own API, Service Management and
// Service Control on (https://cloud.google.com/api-gateway/docs/secure-traffic-gcloud,
// "Enabling required services").
var gatewayNeeds = Needs{
	APIs: []string{"apigateway.googleapis.com", "servicemanagement.googleapis.com", "servicecontrol.googleapis.com"},
	DeployRoles: []Grant{
		{"roles/apigateway.admin", "create and update the API, its configs and the gateway"},
	},
}

// GatewayArgs configures API Gateway in front of the backends.
type GatewayArgs struct {
	Project, Region string
	APIID           string // API and gateway id (stack.Names.API)

	// ServiceAccount is the email the gateway calls the backends as.
	ServiceAccount pulumi.StringInput
	// Contract is the document's static part (stack.Config.Contract); it is
	// rendered with BackendURLs, the backends' Cloud Run URLs by name, and
	// the API's managed service name once they are known.
	Contract    spec.Contract
	BackendURLs pulumi.StringMapInput

	Protect  bool
	Services *ProjectServices // the APIs to wait on
}

// Gateway is the API, its config (the rendered spec) and the gateway serving
// it.
//
// The API's own managed service (API.ManagedService,
// NAME-HASH.apigateway.PROJECT.cloud.goog) is NOT enabled in the project:
// API Gateway's docs ask for it only to accept API keys ("If you are using
// an API key for authentication, you must first enable API key support for
// your service: gcloud services enable MANAGED_SERVICE_NAME",
// https://cloud.google.com/api-gateway/docs/authenticate-api-keys) and for
// quotas, which need API keys too
// (https://cloud.google.com/api-gateway/docs/quotas). gatehouse's spec
// uses neither: clients authenticate with Firebase ID tokens. Enabling it
// needs servicemanagement.services.bind, which no deployer role holds, so
// the first deploy from CI stopped there (issue #24). A stack deployed with
// the resource drops it from its state on the next up without a call to
// Google (it was created with disableOnDestroy false).
type Gateway struct {
	pulumi.ResourceState

	API     *apigateway.Api
	Config  *apigateway.ApiConfig
	Gateway *apigateway.Gateway

	Document pulumi.StringOutput // rendered OpenAPI document
	ConfigID pulumi.StringOutput // content-hash config id
	URL      pulumi.StringOutput // https://<gateway host>
}

// NewGateway renders the spec from live outputs and deploys it.
func NewGateway(ctx *pulumi.Context, name string, args *GatewayArgs, opts ...pulumi.ResourceOption) (*Gateway, error) {
	c := &Gateway{}
	if err := ctx.RegisterComponentResource(typePrefix+"Gateway", name, c, opts...); err != nil {
		return nil, err
	}
	gatewayAPI, err := args.Services.Require(gatewayNeeds.APIs...)
	if err != nil {
		return nil, err
	}
	c.API, err = apigateway.NewApi(ctx, name+"-api", &apigateway.ApiArgs{
		Project:     pulumi.String(args.Project),
		ApiId:       pulumi.String(args.APIID),
		DisplayName: pulumi.String(args.APIID),
	}, withParent(c, gatewayAPI, pulumi.Protect(args.Protect))...)
	if err != nil {
		return nil, err
	}

	backendURLs := args.BackendURLs
	if backendURLs == nil {
		backendURLs = pulumi.StringMap{}
	}
	c.Document = pulumi.All(backendURLs, c.API.ManagedService).ApplyT(func(v []any) (string, error) {
		doc, err := args.Contract.Render(v[0].(map[string]string), v[1].(string))
		return string(doc), err
	}).(pulumi.StringOutput)
	// The id hashes every input that forces the ApiConfig's replacement:
	// the document and gatewayConfig's backend service account.
	c.ConfigID = pulumi.All(c.Document, args.ServiceAccount).ApplyT(func(v []any) string {
		return spec.ConfigID([]byte(v[0].(string)), v[1].(string))
	}).(pulumi.StringOutput)

	// A spec change gives a new config id, which replaces the ApiConfig.
	// Pulumi's default create-before-delete order then creates the new
	// config, repoints the gateway, and only then deletes the old one, so
	// there is no "config in use" error. Never DeleteBeforeReplace here.
	c.Config, err = apigateway.NewApiConfig(ctx, name+"-config", &apigateway.ApiConfigArgs{
		Project:     pulumi.String(args.Project),
		Api:         c.API.ApiId,
		ApiConfigId: c.ConfigID,
		DisplayName: c.ConfigID,
		OpenapiDocuments: apigateway.ApiConfigOpenapiDocumentArray{&apigateway.ApiConfigOpenapiDocumentArgs{
			Document: &apigateway.ApiConfigOpenapiDocumentDocumentArgs{
				Path: pulumi.String("openapi.yaml"),
				Contents: c.Document.ApplyT(func(doc string) string {
					return base64.StdEncoding.EncodeToString([]byte(doc))
				}).(pulumi.StringOutput),
			},
		}},
		// The gateway calls the backend with this account's identity token.
		GatewayConfig: &apigateway.ApiConfigGatewayConfigArgs{
			BackendConfig: &apigateway.ApiConfigGatewayConfigBackendConfigArgs{
				GoogleServiceAccount: args.ServiceAccount,
			},
		},
	}, withParent(c, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "15m", Update: "15m", Delete: "15m"}))...)
	if err != nil {
		return nil, err
	}

	c.Gateway, err = apigateway.NewGateway(ctx, name+"-gateway", &apigateway.GatewayArgs{
		Project:     pulumi.String(args.Project),
		Region:      pulumi.String(args.Region),
		GatewayId:   pulumi.String(args.APIID),
		DisplayName: pulumi.String(args.APIID),
		ApiConfig:   c.Config.ID().ToStringOutput(),
	}, withParent(c, pulumi.Timeouts(&pulumi.CustomTimeouts{Create: "30m", Update: "30m", Delete: "30m"}))...)
	if err != nil {
		return nil, err
	}

	c.URL = pulumi.Sprintf("https://%s", c.Gateway.DefaultHostname)
	if err := ctx.RegisterResourceOutputs(c, pulumi.Map{
		"url":            c.URL,
		"configId":       c.ConfigID,
		"managedService": c.API.ManagedService,
	}); err != nil {
		return nil, err
	}
	return c, nil
}
