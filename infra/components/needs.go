package components

import "slices"

// Grant is a role with the reason it is needed, for the README and the
// closing note to quote.
type Grant struct{ Role, Reason string }

// Needs are what a component's resources need in the project, declared in
// the component's own file next to those resources: the Google APIs they
// wait on, and the project roles the identity that deploys them (the CI
// deployer) and the one that previews them (the CI previewer) must hold.
//
// The main program enables the union of the needs of what it builds
// (StackNeeds), each component waits on its own APIs through
// ProjectServices.Require (an API left out of the union is an error, not a
// silently dropped wait), the bootstrap grants the union's roles, and the
// README's role list is generated from it.
type Needs struct {
	APIs         []string // such as run.googleapis.com
	DeployRoles  []Grant
	PreviewRoles []Grant
}

// Plus is the union of n and more, each list in first-seen order.
func (n Needs) Plus(more ...Needs) Needs {
	out := Needs{APIs: slices.Clone(n.APIs), DeployRoles: slices.Clone(n.DeployRoles), PreviewRoles: slices.Clone(n.PreviewRoles)}
	for _, m := range more {
		for _, a := range m.APIs {
			if !slices.Contains(out.APIs, a) {
				out.APIs = append(out.APIs, a)
			}
		}
		out.DeployRoles = addGrants(out.DeployRoles, m.DeployRoles)
		out.PreviewRoles = addGrants(out.PreviewRoles, m.PreviewRoles)
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
