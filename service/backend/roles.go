package backend

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v4"
)

// Roles: who may call a route, from the verified token's roles claim.
//
// API Gateway cannot decide this: ESPv2 checks a token's issuer, audience,
// signature and times, never its other claims. So a route states the roles
// it needs (Route.Roles), and the kit refuses (403) a caller holding none
// of them, after the invoker check and the identity's decoding, from the
// identity the gateway forwarded (X-Apigateway-Api-Userinfo). The roles
// are the token's own claim, whoever issued it:
//
//   - Firebase users get theirs as a custom claim, which only an operator
//     can set (the Identity Toolkit admin API: `gatehouse claims set`); it
//     reaches their ID token when it is next refreshed.
//   - Machine clients (gatehouse:serviceAccountIssuers) sign their own
//     tokens, so their roles are whatever their signer wrote: whoever can
//     sign as such an account holds every role. List only accounts you would
//     give the roles they claim.

// RoleNameRule describes the role names a route may require (RoleName).
const RoleNameRule = "1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

var roleNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// RoleName reports whether name is a role a route may require.
func RoleName(name string) bool { return roleNameRe.MatchString(name) }

// checkRoles refuses a route whose roles could never be checked: roles
// without Identity, or a name no claim set with the CLI could match.
func checkRoles(r Route) error {
	if len(r.Roles) == 0 {
		return nil
	}
	if !r.Identity {
		return fmt.Errorf("%s %s requires roles %q but does not read the caller's identity: set Identity too", r.Method, r.Path, r.Roles)
	}
	seen := map[string]bool{}
	for _, role := range r.Roles {
		if !RoleName(role) {
			return fmt.Errorf("%s %s: role %q is not a role name (%s)", r.Method, r.Path, role, RoleNameRule)
		}
		if seen[role] {
			return fmt.Errorf("%s %s: role %q is listed twice", r.Method, r.Path, role)
		}
		seen[role] = true
	}
	return nil
}

// MissingRoleMessage is the 403's message for a route needing roles.
func MissingRoleMessage(roles []string) string {
	need := "the role " + roles[0]
	if len(roles) > 1 {
		need = "one of the roles " + strings.Join(roles, ", ")
	}
	return "forbidden: this operation needs " + need + ", which your token does not carry " +
		"(roles are the token's roles claim: an operator grants them with `gatehouse claims set`, and they reach your token when it is refreshed)"
}

// requireRoles admits callers holding at least one of roles. It runs after
// gatewayIdentity, which put the verified identity in the context.
func requireRoles(roles []string) echo.MiddlewareFunc {
	msg := MissingRoleMessage(roles)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id, err := CallerIdentity(c)
			if err != nil {
				return err
			}
			if !id.HasRole(roles...) {
				return echo.NewHTTPError(http.StatusForbidden, msg)
			}
			return next(c)
		}
	}
}
