package local

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/local/internal/syncbuf"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/twin"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/hello"
	"github.com/gatehouse/gatehouse/service/notes"
	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

// routesOf are the public routes of each backend the example stacks run,
// by entry name: a new backend adds its line here.
var routesOf = map[string]func() []backend.Route{
	"v1":    hello.Routes,
	"notes": notes.Routes,
}

// TestSpecMatchesServiceRoutes fails when a backend serves a public route
// that its fragment lacks (the gateway would 404 it), its fragment declares
// an operation it does not serve (the gateway would forward to a 404), or a
// route that reads the caller's identity is not secured. One table over
// every entry of every example stack, each routed to its own backend in the
// stack's rendered document. It lives here because this module imports
// both sides; the service module does not depend on spec.
func TestSpecMatchesServiceRoutes(t *testing.T) {
	for _, file := range []string{"Pulumi.dev.yaml", "Pulumi.v2.yaml"} {
		cfg, err := stack.LoadFile(filepath.Join("..", file), "..")
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
	real, err := os.ReadFile(filepath.Join("..", "service", "hello", "openapi.yaml"))
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

// TestRoleNameRulesAgree: the backend kit's rule for Route.Roles and the
// spec's for x-gatehouse-roles (the service module depends on nothing of
// spec's) accept the same names.
func TestRoleNameRulesAgree(t *testing.T) {
	for _, name := range []string{"admin", "notes:admin", "team.lead", "on-call_2", "A", "0", strings.Repeat("r", 64),
		"", " admin", "-admin", ".x", "super admin", "admin\n", "rôle", "a/b", "a@b", strings.Repeat("r", 65)} {
		if backend.RoleName(name) != spec.RoleName(name) {
			t.Errorf("role %q: the backend says %v, the spec %v", name, backend.RoleName(name), spec.RoleName(name))
		}
	}
	if backend.RoleNameRule != spec.RoleNameRule {
		t.Errorf("the rules' descriptions differ:\n  backend: %s\n  spec:    %s", backend.RoleNameRule, spec.RoleNameRule)
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

// TestCORSOriginRulesAgree: the stack's rule for gatehouse:corsOrigins
// (stack.CORSOrigin) and the backend's own copy for CORS_ALLOW_ORIGINS (the
// service module depends on nothing of the stack's) agree on what matters:
// every origin the stack accepts, the backend starts with. Run on the
// backend binary of the default stack's /v1.
func TestCORSOriginRulesAgree(t *testing.T) {
	def, err := stack.Defaults("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "backend")
	build := exec.Command("go", "build", "-o", bin, twin.Package(def.Backends[0]))
	build.Dir = filepath.Join("..", stack.DefaultBuildContext)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the backend: %v\n%s", err, out)
	}
	accepted := 0
	for _, origin := range []string{"*", "https://app.example.com", "https://app.example.com/", "http://localhost:3000",
		"http://127.0.0.1:8082", "https://[::1]:8443", "app.example.com", "https://app.example.com/path", "ftp://x.example",
		"https://u@app.example.com", "https://app.example.com/?q=1", "https://app.example.com#x"} {
		value, err := stack.CORSOrigin(origin)
		if err != nil {
			continue // the stack refuses it: no backend ever gets it
		}
		accepted++
		port, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin)
		cmd.Env = []string{"LISTEN_HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "CORS_ALLOW_ORIGINS=" + value,
			"GATEWAY_SERVICE_ACCOUNT=" + twin.DefaultGatewayAccount("demo-gatehouse")}
		var out syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		healthy := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !healthy; time.Sleep(20 * time.Millisecond) {
			if res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"); err == nil {
				res.Body.Close()
				healthy = res.StatusCode == http.StatusOK
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !healthy {
			t.Errorf("the stack accepts corsOrigins %q (as %q), the backend does not start with it:\n%s", origin, value, out.String())
		}
	}
	if accepted < 5 {
		t.Errorf("the stack accepted %d origins of the table, want at least 5: the check proves little", accepted)
	}
}
