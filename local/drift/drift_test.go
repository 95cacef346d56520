// Package drift holds the drift test: every backend's routes (the service
// module) against its spec fragment as the stack renders it (the spec and
// stack modules). It lives in local/ because this module imports all
// three; the service module depends on neither spec nor stack. It has no
// TestMain: `go test ./drift/` runs in seconds.
package drift

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/local/twin"
	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/hello"
	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

// stackFiles are the checkout's stack files (Pulumi.<stack>.yaml): the
// example stacks and any the user added, such as `make new-backend`'s.
func stackFiles(t *testing.T) []string {
	t.Helper()
	all, err := filepath.Glob(filepath.Join("..", "..", "Pulumi.*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range all {
		if filepath.Base(f) != "Pulumi.plan.yaml" { // infra/plan/plan.sh's throw-away stack, while it runs
			files = append(files, filepath.Base(f))
		}
	}
	if !slices.Contains(files, "Pulumi.dev.yaml") || !slices.Contains(files, "Pulumi.v2.yaml") {
		t.Fatalf("stack files %v lack the example stacks", files)
	}
	return files
}

// TestSpecMatchesServiceRoutes fails when a backend serves a public route
// that its fragment lacks (the gateway would 404 it), its fragment declares
// an operation it does not serve (the gateway would forward to a 404), or a
// route that reads the caller's identity is not secured. One table
// (routesOf) over every entry built from service/ of every stack file of
// the checkout, each routed to its own backend in the stack's rendered
// document. It lives here because this module imports both sides; the
// service module does not depend on spec.
func TestSpecMatchesServiceRoutes(t *testing.T) {
	for _, file := range stackFiles(t) {
		cfg, err := stack.LoadFile(filepath.Join("..", "..", file), filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		k := cfg.Contract()
		urls, endpoints := k.Placeholders()
		doc, err := k.Render(urls, endpoints)
		if err != nil {
			t.Fatal(err)
		}
		d, err := spec.Parse(doc, spec.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range cfg.Backends {
			if twin.Runnable(b) != nil {
				continue // not a Go package of service/ (an existing image, another context)
			}
			t.Run(file+"/"+b.Name, func(t *testing.T) {
				routes, ok := routesOf[b.Name]
				if !ok {
					t.Fatalf("backend %s has no routes in routesOf: add its Routes()", b.Name)
				}
				var inSpec, inService []string
				var ops []spec.Operation
				for _, op := range d.Operations {
					if op.Backend != nil && op.Backend.Address == urls[b.Name] {
						inSpec = append(inSpec, op.Method+" "+op.Path)
						ops = append(ops, op)
					}
				}
				for _, r := range routes() {
					if r.Public {
						inService = append(inService, r.Method+" "+r.Path)
					}
				}
				if missing, extra := diff(inService, inSpec), diff(inSpec, inService); len(missing)+len(extra) > 0 || len(inSpec) == 0 {
					t.Errorf("%s and the backend's routes disagree:\n  served but not in the fragment: %v\n  in the fragment but not served: %v", b.Spec, missing, extra)
				}
				if bad := unsecuredIdentityRoutes(routes(), &spec.Document{Operations: ops}); len(bad) > 0 {
					t.Errorf("routes that read the gateway identity on operations the spec does not secure (a client could forge it there): %v", bad)
				}
				fragRoles, err := spec.FragmentRoles(b.Fragment)
				if err != nil {
					t.Fatalf("%s: %v", b.Spec, err)
				}
				if bad := rolesDrift(routes(), fragRoles); len(bad) > 0 {
					t.Errorf("%s and the backend's routes disagree on roles (Route.Roles in code, x-gatehouse-roles in the fragment):\n  %s", b.Spec, strings.Join(bad, "\n  "))
				}
			})
		}
	}
}

// unsecuredIdentityRoutes lists the routes that read the caller identity
// but whose operation has no security requirement: API Gateway removes a
// client-sent X-Apigateway-Api-Userinfo only where a JWT requirement runs.
func unsecuredIdentityRoutes(routes []backend.Route, d *spec.Document) []string {
	secured := map[string]bool{}
	for _, op := range d.Operations {
		secured[op.Method+" "+op.Path] = len(op.Security) > 0
	}
	var bad []string
	for _, r := range routes {
		if r.Identity && !secured[r.Method+" "+r.Path] {
			bad = append(bad, r.Method+" "+r.Path)
		}
	}
	return bad
}

// rolesDrift lists the public routes whose required roles in code
// (Route.Roles) differ from their operation's x-gatehouse-roles in the
// fragment, and fragment roles on operations no route serves. Order does
// not matter: a caller needs any one of the roles.
func rolesDrift(routes []backend.Route, fragment map[string][]string) []string {
	set := func(roles []string) string {
		s := slices.Clone(roles)
		slices.Sort(s)
		return strings.Join(s, ",")
	}
	var bad []string
	served := map[string]bool{}
	for _, r := range routes {
		if !r.Public {
			continue
		}
		key := r.Method + " " + r.Path
		served[key] = true
		if code, frag := set(r.Roles), set(fragment[key]); code != frag {
			bad = append(bad, fmt.Sprintf("%s: code requires [%s], the fragment [%s]", key, code, frag))
		}
	}
	for key, roles := range fragment {
		if !served[key] {
			bad = append(bad, fmt.Sprintf("%s: the fragment requires [%s] on an operation no route serves", key, set(roles)))
		}
	}
	slices.Sort(bad)
	return bad
}

// TestRolesDrift shows the guard fails on roles planted on either side
// only, or differing, and passes on the same roles in any order; and that
// /v1's real fragment without its x-gatehouse-roles line drifts.
func TestRolesDrift(t *testing.T) {
	admin := []backend.Route{{Method: "GET", Path: "/v1/admin/hello", Public: true, Identity: true, Roles: []string{"admin"}}, {Method: "GET", Path: "/v1/hello", Public: true, Identity: true}}
	for _, tt := range []struct {
		name     string
		routes   []backend.Route
		fragment map[string][]string
		want     string // "" for no drift
	}{
		{"same", admin, map[string][]string{"GET /v1/admin/hello": {"admin"}}, ""},
		{"only in code", admin, map[string][]string{}, "GET /v1/admin/hello: code requires [admin], the fragment []"},
		{"only in the fragment", admin, map[string][]string{"GET /v1/admin/hello": {"admin"}, "GET /v1/hello": {"admin"}}, "GET /v1/hello: code requires [], the fragment [admin]"},
		{"different", admin, map[string][]string{"GET /v1/admin/hello": {"support"}}, "code requires [admin], the fragment [support]"},
		{"one more in the fragment", admin, map[string][]string{"GET /v1/admin/hello": {"admin", "support"}}, "code requires [admin], the fragment [admin,support]"},
		{"on an operation not served", admin, map[string][]string{"GET /v1/admin/hello": {"admin"}, "DELETE /v1/admin/hello": {"admin"}}, "DELETE /v1/admin/hello: the fragment requires [admin] on an operation no route serves"},
		{"order", []backend.Route{{Method: "GET", Path: "/a", Public: true, Identity: true, Roles: []string{"b", "a"}}}, map[string][]string{"GET /a": {"a", "b"}}, ""},
	} {
		got := strings.Join(rolesDrift(tt.routes, tt.fragment), "; ")
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s: drift %q, want %q", tt.name, got, tt.want)
		}
	}

	// The planted drift on the real files: /v1's fragment without its
	// x-gatehouse-roles line, against /v1's real routes.
	real, err := os.ReadFile(filepath.Join("..", "..", "service", "hello", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	planted := regexp.MustCompile(`(?m)^\s*x-gatehouse-roles:.*\n`).ReplaceAll(real, nil)
	if bytes.Equal(planted, real) {
		t.Fatal("/v1's fragment declares no x-gatehouse-roles: nothing to plant")
	}
	for name, fragment := range map[string][]byte{"real": real, "planted": planted} {
		roles, err := spec.FragmentRoles(fragment)
		if err != nil {
			t.Fatal(err)
		}
		bad := rolesDrift(hello.Routes(), roles)
		if name == "real" && len(bad) > 0 || name == "planted" && !slices.Equal(bad, []string{"GET /v1/admin/hello: code requires [admin], the fragment []"}) {
			t.Errorf("%s fragment: drift %q", name, bad)
		}
	}
}

// roleNames are names on either side of the role-name rule.
var roleNames = []string{"admin", "notes:admin", "team.lead", "on-call_2", "A", "0", strings.Repeat("r", 64),
	"", " admin", "-admin", ".x", "super admin", "admin\n", "rôle", "a/b", "a@b", strings.Repeat("r", 65)}

// TestRoleNameRulesAgree: the backend kit's rule for Route.Roles, the
// spec's for x-gatehouse-roles and the CLI's for `gatehouse claims set`
// (the service and client modules depend on nothing of spec's) accept the
// same names and describe them alike.
func TestRoleNameRulesAgree(t *testing.T) {
	cliRule, cliRe := clientRoleRule(t, filepath.Join("..", "..", "client", "internal", "authadmin", "claims.go"))
	for _, name := range roleNames {
		if backend.RoleName(name) != spec.RoleName(name) || cliRe.MatchString(name) != spec.RoleName(name) {
			t.Errorf("role %q: the backend says %v, the CLI %v, the spec %v", name, backend.RoleName(name), cliRe.MatchString(name), spec.RoleName(name))
		}
	}
	if backend.RoleNameRule != spec.RoleNameRule || cliRule != spec.RoleNameRule {
		t.Errorf("the rules' descriptions differ:\n  backend: %s\n  CLI:     %s\n  spec:    %s", backend.RoleNameRule, cliRule, spec.RoleNameRule)
	}
}

// clientRoleRule reads the CLI's RoleNameRule and roleNameRe from its
// source (client/internal cannot be imported from this module).
func clientRoleRule(t *testing.T, file string) (rule string, re *regexp.Regexp) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, sp := range g.Specs {
			v, ok := sp.(*ast.ValueSpec)
			if !ok || len(v.Names) != 1 || len(v.Values) != 1 {
				continue
			}
			switch v.Names[0].Name {
			case "RoleNameRule":
				if lit, ok := v.Values[0].(*ast.BasicLit); ok {
					rule, _ = strconv.Unquote(lit.Value)
				}
			case "roleNameRe":
				if call, ok := v.Values[0].(*ast.CallExpr); ok && len(call.Args) == 1 {
					if lit, ok := call.Args[0].(*ast.BasicLit); ok {
						pattern, _ := strconv.Unquote(lit.Value)
						re = regexp.MustCompile(pattern)
					}
				}
			}
		}
	}
	if rule == "" || re == nil {
		t.Fatalf("%s: no RoleNameRule string and roleNameRe = regexp.MustCompile(literal) found", file)
	}
	return rule, re
}

// The check above fails on a CLI rule that drifted: a copy of claims.go
// whose pattern also accepts '/'.
func TestRoleNameRulesDrift(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "client", "internal", "authadmin", "claims.go"))
	if err != nil {
		t.Fatal(err)
	}
	drifted := bytes.Replace(src, []byte("[A-Za-z0-9._:-]{0,63}"), []byte("[A-Za-z0-9._:/-]{0,63}"), 1)
	if bytes.Equal(drifted, src) {
		t.Fatal("could not plant the drift: claims.go changed shape")
	}
	file := filepath.Join(t.TempDir(), "claims.go")
	if err := os.WriteFile(file, drifted, 0o644); err != nil {
		t.Fatal(err)
	}
	_, re := clientRoleRule(t, file)
	if re.MatchString("a/b") == spec.RoleName("a/b") {
		t.Error("the drifted CLI rule agrees with the spec on \"a/b\": TestRoleNameRulesAgree would miss the drift")
	}
}

// TestUnsecuredIdentityRoutes shows the guard fails when a route reading
// the identity is left unsecured, or not declared at all.
func TestUnsecuredIdentityRoutes(t *testing.T) {
	routes := []backend.Route{{Method: "GET", Path: "/v1/me", Public: true, Identity: true}, {Method: "GET", Path: "/v1/open", Public: true}}
	ok := &spec.Document{Operations: []spec.Operation{{Method: "GET", Path: "/v1/me", Security: [][]string{{"firebase"}}}, {Method: "GET", Path: "/v1/open"}}}
	if bad := unsecuredIdentityRoutes(routes, ok); len(bad) != 0 {
		t.Errorf("secured identity route reported: %v", bad)
	}
	open := &spec.Document{Operations: []spec.Operation{{Method: "GET", Path: "/v1/me"}}}
	if bad := unsecuredIdentityRoutes(routes, open); !slices.Equal(bad, []string{"GET /v1/me"}) {
		t.Errorf("unsecured identity route: %v, want [GET /v1/me]", bad)
	}
	if bad := unsecuredIdentityRoutes(routes, &spec.Document{}); !slices.Equal(bad, []string{"GET /v1/me"}) {
		t.Errorf("undeclared identity route: %v, want [GET /v1/me]", bad)
	}
}

// TestDiff shows that the guard catches a difference either way.
func TestDiff(t *testing.T) {
	a := []string{"GET /v1/hello", "GET /v1/me"}
	b := []string{"GET /v1/hello", "POST /v1/items"}
	if got := diff(a, b); !slices.Equal(got, []string{"GET /v1/me"}) {
		t.Errorf("diff(a, b) = %v, want [GET /v1/me]", got)
	}
	if got := diff(b, a); !slices.Equal(got, []string{"POST /v1/items"}) {
		t.Errorf("diff(b, a) = %v, want [POST /v1/items]", got)
	}
	if got := diff(a, a); len(got) != 0 {
		t.Errorf("diff(a, a) = %v, want none", got)
	}
}

// diff returns the entries of a that are not in b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
