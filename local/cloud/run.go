package cloud

import (
	"fmt"
	"strconv"
	"strings"
)

// Cloud Run Admin v2 services. The shapes, the server-set fields and the
// defaults filled in for fields the request leaves out are those of a real
// create, operation poll, GET, PATCH and DELETE recorded in
// GoogleCloudPlatform/k8s-config-connector
// pkg/test/resourcefixture/testdata/basic/run/v1beta1/runservice/runservicebasic/_vcr_cassettes/tf.yaml:
// uri "https://NAME-HASH-REGION.a.run.app", generation and
// observedGeneration as strings, terminalCondition Ready and conditions
// RoutesReady / ConfigurationsReady CONDITION_SUCCEEDED,
// latestReadyRevision and latestCreatedRevision "NAME-00001-xyz",
// trafficStatuses, creator and lastModifier, launchStage GA; defaults
// timeout 300s, the project's default compute service account, ports
// [{name http1, containerPort 8080}], limits cpu 1000m and memory 512Mi,
// a TCP startup probe, maxInstanceRequestConcurrency 80, traffic 100% to
// the latest revision.
func (c *Cloud) run(s *Service) {
	name := func(r *Request) string {
		return fmt.Sprintf("%s/locations/%s/services/%s", c.projectResource(r.Var("projectsId")), r.Var("locationsId"), r.Var("servicesId"))
	}
	parent := func(r *Request) string {
		return fmt.Sprintf("%s/locations/%s", c.projectResource(r.Var("projectsId")), r.Var("locationsId"))
	}
	opName := func(r *Request) string { return parent(r) + "/operations/" + c.uuid() }
	const typ = "type.googleapis.com/google.cloud.run.v2.Service"
	const meta = "type.googleapis.com/google.cloud.run.v2.Service"
	actAs := func(r *Request) []string {
		tmpl, _ := r.Body["template"].(map[string]any)
		if sa, _ := tmpl["serviceAccount"].(string); sa != "" {
			return []string{sa}
		}
		return nil
	}
	s.Methods["run.projects.locations.services.create"] = &Method{Permission: "run.services.create", Resource: parent, ActAs: actAs,
		Handle: func(r *Request) (any, error) {
			id := r.Query.Get("serviceId")
			if !runServiceIDRe.MatchString(id) {
				return nil, InvalidArgument("service_id", "service_id %q must use only lowercase alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer than 49 characters.", id)
			}
			n := parent(r) + "/services/" + id
			if _, ok := r.Body["name"]; ok && r.Body["name"] != "" {
				return nil, InvalidArgument("service.name", "service.name must be empty on create: the id is service_id.")
			}
			obj := map[string]any{}
			if err := c.runSpec(r, obj); err != nil {
				return nil, err
			}
			now := timestamp(c.now())
			obj["name"] = n
			obj["uid"] = c.uuid()
			obj["generation"] = "1"
			obj["createTime"], obj["updateTime"] = now, now
			obj["creator"] = strings.SplitN(r.Principal, ":", 2)[1]
			obj["uri"] = fmt.Sprintf("https://%s-%s-%s.a.run.app", id, c.st.hexID(10, n), regionCode(r.Var("locationsId")))
			c.runStatus(obj, r)
			if err := c.create(n, "Service", obj); err != nil {
				return nil, err
			}
			return c.startOp(opName(r), meta, "", "", typ, obj), nil
		}}
	s.Methods["run.projects.locations.services.get"] = &Method{Permission: "run.services.get", Resource: name,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(name(r), "Service")
			return clone(obj), err
		}}
	s.Methods["run.projects.locations.services.patch"] = &Method{Permission: "run.services.update", Resource: name, ActAs: actAs,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(name(r), "Service")
			if err != nil {
				return nil, err
			}
			next := map[string]any{}
			for _, k := range []string{"name", "uid", "createTime", "creator", "uri"} {
				next[k] = obj[k]
			}
			if err := c.runSpec(r, next); err != nil {
				return nil, err
			}
			g, _ := strconv.Atoi(fmt.Sprint(obj["generation"]))
			next["generation"] = strconv.Itoa(g + 1)
			next["updateTime"] = timestamp(c.now())
			c.runStatus(next, r)
			c.st.Objects[name(r)] = next
			return c.startOp(opName(r), meta, "", "", typ, next), nil
		}}
	s.Methods["run.projects.locations.services.delete"] = &Method{Permission: "run.services.delete", Resource: name,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(name(r), "Service")
			if err != nil {
				return nil, err
			}
			if obj["deletionProtection"] == true {
				return nil, FailedPrecondition("Resource '%s' has deletion protection enabled. Please disable deletion protection before deleting.", r.Var("servicesId"))
			}
			c.st.deleteObject(name(r))
			return c.startOp(opName(r), meta, "", "", typ, obj), nil
		}}
	s.Methods["run.projects.locations.services.getIamPolicy"] = &Method{Permission: "run.services.getIamPolicy", Resource: name,
		Handle: func(r *Request) (any, error) {
			if _, err := c.get(name(r), "Service"); err != nil {
				return nil, err
			}
			return policyJSON(c.policy(name(r))), nil
		}}
	s.Methods["run.projects.locations.services.setIamPolicy"] = &Method{Permission: "run.services.setIamPolicy", Resource: name,
		Handle: func(r *Request) (any, error) {
			if _, err := c.get(name(r), "Service"); err != nil {
				return nil, err
			}
			return setPolicyHandler(c, name(r), r.Body["policy"])
		}}
	s.Methods["run.projects.locations.operations.get"] = &Method{Permission: "run.operations.get", Resource: parent, Handle: c.getOp}
}

// runSpec copies the request's spec into obj with the server's defaults,
// and checks what Cloud Run checks on the spec: the image was pushed (for
// images in the local registry) and the CPU rules.
func (c *Cloud) runSpec(r *Request, obj map[string]any) error {
	outputOnly := []string{"name", "uid", "generation", "createTime", "updateTime", "deleteTime", "expireTime", "creator",
		"lastModifier", "observedGeneration", "terminalCondition", "conditions", "latestReadyRevision",
		"latestCreatedRevision", "trafficStatuses", "uri", "urls", "reconciling", "etag", "satisfiesPzs"}
	merge(obj, clone(r.Body), outputOnly...)
	if _, ok := obj["launchStage"]; !ok {
		obj["launchStage"] = "GA"
	}
	if _, ok := obj["ingress"]; !ok {
		obj["ingress"] = "INGRESS_TRAFFIC_ALL"
	}
	if _, ok := obj["traffic"]; !ok {
		obj["traffic"] = []any{map[string]any{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}}
	}
	tmpl, _ := obj["template"].(map[string]any)
	if tmpl == nil {
		return InvalidArgument("service.template", "service.template is required.")
	}
	if _, ok := tmpl["timeout"]; !ok {
		tmpl["timeout"] = "300s"
	}
	if _, ok := tmpl["serviceAccount"]; !ok {
		tmpl["serviceAccount"] = r.Project.Number + "-compute@developer.gserviceaccount.com"
	}
	if _, ok := tmpl["maxInstanceRequestConcurrency"]; !ok {
		tmpl["maxInstanceRequestConcurrency"] = 80
	}
	containers, _ := tmpl["containers"].([]any)
	if len(containers) == 0 {
		return InvalidArgument("service.template.containers", "service.template.containers: at least one container is required.")
	}
	for i, ct := range containers {
		cm, _ := ct.(map[string]any)
		if cm == nil {
			continue
		}
		image, _ := cm["image"].(string)
		if err := c.registry.checkImage(image); err != nil {
			return InvalidArgument(fmt.Sprintf("service.template.containers[%d].image", i), "%v", err)
		}
		if _, ok := cm["ports"]; !ok {
			cm["ports"] = []any{map[string]any{"containerPort": 8080}}
		}
		for _, p := range cm["ports"].([]any) {
			if pm, ok := p.(map[string]any); ok {
				if _, ok := pm["name"]; !ok {
					pm["name"] = "http1"
				}
			}
		}
		res, _ := cm["resources"].(map[string]any)
		if res == nil {
			res = map[string]any{}
			cm["resources"] = res
		}
		limits, _ := res["limits"].(map[string]any)
		if limits == nil {
			res["limits"] = map[string]any{"cpu": "1000m", "memory": "512Mi"}
			limits = res["limits"].(map[string]any)
		}
		if _, ok := cm["startupProbe"]; !ok {
			cm["startupProbe"] = map[string]any{"timeoutSeconds": 240, "periodSeconds": 240, "failureThreshold": 1,
				"tcpSocket": map[string]any{"port": 8080}}
		}
		// "Total cpu < 1 is not supported with concurrency > 1"
		// (https://cloud.google.com/run/docs/configuring/services/cpu#cpu-memory).
		if cpu, _ := limits["cpu"].(string); millis(cpu) > 0 && millis(cpu) < 1000 {
			if n, _ := strconv.Atoi(fmt.Sprint(tmpl["maxInstanceRequestConcurrency"])); n > 1 {
				return InvalidArgument("service.template.max_instance_request_concurrency", "Total cpu < 1 is not supported with concurrency > 1.")
			}
			// "If you use less than 1 vCPU ... You must use the first
			// generation execution environment" (same page). Unset lets
			// Cloud Run choose, which it does by the features used.
			if tmpl["executionEnvironment"] == "EXECUTION_ENVIRONMENT_GEN2" {
				return InvalidArgument("service.template.execution_environment", "Total cpu < 1 is not supported with the second generation execution environment.")
			}
		}
	}
	return nil
}

// runStatus sets the fields the server reports once a revision is ready.
func (c *Cloud) runStatus(obj map[string]any, r *Request) {
	now := timestamp(c.now())
	id := r.Var("servicesId")
	if id == "" {
		id = r.Query.Get("serviceId")
	}
	g, _ := strconv.Atoi(fmt.Sprint(obj["generation"]))
	rev := fmt.Sprintf("%s/revisions/%s-%05d-%s", obj["name"], id, g, c.st.hexID(3, id))
	obj["observedGeneration"] = obj["generation"]
	obj["lastModifier"] = strings.SplitN(r.Principal, ":", 2)[1]
	obj["terminalCondition"] = map[string]any{"type": "Ready", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": now}
	obj["conditions"] = []any{
		map[string]any{"type": "RoutesReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": now},
		map[string]any{"type": "ConfigurationsReady", "state": "CONDITION_SUCCEEDED", "lastTransitionTime": now},
	}
	obj["latestReadyRevision"], obj["latestCreatedRevision"] = rev, rev
	obj["trafficStatuses"] = []any{map[string]any{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent": 100}}
	obj["etag"] = `"` + c.st.etag() + `"`
}

func millis(cpu string) int {
	if v, ok := strings.CutSuffix(cpu, "m"); ok {
		n, _ := strconv.Atoi(v)
		return n
	}
	f, err := strconv.ParseFloat(cpu, 64)
	if err != nil {
		return 0
	}
	return int(f * 1000)
}

// regionCode is the region's short code in run.app hosts ("uc" for
// us-central1 in the recorded uri; the others as Cloud Run shows them).
func regionCode(region string) string {
	codes := map[string]string{"us-central1": "uc", "europe-west1": "ew", "us-east1": "ue", "europe-west2": "nw",
		"asia-northeast1": "an", "australia-southeast1": "ts", "us-east4": "uk", "us-west2": "wl"}
	if c, ok := codes[region]; ok {
		return c
	}
	return "xx"
}
