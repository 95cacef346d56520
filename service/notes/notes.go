// Package notes is gatehouse's second example backend: a tiny per-user
// notes API under /v2, on its own Cloud Run service behind the same
// gateway. It is built on backend.NewServer, so it checks the caller identity
// exactly as the /v1 backend does, and its routes are declared in its own
// spec fragment (openapi.yaml, next to this file) that the renderer merges.
//
// Notes belong to the caller's issuer and subject together (backend.User),
// never to the subject alone: sub is unique only within an issuer, and a
// machine client's issuer signs its own tokens, so it could mint a token
// whose sub is a Firebase user's uid. Key anything you store per user the
// same way.
//
// Notes live in the instance's memory, bounded by bytes derived from the
// instance's memory (see store): this is an example to copy, not a
// database (a real service would keep them in Firestore or Cloud SQL).
package notes

import (
	_ "embed"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/backend"
)

// Fragment is this backend's Swagger 2.0 fragment: its operations, merged
// into the gateway's document by the spec renderer.
//
//go:embed openapi.yaml
var Fragment []byte

// Limits of one note and of one caller's notes (their quota).
const (
	MaxTextLen      = 1000 // bytes of one note
	MaxNotesPerUser = 100  // the caller's oldest note goes when they add one more
)

// Note is one note.
type Note struct {
	ID      string    `json:"id"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

type noteList struct {
	Owner  string `json:"owner"`  // the caller's subject
	Issuer string `json:"issuer"` // and its issuer: the notes are theirs together
	Notes  []Note `json:"notes"`
}

type newNote struct {
	Text string `json:"text"`
}

// AdminRole is the role /v2/admin/stats needs.
const AdminRole = "admin"

type handlers struct{ store *store }

func routeTable(h *handlers, revision string) []backend.Handler {
	return []backend.Handler{
		{Route: backend.Route{Method: http.MethodGet, Path: "/v2/notes", Public: true, Identity: true}, Func: h.list},
		{Route: backend.Route{Method: http.MethodPost, Path: "/v2/notes", Public: true, Identity: true}, Func: h.create},
		// Admins read how full the instance's store is (counts, never
		// anyone's notes): the example of a route that needs a role.
		{Route: backend.Route{Method: http.MethodGet, Path: "/v2/admin/stats", Public: true, Identity: true, Roles: []string{AdminRole}}, Func: h.stats},
		{Route: backend.Route{Method: http.MethodGet, Path: "/healthz"}, Func: backend.Healthz(revision)},
	}
}

// Routes lists every route New registers (the spec drift guard compares
// the public ones with Fragment).
func Routes() []backend.Route { return backend.RoutesOf(routeTable(&handlers{}, "")) }

// New returns the notes backend, its store sized from o.MemoryLimit.
func New(o backend.Options) (*echo.Echo, error) {
	h := &handlers{store: newStore(StoreBytes(o.MemoryLimit), time.Now)}
	return backend.NewServer(o, routeTable(h, o.Revision))
}

func (h *handlers) list(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, noteList{Owner: id.UID, Issuer: id.Issuer, Notes: h.store.list(backend.UserOf(id))})
}

func (h *handlers) create(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	var in newNote
	if err := backend.BindJSON(c, &in); err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) && he.Code == http.StatusBadRequest {
			return echo.NewHTTPError(http.StatusBadRequest, `body must be JSON {"text":"..."}`).WithInternal(err)
		}
		return err // 415 (not JSON), 413 (too large)
	}
	text := strings.TrimSpace(in.Text)
	switch {
	case text == "":
		return echo.NewHTTPError(http.StatusBadRequest, "text is required")
	case len(text) > MaxTextLen:
		return echo.NewHTTPError(http.StatusBadRequest, "text is longer than "+strconv.Itoa(MaxTextLen)+" bytes")
	case !utf8.ValidString(text):
		return echo.NewHTTPError(http.StatusBadRequest, "text is not UTF-8")
	}
	n, err := h.store.add(backend.UserOf(id), text)
	if err != nil {
		// Nothing was evicted to make room: the caller's note is refused
		// instead (507), and everyone's notes stay.
		return echo.NewHTTPError(http.StatusInsufficientStorage).WithInternal(err)
	}
	return c.JSON(http.StatusCreated, n)
}

// stats answers an admin with the store's counts; the kit has refused
// everyone else (403).
func (h *handlers) stats(c echo.Context) error {
	return c.JSON(http.StatusOK, h.store.stats())
}
