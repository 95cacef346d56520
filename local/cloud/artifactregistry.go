package cloud

import (
	"fmt"
	"regexp"
)

// repositoryIDRe: Artifact Registry repository ids
// (https://cloud.google.com/artifact-registry/docs/repositories/create-repos:
// lowercase letters, digits and hyphens, starting with a letter, at most 63).
var repositoryIDRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Artifact Registry v1 repositories. Shapes from
// GoogleCloudPlatform/k8s-config-connector
// pkg/test/resourcefixture/testdata/basic/artifactregistry/v1beta1/artifactregistryrepository/artifactregistryrepository/_vcr_cassettes/tf.yaml:
// create (POST ...?repository_id=R) answers an operation
// "projects/P/locations/L/operations/UUID" with OperationMetadata and the
// Repository as response; GET adds createTime and updateTime;
// mode STANDARD_REPOSITORY.
func (c *Cloud) artifactRegistry(s *Service) {
	name := func(r *Request) string {
		return fmt.Sprintf("%s/locations/%s/repositories/%s", c.projectResource(r.Var("projectsId")), r.Var("locationsId"), r.Var("repositoriesId"))
	}
	parent := func(r *Request) string {
		return fmt.Sprintf("%s/locations/%s", c.projectResource(r.Var("projectsId")), r.Var("locationsId"))
	}
	opName := func(r *Request) string { return parent(r) + "/operations/" + c.uuid() }
	const meta = "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata"
	const typ = "type.googleapis.com/google.devtools.artifactregistry.v1.Repository"
	s.Methods["artifactregistry.projects.locations.repositories.create"] = &Method{Permission: "artifactregistry.repositories.create", Resource: parent,
		Handle: func(r *Request) (any, error) {
			id := queryParam(r, "repositoryId")
			if !repositoryIDRe.MatchString(id) {
				return nil, InvalidArgument("repository_id", "Invalid repository id %q.", id)
			}
			n := parent(r) + "/repositories/" + id
			now := timestamp(c.now())
			obj := clone(r.Body)
			obj["name"] = n
			if _, ok := obj["mode"]; !ok {
				obj["mode"] = "STANDARD_REPOSITORY"
			}
			obj["createTime"], obj["updateTime"] = now, now
			if err := c.create(n, "Repository", obj); err != nil {
				return nil, err
			}
			return c.startOp(opName(r), meta, "", "", typ, obj), nil
		}}
	s.Methods["artifactregistry.projects.locations.repositories.get"] = &Method{Permission: "artifactregistry.repositories.get", Resource: name,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(name(r), "Repository")
			return clone(obj), err
		}}
	s.Methods["artifactregistry.projects.locations.repositories.patch"] = &Method{Permission: "artifactregistry.repositories.update", Resource: name,
		Handle: func(r *Request) (any, error) {
			obj, err := c.get(name(r), "Repository")
			if err != nil {
				return nil, err
			}
			applyMask(obj, r.Body, queryParam(r, "updateMask"), "name", "createTime", "updateTime", "format")
			obj["updateTime"] = timestamp(c.now())
			return clone(obj), nil
		}}
	s.Methods["artifactregistry.projects.locations.repositories.delete"] = &Method{Permission: "artifactregistry.repositories.delete", Resource: name,
		Handle: func(r *Request) (any, error) {
			if _, err := c.get(name(r), "Repository"); err != nil {
				return nil, err
			}
			c.st.deleteObject(name(r))
			c.registry.deleteRepository(name(r))
			return c.startOp(opName(r), meta, "", "", "", nil), nil
		}}
	s.Methods["artifactregistry.projects.locations.operations.get"] = &Method{Permission: "artifactregistry.repositories.get",
		Resource: parent, Handle: c.getOp}
}

// queryParam reads a query parameter by its JSON name or its proto
// (snake_case) name: Google binds both, and the provider sends some in
// snake_case ("repository_id").
func queryParam(r *Request, name string) string {
	if v := r.Query.Get(name); v != "" {
		return v
	}
	return r.Query.Get(snake(name))
}

func snake(s string) string {
	var out []rune
	for _, ch := range s {
		if ch >= 'A' && ch <= 'Z' {
			out = append(out, '_', ch+('a'-'A'))
			continue
		}
		out = append(out, ch)
	}
	return string(out)
}

// uuid is a UUID-shaped id (operation names).
func (c *Cloud) uuid() string {
	h := c.st.hexID(32, "uuid")
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
