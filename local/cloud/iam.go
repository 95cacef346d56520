package cloud

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Policy is an IAM policy (google.iam.v1.Policy). It is stored with its
// resource and deleted with it.
type Policy struct {
	Version  int       `json:"version,omitempty"`
	Bindings []Binding `json:"bindings,omitempty"`
	Etag     string    `json:"etag,omitempty"`
}

// Binding grants a role to members, optionally under a condition.
type Binding struct {
	Role      string         `json:"role"`
	Members   []string       `json:"members"`
	Condition map[string]any `json:"condition,omitempty"`
}

//go:embed roles.json
var rolesJSON []byte

// Roles maps a role to the permissions it holds (roles.json, with its source).
type Roles map[string][]string

// LoadRoles reads roles.json.
func LoadRoles() (Roles, error) {
	var f struct {
		Roles Roles `json:"roles"`
	}
	if err := json.Unmarshal(rolesJSON, &f); err != nil {
		return nil, fmt.Errorf("roles.json: %w", err)
	}
	return f.Roles, nil
}

// grants says whether the role holds the permission.
func (r Roles) grants(role, permission string) bool {
	perms := r[role]
	return slices.Contains(perms, "*") || slices.Contains(perms, permission)
}

// roleGrants says whether role holds permission: a predefined role by
// roles.json, a custom role (projects/P/roles/ID) by its
// includedPermissions, unless it is deleted ("the role's bindings remain
// but are inactive": https://cloud.google.com/iam/docs/creating-custom-roles#deleting-custom-role)
// or disabled.
func (c *Cloud) roleGrants(role, permission string) bool {
	if !strings.HasPrefix(role, "projects/") {
		return c.roles.grants(role, permission)
	}
	obj, ok := c.st.Objects[role]
	if !ok || obj["deleted"] == true || obj["stage"] == "DISABLED" {
		return false
	}
	return slices.Contains(stringList(obj["includedPermissions"]), permission)
}

// policy returns the resource's policy, an empty one with an etag when it
// has none yet.
func (c *Cloud) policy(resource string) *Policy {
	p, ok := c.st.Policies[resource]
	if !ok {
		p = &Policy{Version: 1, Etag: "ACAB"}
	}
	return p
}

// allowed says whether the caller holds permission through the IAM policy
// of any of the resources (a resource's own, its project's, ...). A caller
// is its principal and, for a federated token, the principal sets it
// belongs to (sts.go). Conditional bindings grant nothing here (the local
// cloud does not evaluate IAM Conditions; see Deviations).
func (c *Cloud) allowed(who caller, permission string, resources ...string) bool {
	for _, res := range resources {
		p, ok := c.st.Policies[res]
		if !ok {
			continue
		}
		for _, b := range p.Bindings {
			if b.Condition != nil || !slices.ContainsFunc(b.Members, who.is) {
				continue
			}
			if c.roleGrants(b.Role, permission) {
				return true
			}
		}
	}
	return false
}

// caller is who a token names: its principal, then the principal sets a
// federated identity belongs to.
type caller []string

func (w caller) principal() string {
	if len(w) == 0 {
		return ""
	}
	return w[0]
}

// is says whether member names the caller.
func (w caller) is(member string) bool { return slices.Contains(w, member) }

// callerOf resolves an access token (under c.mu).
func (c *Cloud) callerOf(token string) (caller, bool) {
	principal, ok := c.st.Tokens[token]
	if !ok {
		return nil, false
	}
	return append(caller{principal}, c.st.Federated[token]...), true
}

// setPolicy replaces a resource's policy as setIamPolicy does: an etag
// that is not the current one is refused with 409 ABORTED (Google's answer
// to concurrent policy changes); bindings round-trip as sent, with empty
// ones dropped and members sorted, and the etag changes.
func (c *Cloud) setPolicy(resource string, in map[string]any) (*Policy, error) {
	b, _ := json.Marshal(in)
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, InvalidArgument("policy", "Invalid policy: %v", err)
	}
	cur := c.policy(resource)
	if p.Etag != "" && p.Etag != cur.Etag {
		return nil, Aborted("There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '%s' did not match the current policy's ETag '%s'.", p.Etag, cur.Etag)
	}
	var bindings []Binding
	for _, bd := range p.Bindings {
		if bd.Role == "" {
			return nil, InvalidArgument("policy.bindings.role", "Role must be set in a binding.")
		}
		if strings.HasPrefix(bd.Role, "projects/") {
			if _, ok := c.st.Objects[bd.Role]; !ok {
				return nil, InvalidArgument("policy.bindings.role", "Role (%s) does not exist in the resource's hierarchy.", bd.Role)
			}
		}
		for _, m := range bd.Members {
			if err := checkMember(m); err != nil {
				return nil, err
			}
		}
		if len(bd.Members) == 0 {
			continue
		}
		bd.Members = slices.Clone(bd.Members)
		sort.Strings(bd.Members)
		bd.Members = slices.Compact(bd.Members)
		bindings = append(bindings, bd)
	}
	hasCondition := slices.ContainsFunc(bindings, func(b Binding) bool { return b.Condition != nil })
	if hasCondition && p.Version < 3 {
		return nil, InvalidArgument("policy.version", "Policies with conditions must set version 3 (https://cloud.google.com/iam/docs/policies#versions).")
	}
	version := p.Version
	if version == 0 {
		version = 1
	}
	np := &Policy{Version: version, Bindings: bindings, Etag: c.st.etag()}
	c.st.Policies[resource] = np
	return np, nil
}

// checkMember accepts the member forms IAM documents
// (https://cloud.google.com/iam/docs/principal-identifiers).
func checkMember(m string) error {
	for _, prefix := range []string{"user:", "serviceAccount:", "group:", "domain:", "principal://", "principalSet://", "deleted:"} {
		if strings.HasPrefix(m, prefix) && len(m) > len(prefix) {
			return nil
		}
	}
	if m == "allUsers" || m == "allAuthenticatedUsers" || strings.HasPrefix(m, "projectOwner:") ||
		strings.HasPrefix(m, "projectEditor:") || strings.HasPrefix(m, "projectViewer:") {
		return nil
	}
	return InvalidArgument("policy.bindings.members", "Invalid principal: %s", m)
}

// policyJSON is the policy as getIamPolicy returns it.
func policyJSON(p *Policy) map[string]any {
	b, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}
