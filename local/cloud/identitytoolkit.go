package cloud

// Identity Toolkit v2 (Identity Platform) project config
// (terraform-provider-google-beta v5.42.0
// identityplatform/resource_identity_platform_config.go:494-764):
// initializeAuth, then PATCH ?updateMask=..., then GET. initializeAuth
// works once per project: a second call is refused, which is what a user
// meets after `pulumi destroy` and `up` again
// (hashicorp/terraform-provider-google#16520, #17322). Identity Platform
// has no delete: the config stays.
func (c *Cloud) identityToolkit(s *Service) {
	proj := func(r *Request) string { return c.projectResource(r.Var("projectsId")) }
	key := func(r *Request) string { return "projects/" + r.Project.ID + "/config" }
	s.Methods["identitytoolkit.projects.identityPlatform.initializeAuth"] = &Method{Permission: "firebaseauth.configs.create", Resource: proj,
		Handle: func(r *Request) (any, error) {
			p := r.Project
			if _, ok := c.st.Objects[key(r)]; ok {
				// ASSUMPTION on the exact wording and status (the issues
				// quote "Identity Platform has already been enabled for
				// this project"); see Deviations.
				return nil, InvalidArgument("", "INVALID_PROJECT_ID : Identity Platform has already been enabled for this project.")
			}
			c.st.Objects[key(r)] = map[string]any{
				"name": "projects/" + p.ID + "/config",
				"signIn": map[string]any{
					"email":                map[string]any{"enabled": false},
					"allowDuplicateEmails": false,
					"hashConfig": map[string]any{"algorithm": "SCRYPT", "signerKey": "local-" + c.st.hexID(40, p.ID),
						"saltSeparator": "Bw==", "rounds": 8, "memoryCost": 14},
				},
				"authorizedDomains": []any{"localhost", p.ID + ".firebaseapp.com", p.ID + ".web.app"},
				"client":            map[string]any{"permissions": map[string]any{}, "firebaseSubdomain": p.ID},
				"mfa":               map[string]any{"state": "DISABLED"},
				"monitoring":        map[string]any{"requestLogging": map[string]any{}},
				"multiTenant":       map[string]any{},
				"quota":             map[string]any{},
				"subtype":           "IDENTITY_PLATFORM",
			}
			return map[string]any{}, nil
		}}
	s.Methods["identitytoolkit.projects.getConfig"] = &Method{Permission: "firebaseauth.configs.get", Resource: proj,
		Handle: func(r *Request) (any, error) {
			obj, ok := c.st.Objects[key(r)]
			if !ok {
				return nil, NotFound("CONFIGURATION_NOT_FOUND")
			}
			return clone(obj), nil
		}}
	s.Methods["identitytoolkit.projects.updateConfig"] = &Method{Permission: "firebaseauth.configs.update", Resource: proj,
		Handle: func(r *Request) (any, error) {
			obj, ok := c.st.Objects[key(r)]
			if !ok {
				return nil, NotFound("CONFIGURATION_NOT_FOUND")
			}
			hash := map[string]any{}
			if si, ok := obj["signIn"].(map[string]any); ok {
				if h, ok := si["hashConfig"].(map[string]any); ok {
					hash = h
				}
			}
			applyMask(obj, r.Body, r.Query.Get("updateMask"), "name", "subtype")
			if si, ok := obj["signIn"].(map[string]any); ok {
				si["hashConfig"] = hash // output only
			}
			return clone(obj), nil
		}}
}
