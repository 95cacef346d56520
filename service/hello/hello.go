// Package hello is the /v1 API: a greeting, the caller's identity (with
// their roles) and a greeting for admins only, the smallest backend built
// on the kit (package backend). Its operations are
// declared in its spec fragment (openapi.yaml beside this file).
package hello

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/backend"
)

type helloResponse struct {
	Message string `json:"message"`
}

// AdminRole is the role /v1/admin/hello needs.
const AdminRole = "admin"

type handlers struct {
	revision string
}

func routeTable(h *handlers) []backend.Handler {
	return []backend.Handler{
		{Route: backend.Route{Method: http.MethodGet, Path: "/v1/hello", Public: true, Identity: true}, Func: h.hello},
		{Route: backend.Route{Method: http.MethodGet, Path: "/v1/me", Public: true, Identity: true}, Func: h.me},
		// For admins only: the example of a route that needs a role (the
		// fragment says so too, in x-gatehouse-roles).
		{Route: backend.Route{Method: http.MethodGet, Path: "/v1/admin/hello", Public: true, Identity: true, Roles: []string{AdminRole}}, Func: h.adminHello},
		{Route: backend.Route{Method: http.MethodGet, Path: "/healthz"}, Func: backend.Healthz(h.revision)},
	}
}

// Routes lists every route New registers. The spec drift guard compares the
// public ones with the OpenAPI document.
func Routes() []backend.Route { return backend.RoutesOf(routeTable(&handlers{})) }

// New returns the /v1 backend: its routes on the kit's server.
func New(o backend.Options) (*echo.Echo, error) {
	return backend.NewServer(o, routeTable(&handlers{revision: o.Revision}))
}

func (h *handlers) hello(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, helloResponse{Message: "Hello, " + id.Name() + "!"})
}

func (h *handlers) me(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, id)
}

// adminHello greets a caller holding the admin role; the kit has refused
// everyone else (403) before it runs.
func (h *handlers) adminHello(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, helloResponse{Message: "Hello, " + id.Name() + "! You hold the " + AdminRole + " role."})
}
