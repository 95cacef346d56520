package cloud

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/spec"
)

// API Gateway v1beta (the version the beta provider calls:
// terraform-provider-google-beta v5.42.0 transport/config.go:499): APIs,
// API configs and gateways. Operation and resource shapes from
// GoogleCloudPlatform/k8s-config-connector
// pkg/test/resourcefixture/testdata/basic/apigateway/v1beta1/apigatewayapi/apigatewayapi-minimal/_http.log
// (create answers an operation "projects/P/locations/global/operations/ID"
// with OperationMetadata {target, verb, createTime, apiVersion}; the Api
// carries managedService "API-HASH.apigateway.P.cloud.goog", state ACTIVE,
// createTime and updateTime). API configs are read back with the project
// NUMBER in their name (hashicorp/terraform-provider-google#10032), and
// their documents byte for byte under view=FULL; a gateway's
// defaultHostname is "GATEWAY-HASH.REGIONCODE.gateway.dev"
// (resource_api_gateway_gateway.go:95-98).
func (c *Cloud) apiGateway(s *Service) {
	loc := func(r *Request) string {
		return fmt.Sprintf("%s/locations/%s", c.projectResource(r.Var("projectsId")), r.Var("locationsId"))
	}
	apiName := func(r *Request) string { return loc(r) + "/apis/" + r.Var("apisId") }
	cfgName := func(r *Request) string { return apiName(r) + "/configs/" + r.Var("configsId") }
	gwName := func(r *Request) string { return loc(r) + "/gateways/" + r.Var("gatewaysId") }
	const meta = "type.googleapis.com/google.cloud.apigateway.v1beta.OperationMetadata"
	op := func(r *Request, verb, target, typ string, resp map[string]any) map[string]any {
		return c.startOp(loc(r)+"/operations/operation-"+c.st.hexID(13, target)+"-"+c.st.hexID(8), meta, verb, target, typ, resp)
	}
	checkID := func(field, id string) error {
		if !gatewayIDRe.MatchString(id) {
			return InvalidArgument(field, "%s %q must be 1-63 lowercase letters, digits or hyphens, starting with a letter.", field, id)
		}
		return nil
	}

	// APIs.
	s.Methods["apigateway.projects.locations.apis.create"] = &Method{Permission: "apigateway.apis.create", Resource: loc,
		Handle: func(r *Request) (any, error) {
			id := r.Query.Get("apiId")
			if err := checkID("apiId", id); err != nil {
				return nil, err
			}
			if r.Var("locationsId") != "global" {
				return nil, InvalidArgument("parent", "APIs live in location global, not %q.", r.Var("locationsId"))
			}
			n := loc(r) + "/apis/" + id
			now := timestamp(c.now())
			obj := clone(r.Body)
			merge(obj, map[string]any{"name": n, "state": "ACTIVE", "createTime": now, "updateTime": now,
				"managedService": fmt.Sprintf("%s-%s.apigateway.%s.cloud.goog", id, c.st.hexID(13, n), r.Project.ID)})
			if err := c.create(n, "API", obj); err != nil {
				return nil, err
			}
			return op(r, "create", n, "type.googleapis.com/google.cloud.apigateway.v1beta.Api", obj), nil
		}}
	s.Methods["apigateway.projects.locations.apis.get"] = &Method{Permission: "apigateway.apis.get", Resource: apiName,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(apiName(r), "API")
			return clone(obj), err
		}}
	s.Methods["apigateway.projects.locations.apis.patch"] = &Method{Permission: "apigateway.apis.update", Resource: apiName,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(apiName(r), "API")
			if err != nil {
				return nil, err
			}
			applyMask(obj, r.Body, r.Query.Get("updateMask"), "name", "state", "createTime", "updateTime", "managedService")
			obj["updateTime"] = timestamp(c.now())
			return op(r, "update", apiName(r), "type.googleapis.com/google.cloud.apigateway.v1beta.Api", obj), nil
		}}
	s.Methods["apigateway.projects.locations.apis.delete"] = &Method{Permission: "apigateway.apis.delete", Resource: apiName,
		Handle: func(r *Request) (any, error) {
			n := apiName(r)
			obj, err := c.get(n, "API")
			if err != nil {
				return nil, err
			}
			if cfgs := c.st.children(n + "/configs/"); len(cfgs) > 0 {
				return nil, FailedPrecondition("API %q has child resources (API configs: %s); delete them first.", n, strings.Join(cfgs, ", "))
			}
			// The API's managed service is deleted with it, and a deleted
			// managed service is soft-deleted for 30 days
			// (https://cloud.google.com/service-infrastructure/docs/manage-services#deleting_a_service).
			if ms, _ := obj["managedService"].(string); ms != "" {
				c.st.Tombstones["services/"+ms] = Tombstone{Until: c.now().Add(softDeleteTTL), Object: map[string]any{"serviceName": ms}}
				for _, p := range c.st.Projects {
					delete(p.Services, ms)
				}
			}
			c.st.deleteObject(n)
			return op(r, "delete", n, "", nil), nil
		}}

	// API configs.
	s.Methods["apigateway.projects.locations.apis.configs.create"] = &Method{Permission: "apigateway.apiconfigs.create", Resource: apiName,
		ActAs: func(r *Request) []string {
			gc, _ := r.Body["gatewayConfig"].(map[string]any)
			bc, _ := gc["backendConfig"].(map[string]any)
			if sa, _ := bc["googleServiceAccount"].(string); sa != "" {
				return []string{sa}
			}
			return nil
		},
		Check: func(r *Request) error { return checkDocuments(r.Body) },
		Handle: func(r *Request) (any, error) {
			id := r.Query.Get("apiConfigId")
			if err := checkID("apiConfigId", id); err != nil {
				return nil, err
			}
			if _, err := c.get(apiName(r), "API"); err != nil {
				return nil, err
			}
			n := apiName(r) + "/configs/" + id
			now := timestamp(c.now())
			obj := clone(r.Body)
			numbered := fmt.Sprintf("projects/%s/locations/global/apis/%s/configs/%s", r.Project.Number, r.Var("apisId"), id)
			merge(obj, map[string]any{"name": numbered, "state": "ACTIVE", "createTime": now, "updateTime": now,
				"serviceConfigId": id + "-" + c.st.hexID(13, n)})
			if err := c.create(n, "API config", obj); err != nil {
				return nil, err
			}
			return op(r, "create", n, "type.googleapis.com/google.cloud.apigateway.v1beta.ApiConfig", obj), nil
		}}
	s.Methods["apigateway.projects.locations.apis.configs.get"] = &Method{Permission: "apigateway.apiconfigs.get", Resource: cfgName,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(cfgName(r), "API config")
			if err != nil {
				return nil, err
			}
			out := clone(obj)
			// The documents come back only in the FULL view
			// (https://cloud.google.com/api-gateway/docs/reference/rest/v1beta/projects.locations.apis.configs/get);
			// gatewayConfig is not read back.
			if r.Query.Get("view") != "FULL" {
				delete(out, "openapiDocuments")
				delete(out, "grpcServices")
				delete(out, "managedServiceConfigs")
			}
			delete(out, "gatewayConfig")
			return out, nil
		}}
	s.Methods["apigateway.projects.locations.apis.configs.patch"] = &Method{Permission: "apigateway.apiconfigs.update", Resource: cfgName,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(cfgName(r), "API config")
			if err != nil {
				return nil, err
			}
			// Only the display name and labels may change: the documents
			// and gateway config are fixed once created.
			mask := r.Query.Get("updateMask")
			for _, f := range strings.Split(mask, ",") {
				if f = strings.TrimSpace(f); f != "" && f != "displayName" && f != "labels" && f != "display_name" {
					return nil, InvalidArgument("update_mask", "Field %q of an API config cannot be updated.", f)
				}
			}
			applyMask(obj, r.Body, mask)
			obj["updateTime"] = timestamp(c.now())
			return op(r, "update", cfgName(r), "type.googleapis.com/google.cloud.apigateway.v1beta.ApiConfig", obj), nil
		}}
	s.Methods["apigateway.projects.locations.apis.configs.delete"] = &Method{Permission: "apigateway.apiconfigs.delete", Resource: cfgName,
		Handle: func(r *Request) (any, error) {
			n := cfgName(r)
			if _, err := c.get(n, "API config"); err != nil {
				return nil, err
			}
			if gw := c.gatewayUsing(r.Project, n); gw != "" {
				return nil, FailedPrecondition("API config %q is in use by gateway %q: point the gateway at another config first.", n, gw)
			}
			c.st.deleteObject(n)
			return op(r, "delete", n, "", nil), nil
		}}

	// Gateways.
	s.Methods["apigateway.projects.locations.gateways.create"] = &Method{Permission: "apigateway.gateways.create", Resource: loc,
		Handle: func(r *Request) (any, error) {
			id := r.Query.Get("gatewayId")
			if err := checkID("gatewayId", id); err != nil {
				return nil, err
			}
			if err := c.checkConfigRef(r.Project, r.Str("apiConfig")); err != nil {
				return nil, err
			}
			n := loc(r) + "/gateways/" + id
			now := timestamp(c.now())
			obj := clone(r.Body)
			merge(obj, map[string]any{"name": n, "state": "ACTIVE", "createTime": now, "updateTime": now,
				"apiConfig":       c.numbered(r.Project, r.Str("apiConfig")),
				"defaultHostname": fmt.Sprintf("%s-%s.%s.gateway.dev", id, c.st.hexID(8, n), regionCode(r.Var("locationsId")))})
			if err := c.create(n, "Gateway", obj); err != nil {
				return nil, err
			}
			return op(r, "create", n, "type.googleapis.com/google.cloud.apigateway.v1beta.Gateway", obj), nil
		}}
	s.Methods["apigateway.projects.locations.gateways.get"] = &Method{Permission: "apigateway.gateways.get", Resource: gwName,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(gwName(r), "Gateway")
			return clone(obj), err
		}}
	s.Methods["apigateway.projects.locations.gateways.patch"] = &Method{Permission: "apigateway.gateways.update", Resource: gwName,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(gwName(r), "Gateway")
			if err != nil {
				return nil, err
			}
			if ref, ok := r.Body["apiConfig"].(string); ok {
				if err := c.checkConfigRef(r.Project, ref); err != nil {
					return nil, err
				}
			}
			applyMask(obj, r.Body, r.Query.Get("updateMask"), "name", "state", "createTime", "updateTime", "defaultHostname")
			if ref, ok := obj["apiConfig"].(string); ok {
				obj["apiConfig"] = c.numbered(r.Project, ref)
			}
			obj["updateTime"] = timestamp(c.now())
			return op(r, "update", gwName(r), "type.googleapis.com/google.cloud.apigateway.v1beta.Gateway", obj), nil
		}}
	s.Methods["apigateway.projects.locations.gateways.delete"] = &Method{Permission: "apigateway.gateways.delete", Resource: gwName,
		Handle: func(r *Request) (any, error) {
			if _, err := c.get(gwName(r), "Gateway"); err != nil {
				return nil, err
			}
			c.st.deleteObject(gwName(r))
			return op(r, "delete", gwName(r), "", nil), nil
		}}
	s.Methods["apigateway.projects.locations.operations.get"] = &Method{Permission: "apigateway.operations.get", Resource: loc, Handle: c.getOp}
}

// checkDocuments decodes each OpenAPI document and validates it with
// spec.Validate, gatehouse's one validator of what API Gateway accepts, so
// a document the real service would refuse is refused here.
func checkDocuments(body map[string]any) error {
	docs, _ := body["openapiDocuments"].([]any)
	if len(docs) == 0 && body["grpcServices"] == nil {
		return InvalidArgument("openapi_documents", "An API config needs at least one OpenAPI document or gRPC service.")
	}
	for i, d := range docs {
		dm, _ := d.(map[string]any)
		doc, _ := dm["document"].(map[string]any)
		contents, _ := doc["contents"].(string)
		raw, err := base64.StdEncoding.DecodeString(contents)
		if err != nil {
			return InvalidArgument(fmt.Sprintf("openapi_documents[%d].document.contents", i), "Document contents are not base64: %v", err)
		}
		if err := spec.Validate(raw, spec.Options{}); err != nil {
			return InvalidArgument(fmt.Sprintf("openapi_documents[%d].document.contents", i), "Cannot convert to service config. %v", err)
		}
	}
	return nil
}

// numbered rewrites "projects/ID/..." into the project-number form Google
// reads back.
func (c *Cloud) numbered(p *Project, ref string) string {
	if rest, ok := strings.CutPrefix(ref, "projects/"+p.ID+"/"); ok {
		return "projects/" + p.Number + "/" + rest
	}
	return ref
}

// idForm rewrites "projects/NUMBER/..." into the project-id form the store keys by.
func (c *Cloud) idForm(ref string) string {
	parts := strings.SplitN(ref, "/", 3)
	if len(parts) == 3 && parts[0] == "projects" {
		if p := c.st.project(parts[1]); p != nil {
			return "projects/" + p.ID + "/" + parts[2]
		}
	}
	return ref
}

func (c *Cloud) checkConfigRef(p *Project, ref string) error {
	if ref == "" {
		return InvalidArgument("api_config", "apiConfig is required.")
	}
	if _, ok := c.st.Objects[c.idForm(ref)]; !ok {
		return InvalidArgument("api_config", "API config %q does not exist.", ref)
	}
	return nil
}

// gatewayUsing names a gateway that serves the config, or "".
func (c *Cloud) gatewayUsing(p *Project, config string) string {
	for name, obj := range c.st.Objects {
		if !strings.Contains(name, "/gateways/") || !strings.HasPrefix(name, "projects/"+p.ID+"/") {
			continue
		}
		if ref, _ := obj["apiConfig"].(string); c.idForm(ref) == config {
			return name
		}
	}
	return ""
}
