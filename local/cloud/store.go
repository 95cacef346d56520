package cloud

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// state is everything the local cloud knows: what --state DIR persists.
// It is only touched under Cloud.mu.
type state struct {
	Projects   map[string]*Project       `json:"projects"`   // by id
	Objects    map[string]map[string]any `json:"objects"`    // resources, by full name
	Policies   map[string]*Policy        `json:"policies"`   // IAM policies, by resource name (deleted with it)
	Tombstones map[string]Tombstone      `json:"tombstones"` // soft-deleted ids, by full name
	Operations map[string]*operation     `json:"operations"` // long-running operations, by name
	Tokens     map[string]string         `json:"tokens"`     // access token → principal
	// Federated are the principal sets of federated tokens (sts.go):
	// access token → principalSet://... members.
	Federated map[string][]string `json:"federated,omitempty"`
	Serial    uint64              `json:"serial"` // etags, ids and operation names
}

// Project is a Google Cloud project.
type Project struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	// Services are the enabled services, with when each was enabled.
	Services map[string]time.Time `json:"services"`
	// PropagationDelay: a service enabled less than this long ago still
	// answers SERVICE_DISABLED.
	PropagationDelay time.Duration `json:"propagationDelay"`
	Created          time.Time     `json:"created"`
}

// Tombstone keeps a soft-deleted resource's id taken until Until.
type Tombstone struct {
	Until  time.Time      `json:"until"`
	Object map[string]any `json:"object"`
}

func newState() *state {
	return &state{
		Projects: map[string]*Project{}, Objects: map[string]map[string]any{}, Policies: map[string]*Policy{},
		Tombstones: map[string]Tombstone{}, Operations: map[string]*operation{}, Tokens: map[string]string{},
		Federated: map[string][]string{},
	}
}

func (s *state) next() uint64 { s.Serial++; return s.Serial }

// etag is an opaque, changing etag in Google's base64 form ("BwYh...=").
func (s *state) etag() string {
	var b [9]byte
	b[0] = 7
	binary.BigEndian.PutUint64(b[1:], s.next())
	return base64.StdEncoding.EncodeToString(b[:])
}

// hexID is a stable-looking id derived from a name and the serial.
func (s *state) hexID(n int, parts ...string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", strings.Join(parts, "/"), s.next())))
	return fmt.Sprintf("%x", h[:])[:n]
}

// projectNumber derives a 12-digit project number from the id, so names in
// the project-number form stay the same across restarts and runs.
func projectNumber(id string) string {
	h := sha256.Sum256([]byte("project:" + id))
	n := binary.BigEndian.Uint64(h[:8])%900000000000 + 100000000000
	return fmt.Sprint(n)
}

// project finds a project by id or number.
func (s *state) project(idOrNumber string) *Project {
	if p, ok := s.Projects[idOrNumber]; ok {
		return p
	}
	for _, p := range s.Projects {
		if p.Number == idOrNumber {
			return p
		}
	}
	return nil
}

// deleteObject removes a resource and the IAM policy kept with it.
func (s *state) deleteObject(name string) {
	delete(s.Objects, name)
	delete(s.Policies, name)
}

// children lists the names directly under collection (parent + "/" + kind + "/").
func (s *state) children(prefix string) []string {
	var out []string
	for name := range s.Objects {
		if rest, ok := strings.CutPrefix(name, prefix); ok && !strings.Contains(rest, "/") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// save writes the state atomically to dir/state.json.
func (s *state) save(dir string) error {
	if dir == "" {
		return nil
	}
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp := filepath.Join(dir, ".state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

// loadState reads dir/state.json, or returns a new state when there is none.
func loadState(dir string) (*state, error) {
	s := newState()
	if dir == "" {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("load state %s: %w", filepath.Join(dir, "state.json"), err)
	}
	if s.Federated == nil {
		s.Federated = map[string][]string{}
	}
	if s.Projects == nil || s.Objects == nil || s.Policies == nil || s.Tombstones == nil || s.Operations == nil || s.Tokens == nil {
		fresh := newState()
		if s.Projects == nil {
			s.Projects = fresh.Projects
		}
		if s.Objects == nil {
			s.Objects = fresh.Objects
		}
		if s.Policies == nil {
			s.Policies = fresh.Policies
		}
		if s.Tombstones == nil {
			s.Tombstones = fresh.Tombstones
		}
		if s.Operations == nil {
			s.Operations = fresh.Operations
		}
		if s.Tokens == nil {
			s.Tokens = fresh.Tokens
		}
	}
	return s, nil
}

// clone deep-copies a JSON object (what handlers return must not alias the store).
func clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// timestamp is Google's RFC 3339 form with microseconds.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }
