// Package creds stores signed-in sessions in the user's config directory:
// one JSON file, mode 0600, one entry per profile (stack).
package creds

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

// Entry is one profile's session plus what refreshing it needs.
type Entry struct {
	firebase.Session
	APIKey   string `json:"api_key"`
	Emulator string `json:"emulator,omitempty"` // FIREBASE_AUTH_EMULATOR_HOST at login
	// Gateway is the gateway URL the session's ID token may be sent to: the
	// one known at login, or else the first one it was used with.
	Gateway string `json:"gateway,omitempty"`
}

type file struct {
	Version  int               `json:"version"`
	Profiles map[string]*Entry `json:"profiles"`
}

// Store is the credentials file.
type Store struct{ Path string }

// DefaultPath is os.UserConfigDir()/gatehouse/credentials.json.
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find config dir: %w", err)
	}
	return filepath.Join(dir, "gatehouse", "credentials.json"), nil
}

// ErrNotLoggedIn is returned for a profile with no stored session.
var ErrNotLoggedIn = errors.New("not logged in")

// ErrCorrupt is returned (wrapped) when the file cannot be parsed.
var ErrCorrupt = errors.New("corrupt")

func (s Store) read() (*file, error) {
	f := &file{Version: 1, Profiles: map[string]*Entry{}}
	info, err := os.Lstat(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", s.Path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("credentials file %s is not a regular file; remove it", s.Path)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return nil, fmt.Errorf("credentials file %s belongs to another user (uid %d); remove it", s.Path, st.Uid)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("credentials file %s is readable by others (mode %04o); run: chmod 600 %s", s.Path, perm, s.Path)
	}
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, fmt.Errorf("credentials file %s: %w", s.Path, err)
	}
	var stored file
	if err := json.Unmarshal(b, &stored); err != nil || stored.Profiles == nil {
		return nil, fmt.Errorf("credentials file %s is %w; run `gatehouse logout` (it moves the file aside) and log in again", s.Path, ErrCorrupt)
	}
	return &stored, nil
}

func (s Store) write(f *file) error {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(s.Path), err)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".credentials-*")
	if err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.Path); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	return nil
}

// Get returns the profile's entry, or ErrNotLoggedIn.
func (s Store) Get(profile string) (*Entry, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	e, ok := f.Profiles[profile]
	if !ok || e == nil {
		return nil, ErrNotLoggedIn
	}
	return e, nil
}

// lock takes an exclusive lock on PATH.lock (beside the file, 0600) for a
// read-modify-write, so that concurrent commands (a logout racing a
// refresh, logins to several profiles) never lose each other's writes.
func (s Store) lock() (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(s.Path), err)
	}
	f, err := os.OpenFile(s.Path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock credentials: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock credentials: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// update runs a read-modify-write of the file under the lock; fn reports
// whether to write the file back.
func (s Store) update(fn func(f *file) (bool, error)) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	write, err := fn(f)
	if err != nil || !write {
		return err
	}
	return s.write(f)
}

// Put stores the profile's entry, replacing any other.
func (s Store) Put(profile string, e *Entry) error {
	return s.update(func(f *file) (bool, error) {
		f.Profiles[profile] = e
		return true, nil
	})
}

// Replace stores e for profile only if the stored entry is still old (the
// same refresh token): a refresh must not undo a logout or a new login that
// happened while it ran. It reports whether it wrote.
func (s Store) Replace(profile string, old, e *Entry) (bool, error) {
	replaced := false
	err := s.update(func(f *file) (bool, error) {
		cur, ok := f.Profiles[profile]
		if !ok || cur == nil || cur.RefreshToken != old.RefreshToken {
			return false, nil
		}
		f.Profiles[profile], replaced = e, true
		return true, nil
	})
	return replaced, err
}

// Delete removes the profile's entry; it reports whether there was one.
func (s Store) Delete(profile string) (bool, error) {
	had := false
	err := s.update(func(f *file) (bool, error) {
		_, had = f.Profiles[profile]
		delete(f.Profiles, profile)
		return had, nil
	})
	return had, err
}

// SetAside moves a corrupt file out of the way (to PATH.corrupt, kept for
// inspection, still 0600) and returns where it went. A missing file or one
// that reads fine is left alone ("" returned).
func (s Store) SetAside() (string, error) {
	unlock, err := s.lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := s.read(); !errors.Is(err, ErrCorrupt) {
		return "", nil
	}
	dst := s.Path + ".corrupt"
	if err := os.Rename(s.Path, dst); err != nil {
		return "", fmt.Errorf("move corrupt credentials aside: %w", err)
	}
	return dst, nil
}

// Profiles lists the stored profile names.
func (s Store) Profiles() ([]string, error) {
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range f.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
