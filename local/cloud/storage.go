package cloud

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// bucketRe: bucket names (https://cloud.google.com/storage/docs/buckets#naming).
var bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)

// Cloud Storage JSON API v1 buckets, their IAM policies, and object
// listing (the state bucket of infra/bootstrap; terraform-provider-google-beta
// v5.42.0 storage/resource_storage_bucket.go, iam_storage_bucket.go:106-175;
// shapes: GoogleCloudPlatform/k8s-config-connector mockgcp/mockstorage and
// the discovery document's Bucket). Bucket names are global; a bucket
// policy with a condition must be version 3.
func (c *Cloud) storage(s *Service) {
	res := func(r *Request) string { return "projects/_/buckets/" + r.Var("bucket") }
	s.Methods["storage.buckets.insert"] = &Method{Permission: "storage.buckets.create",
		Resource: func(r *Request) string { return c.projectResource(r.Query.Get("project")) },
		Handle: func(r *Request) (any, error) {
			name := r.Str("name")
			if !bucketRe.MatchString(name) || strings.Contains(name, "goog") {
				return nil, InvalidArgument("name", "Invalid bucket name: '%s'", name)
			}
			n := "projects/_/buckets/" + name
			if _, ok := c.st.Objects[n]; ok {
				return nil, &Error{Code: 409, Status: "ALREADY_EXISTS", Reason: "conflict",
					Message: "Your previous request to create the named bucket succeeded and you already own it."}
			}
			now := timestamp(c.now())
			obj := clone(r.Body)
			loc, _ := obj["location"].(string)
			if loc == "" {
				loc = "US"
			}
			locType := "region"
			if !strings.Contains(loc, "-") {
				locType = "multi-region"
			}
			iamc, _ := obj["iamConfiguration"].(map[string]any)
			if iamc == nil {
				iamc = map[string]any{}
				obj["iamConfiguration"] = iamc
			}
			ubla, _ := iamc["uniformBucketLevelAccess"].(map[string]any)
			if ubla == nil {
				ubla = map[string]any{"enabled": false}
				iamc["uniformBucketLevelAccess"] = ubla
			}
			iamc["bucketPolicyOnly"] = ubla
			if _, ok := iamc["publicAccessPrevention"]; !ok {
				iamc["publicAccessPrevention"] = "inherited"
			}
			merge(obj, map[string]any{
				"kind": "storage#bucket", "id": name, "name": name, "selfLink": "https://www.googleapis.com/storage/v1/b/" + name,
				"projectNumber": r.Project.Number, "metageneration": "1", "location": strings.ToUpper(loc), "locationType": locType,
				"timeCreated": now, "updated": now, "etag": "CAE=", "rpo": "DEFAULT",
				"softDeletePolicy": map[string]any{"retentionDurationSeconds": "604800", "effectiveTime": now},
			})
			if _, ok := obj["storageClass"]; !ok {
				obj["storageClass"] = "STANDARD"
			}
			if err := c.create(n, "Bucket", obj); err != nil {
				return nil, err
			}
			p := r.Project
			c.st.Policies[n] = &Policy{Version: 1, Etag: "CAE=", Bindings: []Binding{
				{Role: "roles/storage.legacyBucketOwner", Members: []string{"projectEditor:" + p.ID, "projectOwner:" + p.ID}},
				{Role: "roles/storage.legacyBucketReader", Members: []string{"projectViewer:" + p.ID}},
			}}
			return clone(obj), nil
		}}
	s.Methods["storage.buckets.get"] = &Method{Permission: "storage.buckets.get", Resource: res,
		Handle: func(r *Request) (any, error) {
			obj, ok := c.st.Objects[res(r)]
			if !ok {
				return nil, NotFound("The specified bucket does not exist.")
			}
			return clone(obj), nil
		}}
	s.Methods["storage.buckets.patch"] = &Method{Permission: "storage.buckets.update", Resource: res,
		Handle: func(r *Request) (any, error) {
			obj, ok := c.st.Objects[res(r)]
			if !ok {
				return nil, NotFound("The specified bucket does not exist.")
			}
			merge(obj, r.Body, "kind", "id", "name", "selfLink", "projectNumber", "metageneration", "timeCreated", "updated", "etag")
			mg, _ := strconv.Atoi(fmt.Sprint(obj["metageneration"]))
			obj["metageneration"] = strconv.Itoa(mg + 1)
			obj["updated"] = timestamp(c.now())
			return clone(obj), nil
		}}
	s.Methods["storage.buckets.delete"] = &Method{Permission: "storage.buckets.delete", Resource: res,
		Handle: func(r *Request) (any, error) {
			if _, ok := c.st.Objects[res(r)]; !ok {
				return nil, NotFound("The specified bucket does not exist.")
			}
			c.st.deleteObject(res(r))
			return map[string]any{}, nil
		}}
	s.Methods["storage.buckets.getIamPolicy"] = &Method{Permission: "storage.buckets.getIamPolicy", Resource: res,
		Handle: func(r *Request) (any, error) {
			if _, ok := c.st.Objects[res(r)]; !ok {
				return nil, NotFound("The specified bucket does not exist.")
			}
			out := policyJSON(c.policy(res(r)))
			out["kind"], out["resourceId"] = "storage#policy", res(r)
			return out, nil
		}}
	s.Methods["storage.buckets.setIamPolicy"] = &Method{Permission: "storage.buckets.setIamPolicy", Resource: res,
		Handle: func(r *Request) (any, error) {
			if _, ok := c.st.Objects[res(r)]; !ok {
				return nil, NotFound("The specified bucket does not exist.")
			}
			body := clone(r.Body)
			delete(body, "kind")
			delete(body, "resourceId")
			p, err := c.setPolicy(res(r), body)
			if err != nil {
				return nil, err
			}
			out := policyJSON(p)
			out["kind"], out["resourceId"] = "storage#policy", res(r)
			return out, nil
		}}
	s.Methods["storage.objects.list"] = &Method{Permission: "storage.objects.list", Resource: res,
		Handle: func(r *Request) (any, error) {
			if _, ok := c.st.Objects[res(r)]; !ok {
				return nil, NotFound("The specified bucket does not exist.")
			}
			return map[string]any{"kind": "storage#objects"}, nil
		}}
}

// bucketProject is the project a bucket belongs to.
func (c *Cloud) bucketProject(resource string) *Project {
	obj, ok := c.st.Objects[resource]
	if !ok {
		return nil
	}
	return c.st.project(fmt.Sprint(obj["projectNumber"]))
}
