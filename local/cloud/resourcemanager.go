package cloud

// Cloud Resource Manager v1: projects.get (projects.Service's Read needs
// lifecycleState ACTIVE and projectNumber: terraform-provider-google-beta
// v5.42.0 resource_google_project_service.go:190ff) and the project's IAM
// policy, which projects.IAMMember changes by read-modify-write
// (resourcemanager/iam_project.go:54, 76).
func (c *Cloud) resourceManager(s *Service) {
	res := func(r *Request) string {
		id := r.Var("projectId")
		if id == "" {
			id = r.Var("resource")
		}
		return c.projectResource(id)
	}
	s.Methods["cloudresourcemanager.projects.get"] = &Method{Permission: "resourcemanager.projects.get", Resource: res,
		Handle: func(r *Request) (any, error) {
			p := r.Project
			return map[string]any{
				"projectNumber": p.Number, "projectId": p.ID, "lifecycleState": "ACTIVE", "name": p.ID,
				"createTime": timestamp(p.Created),
			}, nil
		}}
	s.Methods["cloudresourcemanager.projects.getIamPolicy"] = &Method{Permission: "resourcemanager.projects.getIamPolicy", Resource: res,
		Handle: func(r *Request) (any, error) { return policyJSON(c.policy("projects/" + r.Project.ID)), nil }}
	s.Methods["cloudresourcemanager.projects.setIamPolicy"] = &Method{Permission: "resourcemanager.projects.setIamPolicy", Resource: res,
		Handle: func(r *Request) (any, error) {
			in, _ := r.Body["policy"].(map[string]any)
			if in == nil {
				return nil, InvalidArgument("policy", "policy is required.")
			}
			p, err := c.setPolicy("projects/"+r.Project.ID, in)
			if err != nil {
				return nil, err
			}
			return policyJSON(p), nil
		}}
}
