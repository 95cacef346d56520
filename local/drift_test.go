package local

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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
