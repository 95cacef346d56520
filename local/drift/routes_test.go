package drift

import (
	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/hello"
	"github.com/gatehouse/gatehouse/service/notes"
)

// routesOf are the public routes of each backend built from service/, by
// its entry name in the stack files: the one line a backend adds to the
// drift test (TestSpecMatchesServiceRoutes). `make new-backend` writes it.
var routesOf = map[string]func() []backend.Route{
	"v1":    hello.Routes,
	"notes": notes.Routes,
}
