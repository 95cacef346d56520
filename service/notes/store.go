package notes

import (
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/service/backend"
)

// The store is bounded by bytes, from the instance's memory, so that no
// flood of notes can push the instance past its memory limit (Cloud Run
// would kill it and every caller's notes would go). Bounding it by counts
// alone allowed ~1 GB: 10,000 callers of 100 notes of 1,000 bytes.
//
// A full store refuses new notes (507); it never evicts one caller's
// notes to make room for another's. Sign-up is open, so a flood of new
// accounts could otherwise push everyone else's notes out. Each caller
// has a quota of MaxNotesPerUser notes; a caller at it replaces their own
// oldest note.
const (
	// StoreShare is the part of the Go memory limit the store may hold: the
	// rest is for the runtime, the request buffers, the identity cache and
	// the garbage a full store's churn leaves between collections.
	StoreShare = 4 // a quarter
	// DefaultStoreBytes bounds the store when no memory limit is known
	// (no cgroup limit, no GOMEMLIMIT): a quarter of a 256 MiB instance.
	DefaultStoreBytes = 64 << 20
	// What one note and one caller cost beyond their strings: the Note's
	// fields and slice slot (with append's spare capacity), the caller's
	// map entry, its struct and allocation rounding. Measured against the
	// flood benchmark's RSS, generously.
	noteOverhead = 160
	userOverhead = 320
)

// StoreBytes is the store's bound for a Go memory limit (0: unknown).
func StoreBytes(memoryLimit int64) int64 {
	if memoryLimit <= 0 {
		return DefaultStoreBytes
	}
	return memoryLimit / StoreShare
}

// ErrFull is returned when a note does not fit in the store.
var ErrFull = errors.New("notes store full")

// store holds each caller's notes, at most maxBytes of them as noteCost
// and userCost count them. Every operation is O(1) but the list copy.
type store struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	byUser   map[backend.User]*userNotes
	seq      int
	now      func() time.Time
}

type userNotes struct {
	notes []Note // oldest first
}

func newStore(maxBytes int64, now func() time.Time) *store {
	return &store{maxBytes: maxBytes, byUser: map[backend.User]*userNotes{}, now: now}
}

func noteCost(n Note) int64 { return int64(len(n.ID)+len(n.Text)) + noteOverhead }

func userCost(u backend.User) int64 { return int64(len(u.Issuer)+len(u.Subject)) + userOverhead }

// Bytes reports what the store holds, as it counts it.
func (s *store) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

func (s *store) list(u backend.User) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	if un, ok := s.byUser[u]; ok {
		return append([]Note{}, un.notes...)
	}
	return []Note{}
}

// add stores a note for u: when u is at MaxNotesPerUser, their oldest goes.
// If the store cannot hold it without evicting another caller's notes, it
// stores nothing and returns ErrFull.
func (s *store) add(u backend.User, text string) (Note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := Note{ID: strconv.Itoa(s.seq + 1), Text: text, Created: s.now().UTC()}
	un, ok := s.byUser[u]
	delta := noteCost(n)
	if !ok {
		delta += userCost(u)
	} else if len(un.notes) >= MaxNotesPerUser {
		delta -= noteCost(un.notes[0])
	}
	if s.bytes+delta > s.maxBytes {
		return Note{}, ErrFull
	}
	s.seq++
	if !ok {
		un = &userNotes{}
		s.byUser[u] = un
	}
	if len(un.notes) >= MaxNotesPerUser {
		// Shift rather than reslice, so the backing array stays at
		// MaxNotesPerUser entries instead of creeping forward and growing.
		copy(un.notes, un.notes[1:])
		un.notes[len(un.notes)-1] = n
	} else {
		un.notes = append(un.notes, n)
	}
	s.bytes += delta
	return n, nil
}

// Stats is what the store holds, for the admin route: counts only, no
// caller's identity or text.
type Stats struct {
	Callers       int   `json:"callers"`        // callers with at least one note
	Notes         int   `json:"notes"`          // notes of all callers
	Bytes         int64 `json:"bytes"`          // what they cost, as the store counts it
	CapacityBytes int64 `json:"capacity_bytes"` // the store's bound
}

func (s *store) stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Callers: len(s.byUser), Bytes: s.bytes, CapacityBytes: s.maxBytes}
	for _, un := range s.byUser {
		st.Notes += len(un.notes)
	}
	return st
}
