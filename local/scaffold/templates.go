package scaffold

// The files of a new backend, as text/template sources with .Name (the
// package), .Path (its route), .Prefix and .Title (.Name capitalised).

const backendGo = `// Package {{.Name}} is the {{.Prefix}} API, made by ` + "`make new-backend`" + `: one route
// that answers the signed-in caller, on the kit (package backend), which
// brings the JSON errors, the logs and the identity checks. Add a route to
// routeTable and its operation to openapi.yaml beside this file (the drift
// test, local/drift, keeps them in step); a route for some callers only
// sets Roles, and its operation x-gatehouse-roles. Key anything kept per
// user by backend.UserOf, never by the subject alone.
package {{.Name}}

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/backend"
)

type handlers struct {
	revision string
}

// routeTable is every route the backend serves. Identity: the handler
// reads the caller, so the spec must secure the operation (it does: every
// operation of the fragment is).
func routeTable(h *handlers) []backend.Handler {
	return []backend.Handler{
		{Route: backend.Route{Method: http.MethodGet, Path: "{{.Path}}", Public: true, Identity: true}, Func: h.greet},
		{Route: backend.Route{Method: http.MethodGet, Path: "/healthz"}, Func: backend.Healthz(h.revision)},
	}
}

// Routes lists every route New registers, for the drift test.
func Routes() []backend.Route { return backend.RoutesOf(routeTable(&handlers{})) }

// New returns the backend: its routes on the kit's server.
func New(o backend.Options) (*echo.Echo, error) {
	return backend.NewServer(o, routeTable(&handlers{revision: o.Revision}))
}

func (h *handlers) greet(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"message": "Hello from {{.Name}}, " + id.Name() + "!"})
}
`

const backendTest = `package {{.Name}}

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
)

// {{.Path}} answers a caller the gateway invoked for, by name; without
// the gateway's identity it refuses (401).
func TestGreet(t *testing.T) {
	e, err := New(backend.Options{GatewayServiceAccount: gatewaytest.Account})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		headers map[string]string
		want    int
		body    string
	}{
		{gatewaytest.Headers(` + "`" + `{"sub":"u1","email":"ada@example.com"}` + "`" + `), http.StatusOK, "Hello from {{.Name}}, ada@example.com!"},
		{map[string]string{"Authorization": gatewaytest.InvokerToken(gatewaytest.Account)}, http.StatusUnauthorized, "missing gateway identity"},
	} {
		req := httptest.NewRequest(http.MethodGet, "{{.Path}}", nil)
		for k, v := range tt.headers {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("GET {{.Path}} = %d %s, want %d %q", rec.Code, rec.Body, tt.want, tt.body)
		}
	}
}
`

const fragment = `# The {{.Name}} backend's operations (Swagger 2.0 fragment), made by
# ` + "`make new-backend`" + `. The spec renderer merges them into the gateway's
# document, routes them to this backend's Cloud Run service and secures
# them like every other operation; a test (local/drift) keeps them
# in step with the backend's routes. Every path must start with {{.Prefix}}.
swagger: "2.0"
info:
  title: gatehouse {{.Name}}
  version: 1.0.0
paths:
  {{.Path}}:
    get:
      operationId: {{.Name}}Greet
      summary: Greet the signed-in caller.
      responses:
        "200":
          description: A greeting addressed to the caller.
          schema:
            $ref: "#/definitions/{{.Title}}Greeting"
        "401":
          description: The token is missing or invalid.
          schema:
            $ref: "#/definitions/Error"
definitions:
  {{.Title}}Greeting:
    type: object
    required: [message]
    properties:
      message:
        type: string
  Error:
    type: object
    required: [code, message]
    properties:
      code:
        type: integer
      message:
        type: string
`

const mainGo = `// Command {{.Name}} is gatehouse's {{.Name}} backend (package {{.Name}}, under
// {{.Prefix}}), made by ` + "`make new-backend`" + `. Its image is cmd/{{.Name}}/Dockerfile (the
// one Dockerfile every backend copies) built with service/ as context and
// --build-arg CMD=./cmd/{{.Name}}; its context is what Dockerfile.dockerignore
// beside it admits.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse/gatehouse/service/{{.Name}}"
	"github.com/gatehouse/gatehouse/service/backend"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "{{.Name}}: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return backend.Run(ctx, getenv, stdout, {{.Name}}.New)
}
`
