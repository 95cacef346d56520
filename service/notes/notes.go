// Package notes is gatehouse's second example backend: a tiny per-user
// notes API under /v2, on its own Cloud Run service behind the same
// gateway. It is built on backend.NewServer, so it checks the caller identity
// exactly as the /v1 backend does, and its routes are declared in its own
// spec fragment (openapi.yaml, next to this file) that the renderer merges.
//
// Notes live in the instance's memory, bounded: this is an example to copy,
// not a database (a real service would keep them in Firestore or Cloud SQL).
package notes

import (
	"container/list"
	_ "embed"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// Limits that keep the in-memory store bounded.
const (
	MaxTextLen      = 1000  // bytes of one note
	MaxNotesPerUser = 100   // the oldest goes when a user adds one more
	MaxUsers        = 10000 // the least recently written user goes first
)

// Note is one note.
type Note struct {
	ID      string    `json:"id"`
	Text    string    `json:"text"`
	Created time.Time `json:"created"`
}

type noteList struct {
	Owner string `json:"owner"`
	Notes []Note `json:"notes"`
}

type newNote struct {
	Text string `json:"text"`
}

// store holds each user's notes, and evicts the least recently written
// user when full (a list in write order, so every operation is O(1)).
type store struct {
	mu     sync.Mutex
	byUser map[string]*list.Element // of *userNotes, in order
	order  *list.List               // least recently written first
	seq    int
	now    func() time.Time
}

type userNotes struct {
	uid   string
	notes []Note
}

func newStore(now func() time.Time) *store {
	return &store{byUser: map[string]*list.Element{}, order: list.New(), now: now}
}

func (s *store) list(uid string) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byUser[uid]; ok {
		return append([]Note{}, e.Value.(*userNotes).notes...)
	}
	return []Note{}
}

func (s *store) add(uid, text string) Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	n := Note{ID: strconv.Itoa(s.seq), Text: text, Created: s.now().UTC()}
	e, ok := s.byUser[uid]
	if !ok {
		if len(s.byUser) >= MaxUsers {
			oldest := s.order.Front()
			delete(s.byUser, oldest.Value.(*userNotes).uid)
			s.order.Remove(oldest)
		}
		e = s.order.PushBack(&userNotes{uid: uid})
		s.byUser[uid] = e
	}
	u := e.Value.(*userNotes)
	u.notes = append(u.notes, n)
	if len(u.notes) > MaxNotesPerUser {
		u.notes = u.notes[len(u.notes)-MaxNotesPerUser:]
	}
	s.order.MoveToBack(e)
	return n
}

type handlers struct{ store *store }

func routeTable(h *handlers, revision string) []backend.Handler {
	return []backend.Handler{
		{Route: backend.Route{Method: http.MethodGet, Path: "/v2/notes", Public: true, Identity: true}, Func: h.list},
		{Route: backend.Route{Method: http.MethodPost, Path: "/v2/notes", Public: true, Identity: true}, Func: h.create},
		{Route: backend.Route{Method: http.MethodGet, Path: "/healthz"}, Func: backend.Healthz(revision)},
	}
}

// Routes lists every route New registers (the spec drift guard compares
// the public ones with Fragment).
func Routes() []backend.Route { return backend.RoutesOf(routeTable(&handlers{}, "")) }

// New returns the notes backend.
func New(o backend.Options) *echo.Echo {
	h := &handlers{store: newStore(time.Now)}
	return backend.NewServer(o, routeTable(h, o.Revision))
}

func (h *handlers) list(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, noteList{Owner: id.UID, Notes: h.store.list(id.UID)})
}

func (h *handlers) create(c echo.Context) error {
	id, err := backend.CallerIdentity(c)
	if err != nil {
		return err
	}
	var in newNote
	if err := c.Bind(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, `body must be JSON {"text":"..."}`)
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
	return c.JSON(http.StatusCreated, h.store.add(id.UID, text))
}
