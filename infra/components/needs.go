package components

import "slices"

// Grant is a role with the reason it is needed, for the README and the
// closing note to quote.
type Grant struct{ Role, Reason string }

// Permission is one permission of a CI account's custom role, with the
// call that needs it.
type Permission struct{ Name, Reason string }

// Needs are what a component's resources need in the project, declared in
// the component's own file next to those resources: the Google APIs they
// wait on, the predefined project roles the identity that deploys them (the
// CI deployer) must hold, and the single permissions that the CI bootstrap
// puts in the deployer's and the previewer's custom roles instead of a
// predefined role far wider than the call (roles/firebase.admin holds
// firebase.projects.delete and billing; roles/firebase.viewer reads every
// Storage object, Auth user and Firestore document).
//
// The main program enables the union of the needs of what it builds
// (StackNeeds), each component waits on its own APIs through
// ProjectServices.Require (an API left out of the union is an error, not a
// silently dropped wait), the bootstrap grants the union's roles, and the
// README's role list is generated from it.
type Needs struct {
	APIs              []string // such as run.googleapis.com
	DeployRoles       []Grant
	DeployPermissions []Permission // the deployer's custom role
	// PreviewPermissions are the previewer's custom role: read-only
	// permissions only (an invariant checks it), what `pulumi preview`
	// calls.
	PreviewPermissions []Permission
}

// Plus is the union of n and more, each list in first-seen order.
func (n Needs) Plus(more ...Needs) Needs {
	out := Needs{APIs: slices.Clone(n.APIs), DeployRoles: slices.Clone(n.DeployRoles),
		DeployPermissions: slices.Clone(n.DeployPermissions), PreviewPermissions: slices.Clone(n.PreviewPermissions)}
	for _, m := range more {
		for _, a := range m.APIs {
			if !slices.Contains(out.APIs, a) {
				out.APIs = append(out.APIs, a)
			}
		}
		out.DeployRoles = addGrants(out.DeployRoles, m.DeployRoles)
		out.DeployPermissions = addPermissions(out.DeployPermissions, m.DeployPermissions)
		out.PreviewPermissions = addPermissions(out.PreviewPermissions, m.PreviewPermissions)
	}
	return out
}

func addGrants(to, more []Grant) []Grant {
	for _, g := range more {
		if !slices.ContainsFunc(to, func(h Grant) bool { return h.Role == g.Role }) {
			to = append(to, g)
		}
	}
	return to
}

func addPermissions(to, more []Permission) []Permission {
	for _, p := range more {
		if !slices.ContainsFunc(to, func(q Permission) bool { return q.Name == p.Name }) {
			to = append(to, p)
		}
	}
	return to
}

// Names are the names of permissions.
func Names(perms []Permission) []string {
	out := make([]string, len(perms))
	for i, p := range perms {
		out[i] = p.Name
	}
	return out
}

// Roles are the roles of grants.
func Roles(grants []Grant) []string {
	out := make([]string, len(grants))
	for i, g := range grants {
		out[i] = g.Role
	}
	return out
}

// StackOptions are the main stack's settings that change what it builds.
type StackOptions struct {
	ManageFirebase          bool // FirebaseAuth creates Firebase resources
	ExistingServiceAccounts bool // ServiceAccounts creates no account
}

// StackNeeds is the union of the needs of every component the main
// program (infra/main.go) builds with these options. The bootstrap grants
// the deployer StackNeeds with existing service accounts (it creates them).
//
// None of the project roles can be narrowed to the stack's resources with
// an IAM Condition: resource attributes work only for the services listed
// on https://cloud.google.com/iam/docs/conditions-resource-attributes,
// which include neither Cloud Run, Artifact Registry, API Gateway nor
// Service Usage. actAs is not among them: the bootstrap grants it on the
// stack's own accounts only.
func StackNeeds(o StackOptions) Needs {
	n := providerNeeds.Plus(servicesNeeds, accountsNeeds(o.ExistingServiceAccounts), repositoryNeeds, backendNeeds, gatewayNeeds)
	return n.Plus(firebaseAuthNeeds(o.ManageFirebase))
}
