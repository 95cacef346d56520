package cloud

import (
	"sort"
	"strings"
)

// Service Usage v1: list, get, enable, batchEnable, disable and their
// operations. Shapes: GoogleCloudPlatform/k8s-config-connector
// mockgcp/mockserviceusage/testdata/service/crud/_http.log (enable returns
// an operation "operations/acf.p2-NUMBER-UUID" whose response is an
// EnableServiceResponse). The provider enables in batches (3 s window) with
// :enable for one service and :batchEnable for more, then lists until every
// service shows (terraform-provider-google-beta v5.42.0
// services/resourcemanager/resource_google_project.go:691-715, 803-807).
func (c *Cloud) serviceUsage(s *Service) {
	svcRes := func(r *Request) string {
		return c.projectResource(r.Var("v1Id1")) + "/services/" + r.Var("servicesId")
	}
	projRes := func(r *Request) string { return c.projectResource(r.Var("v1Id1")) }
	s.Methods["serviceusage.services.list"] = &Method{Permission: "serviceusage.services.list", Resource: projRes, Handle: c.listServices}
	s.Methods["serviceusage.services.get"] = &Method{Permission: "serviceusage.services.get", Resource: svcRes, Handle: func(r *Request) (any, error) {
		return c.serviceJSON(r.Project, r.Var("servicesId")), nil
	}}
	s.Methods["serviceusage.services.enable"] = &Method{Permission: "serviceusage.services.enable", Resource: svcRes,
		Extra: func(r *Request) []string { return c.bindPermission([]string{r.Var("servicesId")}) },
		Handle: func(r *Request) (any, error) {
			svc := r.Var("servicesId")
			if err := c.enable(r.Project, svc); err != nil {
				return nil, err
			}
			return c.startOp(c.suOpName(r.Project), "type.googleapis.com/google.protobuf.Empty", "", "",
				"type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse",
				map[string]any{"service": c.serviceJSON(r.Project, svc)}), nil
		}}
	s.Methods["serviceusage.services.batchEnable"] = &Method{Permission: "serviceusage.services.enable", Resource: projRes,
		Extra: func(r *Request) []string { return c.bindPermission(stringList(r.Body["serviceIds"])) },
		Handle: func(r *Request) (any, error) {
			ids := stringList(r.Body["serviceIds"])
			if len(ids) == 0 || len(ids) > 20 {
				return nil, InvalidArgument("serviceIds", "serviceIds must list 1 to 20 services.")
			}
			var done []any
			for _, id := range ids {
				if err := c.enable(r.Project, id); err != nil {
					return nil, err
				}
				done = append(done, c.serviceJSON(r.Project, id))
			}
			return c.startOp(c.suOpName(r.Project), "type.googleapis.com/google.protobuf.Empty", "", "",
				"type.googleapis.com/google.api.serviceusage.v1.BatchEnableServicesResponse", map[string]any{"services": done}), nil
		}}
	s.Methods["serviceusage.services.disable"] = &Method{Permission: "serviceusage.services.disable", Resource: svcRes,
		Handle: func(r *Request) (any, error) {
			svc := r.Var("servicesId")
			delete(r.Project.Services, svc)
			return c.startOp(c.suOpName(r.Project), "type.googleapis.com/google.protobuf.Empty", "", "",
				"type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse",
				map[string]any{"service": c.serviceJSON(r.Project, svc)}), nil
		}}
	s.Methods["serviceusage.operations.get"] = &Method{Resource: func(r *Request) string { return "operations/" + r.Var("operationsId") }, Handle: c.getOp}
}

func (c *Cloud) suOpName(p *Project) string {
	return "operations/acf.p2-" + p.Number + "-" + c.st.hexID(8, p.ID) + "-" + c.st.hexID(4) + "-" + c.st.hexID(4) + "-" + c.st.hexID(12)
}

func stringList(v any) []string {
	arr, _ := v.([]any)
	var out []string
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// bindPermission: enabling an API's managed service (an API Gateway API's
// "<api>-<hash>.apigateway.<project>.cloud.goog") needs
// servicemanagement.services.bind besides serviceusage.services.enable
// (https://cloud.google.com/service-infrastructure/docs/service-management/access-control:
// "servicemanagement.services.bind ... enable the service").
func (c *Cloud) bindPermission(ids []string) []string {
	for _, id := range ids {
		if strings.HasSuffix(id, ".cloud.goog") {
			return []string{"servicemanagement.services.bind"}
		}
	}
	return nil
}

// enable turns a service on; one the local cloud does not know is refused
// as Google refuses an unknown service.
func (c *Cloud) enable(p *Project, svc string) error {
	if _, ok := KnownServices[svc]; !ok && !c.managedServiceExists(svc) {
		e := PermissionDenied("serviceusage.services.enable", "projects/"+p.ID+"/services/"+svc)
		e.Message = "Not found or permission denied for service(s): " + svc + "."
		e.Details = []map[string]any{errorInfo("SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED", "serviceusage.googleapis.com",
			map[string]string{"services": svc})}
		return e
	}
	if _, on := p.Services[svc]; !on {
		p.Services[svc] = c.now()
	}
	return nil
}

func (c *Cloud) managedServiceExists(svc string) bool {
	for _, obj := range c.st.Objects {
		if obj["managedService"] == svc {
			return true
		}
	}
	return false
}

func (c *Cloud) serviceJSON(p *Project, svc string) map[string]any {
	state := "DISABLED"
	if _, on := p.Services[svc]; on {
		state = "ENABLED"
	}
	title := KnownServices[svc]
	if title == "" {
		title = svc
	}
	return map[string]any{
		"name":   "projects/" + p.Number + "/services/" + svc,
		"parent": "projects/" + p.Number,
		"config": map[string]any{"name": svc, "title": title},
		"state":  state,
	}
}

func (c *Cloud) listServices(r *Request) (any, error) {
	var names []string
	for s := range r.Project.Services {
		names = append(names, s)
	}
	sort.Strings(names)
	filter := r.Query.Get("filter")
	var out []any
	for _, n := range names {
		out = append(out, c.serviceJSON(r.Project, n))
	}
	if filter != "" && filter != "state:ENABLED" {
		return nil, InvalidArgument("filter", "Invalid filter %q: the local cloud lists with state:ENABLED only.", filter)
	}
	return map[string]any{"services": out}, nil
}
