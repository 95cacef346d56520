package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	oaspec "github.com/go-openapi/spec"
)

// RolesExtension is the operation extension in a backend's fragment that
// states the roles a caller needs (at least one of them): the same roles
// its route requires in code (service/backend Route.Roles), which enforces
// them. The drift guard in local/ keeps the two in step.
//
// The renderer checks it and leaves it out of the gateway's document. API
// Gateway (ESPv2) could not enforce it: it verifies a token's issuer,
// audience, signature and times, never its other claims. And Google
// documents only its own x-google-* extensions
// (https://cloud.google.com/endpoints/docs/openapi/openapi-extensions);
// its OpenAPI converter has read other x- names as aliases of them ("x-issuer:
// Extension name x-issuer has been deprecated, please rename it to
// x-google-issuer", GoogleCloudPlatform/java-docs-samples#483), so what it
// makes of an unknown one is undocumented. Left out, the document API
// Gateway gets is the one it took before roles existed, and a change of
// roles alone does not change the API config (its id is a hash of the
// document).
const RolesExtension = "x-gatehouse-roles"

// gatehousePrefix is the prefix of gatehouse's own extensions: an unknown
// one is refused, so that a misspelt x-gatehouse-role does not silently
// declare nothing.
const gatehousePrefix = "x-gatehouse-"

// RoleNameRule describes a role name; the backend kit applies the same rule
// to Route.Roles (a test in local/ keeps the two in step).
const RoleNameRule = "1 to 64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

var roleNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

// RoleName reports whether name is a role an operation may require.
func RoleName(name string) bool { return roleNameRe.MatchString(name) }

// FragmentRoles returns the roles each operation of a backend's fragment
// requires, by "METHOD /path" (operations that require none are absent),
// or the fragment's errors in declaring them.
func FragmentRoles(fragment []byte) (map[string][]string, error) {
	frag, err := loadSwagger(fragment)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	var errs []error
	if err := noGatehouseExtension(frag.Extensions, "the fragment's top level"); err != nil {
		errs = append(errs, err)
	}
	for _, path := range sortedPaths(frag) {
		item := frag.Paths.Paths[path]
		if err := noGatehouseExtension(item.Extensions, "path "+path); err != nil {
			errs = append(errs, err)
		}
		ops := itemOps(item)
		for _, m := range httpMethods {
			op, ok := ops[m]
			if !ok {
				continue
			}
			roles, err := operationRoles(op)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", m, path, err))
				continue
			}
			if len(roles) > 0 {
				out[m+" "+path] = roles
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// operationRoles reads and checks an operation's RolesExtension (nil when
// absent), refusing any other x-gatehouse- extension.
func operationRoles(op *oaspec.Operation) ([]string, error) {
	var roles []string
	var errs []error
	for _, k := range sortedKeys(op.Extensions) {
		lk := strings.ToLower(k)
		switch {
		case lk == RolesExtension:
			r, err := parseRoles(op.Extensions[k])
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", RolesExtension, err))
			}
			roles = r
		case strings.HasPrefix(lk, gatehousePrefix):
			errs = append(errs, fmt.Errorf("unknown extension %s (gatehouse knows %s)", k, RolesExtension))
		}
	}
	return roles, errors.Join(errs...)
}

// parseRoles checks an x-gatehouse-roles value: a non-empty list of
// distinct role names.
func parseRoles(v any) ([]string, error) {
	js, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var roles []string
	if err := json.Unmarshal(js, &roles); err != nil {
		return nil, fmt.Errorf("must be a list of role names, such as [admin], not %s", js)
	}
	if len(roles) == 0 {
		return nil, errors.New("lists no role: remove it, or name the roles a caller needs (one of them)")
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if !RoleName(r) {
			return nil, fmt.Errorf("%q is not a role name (%s)", r, RoleNameRule)
		}
		if seen[r] {
			return nil, fmt.Errorf("%q is listed twice", r)
		}
		seen[r] = true
	}
	return roles, nil
}

// noGatehouseExtension refuses gatehouse's extensions where they do
// nothing: they belong on operations.
func noGatehouseExtension(ext oaspec.Extensions, where string) error {
	for _, k := range sortedKeys(ext) {
		if strings.HasPrefix(strings.ToLower(k), gatehousePrefix) {
			return fmt.Errorf("%s: %s belongs on an operation (get, post, ...), not here", where, k)
		}
	}
	return nil
}

// stripGatehouseExtensions removes gatehouse's extensions from an
// operation of the rendered document (see RolesExtension).
func stripGatehouseExtensions(op *oaspec.Operation) {
	for k := range op.Extensions {
		if strings.HasPrefix(strings.ToLower(k), gatehousePrefix) {
			delete(op.Extensions, k)
		}
	}
	if len(op.Extensions) == 0 {
		op.Extensions = nil
	}
}
