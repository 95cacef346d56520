package cloud

import (
	"regexp"
	"slices"
	"sort"
)

// roleIDRe: custom role ids take letters, digits, '_' and '.', 3 to 64
// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create).
var roleIDRe = regexp.MustCompile(`^[a-zA-Z0-9_.]{3,64}$`)

// IAM v1 project custom roles (projects.roles: create, get, patch, delete,
// undelete, list), as the provider's projects.IAMCustomRole calls them
// (terraform-provider-google-beta v5.42.0
// resourcemanager/resource_google_project_iam_custom_role.go: create reads
// roles.get first and, for a soft-deleted role, undeletes and patches it
// instead of creating; update reads, undeletes if deleted, then patches;
// delete is roles.delete). A custom role grants its includedPermissions
// where a policy binds it (iam.go roleGrants). Google's rules kept here:
//   - delete is soft: the role is returned with deleted true, its bindings
//     stay but grant nothing, and its id cannot be used by a create
//     (https://cloud.google.com/iam/docs/creating-custom-roles#deleting-custom-role);
//   - every permission must exist: an unknown one is 400 INVALID_ARGUMENT.
//     ASSUMPTION (see Deviations): the local catalogue is the permissions
//     of the predefined roles in roles.json.
func (c *Cloud) iamRoles(s *Service) {
	proj := func(r *Request) string { return c.projectResource(r.Var("projectsId")) }
	role := func(r *Request) string { return proj(r) + "/roles/" + r.Var("rolesId") }
	get := func(r *Request) (map[string]any, error) {
		obj, ok := c.st.Objects[role(r)]
		if !ok {
			return nil, NotFound("The role named %s was not found.", role(r))
		}
		return obj, nil
	}
	s.Methods["iam.projects.roles.create"] = &Method{Permission: "iam.roles.create", Resource: proj,
		Handle: func(r *Request) (any, error) {
			id := r.Str("roleId")
			if !roleIDRe.MatchString(id) {
				return nil, InvalidArgument("roleId", "The role id %q is invalid: 3-64 letters, digits, '_' and '.'.", id)
			}
			in, _ := r.Body["role"].(map[string]any)
			if err := c.checkPermissions(in); err != nil {
				return nil, err
			}
			name := proj(r) + "/roles/" + id
			if _, ok := c.st.Objects[name]; ok {
				return nil, AlreadyExists("A role named %s in projects/%s already exists.", id, r.Project.ID)
			}
			obj := roleObject(name, in, c.st.etag())
			c.st.Objects[name] = obj
			return clone(obj), nil
		}}
	s.Methods["iam.projects.roles.get"] = &Method{Permission: "iam.roles.get", Resource: role,
		Handle: func(r *Request) (any, error) {
			obj, err := get(r)
			return clone(obj), err
		}}
	s.Methods["iam.projects.roles.list"] = &Method{Permission: "iam.roles.list", Resource: proj,
		Handle: func(r *Request) (any, error) {
			var names []string
			for n, obj := range c.st.Objects {
				if len(n) > len(proj(r)+"/roles/") && n[:len(proj(r)+"/roles/")] == proj(r)+"/roles/" && (obj["deleted"] != true || r.Query.Get("showDeleted") == "true") {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			var out []any
			for _, n := range names {
				out = append(out, clone(c.st.Objects[n]))
			}
			return map[string]any{"roles": out}, nil
		}}
	s.Methods["iam.projects.roles.patch"] = &Method{Permission: "iam.roles.update", Resource: role,
		Handle: func(r *Request) (any, error) {
			obj, err := get(r)
			if err != nil {
				return nil, err
			}
			if obj["deleted"] == true {
				return nil, FailedPrecondition("You can't update a deleted role: undelete it first.")
			}
			if err := c.checkPermissions(r.Body); err != nil {
				return nil, err
			}
			applyMask(obj, r.Body, r.Query.Get("updateMask"), "name", "deleted", "etag")
			obj["etag"] = c.st.etag()
			return clone(obj), nil
		}}
	s.Methods["iam.projects.roles.delete"] = &Method{Permission: "iam.roles.delete", Resource: role,
		Handle: func(r *Request) (any, error) {
			obj, err := get(r)
			if err != nil {
				return nil, err
			}
			obj["deleted"] = true
			obj["etag"] = c.st.etag()
			return clone(obj), nil
		}}
	s.Methods["iam.projects.roles.undelete"] = &Method{Permission: "iam.roles.undelete", Resource: role,
		Handle: func(r *Request) (any, error) {
			obj, err := get(r)
			if err != nil {
				return nil, err
			}
			delete(obj, "deleted")
			obj["etag"] = c.st.etag()
			return clone(obj), nil
		}}
}

func roleObject(name string, in map[string]any, etag string) map[string]any {
	obj := map[string]any{"name": name, "etag": etag, "stage": "ALPHA"}
	for _, k := range []string{"title", "description", "stage", "includedPermissions"} {
		if v, ok := in[k]; ok {
			obj[k] = v
		}
	}
	return obj
}

// checkPermissions refuses permissions the local catalogue does not know.
func (c *Cloud) checkPermissions(role map[string]any) error {
	for _, p := range stringList(role["includedPermissions"]) {
		if !c.knownPermission(p) {
			return InvalidArgument("role.included_permissions", "Permission %s is not valid.", p)
		}
	}
	return nil
}

func (c *Cloud) knownPermission(p string) bool {
	for _, perms := range c.roles {
		if slices.Contains(perms, p) {
			return true
		}
	}
	return false
}
