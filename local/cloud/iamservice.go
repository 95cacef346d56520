package cloud

import (
	"fmt"
	"strings"
	"time"
)

// IAM v1: service accounts with their IAM policies (the provider's
// client-library calls: resource_google_service_account.go:124-303,
// iam_service_account.go:55, 80; shapes:
// GoogleCloudPlatform/k8s-config-connector mockgcp/mockiam/testdata/serviceaccount/crud/_http.log),
// and Workload Identity pools and providers (MMv1, IAMBeta product;
// resource_iam_workload_identity_pool*.go), whose names carry the project
// NUMBER and whose delete is soft: the pool keeps its id (state DELETED)
// for 30 days.
func (c *Cloud) iam(s *Service) {
	acctRes := func(r *Request) string {
		name, acct := c.findAccount(r.Var("serviceAccountsId"))
		if acct == nil {
			return c.projectResource(r.Var("projectsId")) + "/serviceAccounts/" + r.Var("serviceAccountsId")
		}
		return name
	}
	s.Methods["iam.projects.serviceAccounts.create"] = &Method{Permission: "iam.serviceAccounts.create",
		Resource: func(r *Request) string { return c.projectResource(r.Var("projectsId")) }, Handle: c.createAccount}
	s.Methods["iam.projects.serviceAccounts.get"] = &Method{Permission: "iam.serviceAccounts.get", Resource: acctRes,
		Handle: func(r *Request) (any, error) { return c.account(r.Var("serviceAccountsId")) }}
	s.Methods["iam.projects.serviceAccounts.patch"] = &Method{Permission: "iam.serviceAccounts.update", Resource: acctRes,
		Handle: func(r *Request) (any, error) {
			obj, err := c.account(r.Var("serviceAccountsId"))
			if err != nil {
				return nil, err
			}
			name, stored := c.findAccount(r.Var("serviceAccountsId"))
			in, _ := r.Body["serviceAccount"].(map[string]any)
			applyMask(stored, in, r.Str("updateMask"), "name", "email", "uniqueId", "projectId", "oauth2ClientId", "etag")
			stored["etag"] = c.st.etag()
			_ = obj
			return clone(c.st.Objects[name]), nil
		}}
	s.Methods["iam.projects.serviceAccounts.delete"] = &Method{Permission: "iam.serviceAccounts.delete", Resource: acctRes,
		Handle: func(r *Request) (any, error) {
			name, acct := c.findAccount(r.Var("serviceAccountsId"))
			if acct == nil {
				return nil, NotFound("Service account %s does not exist.", r.Var("serviceAccountsId"))
			}
			c.st.deleteObject(name)
			return map[string]any{}, nil
		}}
	s.Methods["iam.projects.serviceAccounts.getIamPolicy"] = &Method{Permission: "iam.serviceAccounts.getIamPolicy", Resource: acctRes,
		Handle: func(r *Request) (any, error) {
			name, acct := c.findAccount(r.Var("serviceAccountsId"))
			if acct == nil {
				return nil, NotFound("Service account %s does not exist.", r.Var("serviceAccountsId"))
			}
			return policyJSON(c.policy(name)), nil
		}}
	s.Methods["iam.projects.serviceAccounts.setIamPolicy"] = &Method{Permission: "iam.serviceAccounts.setIamPolicy", Resource: acctRes,
		Handle: func(r *Request) (any, error) {
			name, acct := c.findAccount(r.Var("serviceAccountsId"))
			if acct == nil {
				return nil, NotFound("Service account %s does not exist.", r.Var("serviceAccountsId"))
			}
			return setPolicyHandler(c, name, r.Body["policy"])
		}}

	// Workload Identity pools and providers.
	poolName := func(r *Request) string {
		p := c.st.project(r.Var("projectsId"))
		num := r.Var("projectsId")
		if p != nil {
			num = p.Number
		}
		return fmt.Sprintf("projects/%s/locations/%s/workloadIdentityPools/%s", num, r.Var("locationsId"), r.Var("workloadIdentityPoolsId"))
	}
	providerName := func(r *Request) string { return poolName(r) + "/providers/" + r.Var("providersId") }
	parent := func(r *Request) string {
		p := c.st.project(r.Var("projectsId"))
		num := r.Var("projectsId")
		if p != nil {
			num = p.Number
		}
		return fmt.Sprintf("projects/%s/locations/%s", num, r.Var("locationsId"))
	}
	poolParent := func(r *Request) string { return poolName(r) }
	s.Methods["iam.projects.locations.workloadIdentityPools.create"] = &Method{Permission: "iam.workloadIdentityPools.create", Resource: parent,
		Handle: func(r *Request) (any, error) {
			id := r.Query.Get("workloadIdentityPoolId")
			return c.createWIF(r, parent(r)+"/workloadIdentityPools/"+id, id, "Workload identity pool")
		}}
	s.Methods["iam.projects.locations.workloadIdentityPools.get"] = &Method{Permission: "iam.workloadIdentityPools.get", Resource: poolName,
		Handle: func(r *Request) (any, error) { return c.getWIF(poolName(r), "Workload identity pool") }}
	s.Methods["iam.projects.locations.workloadIdentityPools.patch"] = &Method{Permission: "iam.workloadIdentityPools.update", Resource: poolName,
		Handle: func(r *Request) (any, error) { return c.patchWIF(r, poolName(r), "Workload identity pool") }}
	s.Methods["iam.projects.locations.workloadIdentityPools.delete"] = &Method{Permission: "iam.workloadIdentityPools.delete", Resource: poolName,
		Handle: func(r *Request) (any, error) { return c.deleteWIF(poolName(r), "Workload identity pool") }}
	s.Methods["iam.projects.locations.workloadIdentityPools.operations.get"] = &Method{Permission: "iam.workloadIdentityPools.get",
		Resource: poolName, Handle: c.getOp}
	s.Methods["iam.projects.locations.workloadIdentityPools.providers.create"] = &Method{Permission: "iam.workloadIdentityPoolProviders.create", Resource: poolParent,
		Handle: func(r *Request) (any, error) {
			if _, err := c.getWIF(poolName(r), "Workload identity pool"); err != nil {
				return nil, err
			}
			if err := checkProviderExpressions(r.Body); err != nil {
				return nil, err
			}
			id := r.Query.Get("workloadIdentityPoolProviderId")
			return c.createWIF(r, poolName(r)+"/providers/"+id, id, "Workload identity pool provider")
		}}
	s.Methods["iam.projects.locations.workloadIdentityPools.providers.get"] = &Method{Permission: "iam.workloadIdentityPoolProviders.get", Resource: providerName,
		Handle: func(r *Request) (any, error) { return c.getWIF(providerName(r), "Workload identity pool provider") }}
	s.Methods["iam.projects.locations.workloadIdentityPools.providers.patch"] = &Method{Permission: "iam.workloadIdentityPoolProviders.update", Resource: providerName,
		Handle: func(r *Request) (any, error) {
			if err := checkProviderExpressions(r.Body); err != nil {
				return nil, err
			}
			return c.patchWIF(r, providerName(r), "Workload identity pool provider")
		}}
	s.Methods["iam.projects.locations.workloadIdentityPools.providers.delete"] = &Method{Permission: "iam.workloadIdentityPoolProviders.delete", Resource: providerName,
		Handle: func(r *Request) (any, error) { return c.deleteWIF(providerName(r), "Workload identity pool provider") }}
	s.Methods["iam.projects.locations.workloadIdentityPools.providers.operations.get"] = &Method{Permission: "iam.workloadIdentityPoolProviders.get",
		Resource: providerName, Handle: c.getOp}
	c.iamRoles(s)
}

func setPolicyHandler(c *Cloud, resource string, body any) (any, error) {
	in, _ := body.(map[string]any)
	if in == nil {
		return nil, InvalidArgument("policy", "policy is required.")
	}
	p, err := c.setPolicy(resource, in)
	if err != nil {
		return nil, err
	}
	return policyJSON(p), nil
}

// findAccount finds a service account by email, unique id or id, in any
// project ("-" as the project is allowed, as Google allows it).
func (c *Cloud) findAccount(key string) (string, map[string]any) {
	for name, obj := range c.st.Objects {
		if !strings.Contains(name, "/serviceAccounts/") {
			continue
		}
		if obj["email"] == key || obj["uniqueId"] == key {
			return name, obj
		}
	}
	return "", nil
}

func (c *Cloud) account(key string) (map[string]any, error) {
	_, obj := c.findAccount(key)
	if obj == nil {
		return nil, NotFound("Unknown service account")
	}
	return clone(obj), nil
}

func (c *Cloud) createAccount(r *Request) (any, error) {
	id := r.Str("accountId")
	if !accountIDRe.MatchString(id) {
		return nil, InvalidArgument("accountId", "Invalid account ID %q: it must be 6-30 characters, lowercase letters, digits and hyphens, starting with a letter (https://cloud.google.com/iam/docs/service-accounts-create).", id)
	}
	p := r.Project
	email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", id, p.ID)
	name := "projects/" + p.ID + "/serviceAccounts/" + email
	in, _ := r.Body["serviceAccount"].(map[string]any)
	unique := fmt.Sprintf("1%020d", c.st.next()*7919)
	obj := map[string]any{
		"name": name, "projectId": p.ID, "uniqueId": unique, "email": email, "oauth2ClientId": unique,
		"etag": c.st.etag(),
	}
	for _, k := range []string{"displayName", "description"} {
		if v, ok := in[k]; ok {
			obj[k] = v
		}
	}
	if _, existing := c.findAccount(email); existing != nil {
		return nil, AlreadyExists("Service account %s already exists within project projects/%s.", id, p.ID)
	}
	if err := c.create(name, "Service account", obj); err != nil {
		return nil, err
	}
	return clone(obj), nil
}

func (c *Cloud) createWIF(r *Request, name, id, kind string) (any, error) {
	if !poolIDRe.MatchString(id) || strings.HasPrefix(id, "gcp-") {
		return nil, InvalidArgument("workloadIdentityPoolId", "%s id %q is invalid: 4-32 lowercase letters, digits and hyphens, not starting with gcp-.", kind, id)
	}
	obj := clone(r.Body)
	obj["name"] = name
	obj["state"] = "ACTIVE"
	if _, ok := obj["disabled"]; !ok {
		obj["disabled"] = false
	}
	if err := c.create(name, kind, obj); err != nil {
		return nil, err
	}
	return c.startOp(name+"/operations/"+c.st.hexID(32, name), "type.googleapis.com/google.protobuf.Empty", "", "", "", nil), nil
}

func (c *Cloud) getWIF(name, kind string) (any, error) {
	if obj, ok := c.st.Objects[name]; ok {
		return clone(obj), nil
	}
	// A soft-deleted pool is still read, with state DELETED (the provider
	// treats that as gone: resource_iam_workload_identity_pool.go:504).
	if t, ok := c.st.Tombstones[name]; ok && c.now().Before(t.Until) {
		obj := clone(t.Object)
		obj["state"] = "DELETED"
		obj["expireTime"] = timestamp(t.Until)
		return obj, nil
	}
	return nil, NotFound("%s %q not found.", kind, name)
}

func (c *Cloud) patchWIF(r *Request, name, kind string) (any, error) {
	obj, err := c.get(name, kind)
	if err != nil {
		return nil, err
	}
	applyMask(obj, r.Body, r.Query.Get("updateMask"), "name", "state")
	return c.startOp(name+"/operations/"+c.st.hexID(32, name), "type.googleapis.com/google.protobuf.Empty", "", "", "", nil), nil
}

func (c *Cloud) deleteWIF(name, kind string) (any, error) {
	obj, err := c.get(name, kind)
	if err != nil {
		return nil, err
	}
	c.st.Tombstones[name] = Tombstone{Until: c.now().Add(time.Duration(softDeleteTTL)), Object: clone(obj)}
	c.st.deleteObject(name)
	return c.startOp(name+"/operations/"+c.st.hexID(32, name), "type.googleapis.com/google.protobuf.Empty", "", "", "", nil), nil
}
