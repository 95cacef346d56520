package creds

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/internal/firebase"
)

func TestPutGetDelete(t *testing.T) {
	s := Store{Path: filepath.Join(t.TempDir(), "sub", "credentials.json")}
	if _, err := s.Get("dev"); !errors.Is(err, ErrNotLoggedIn) {
		t.Fatalf("Get(empty) = %v, want ErrNotLoggedIn", err)
	}
	e := &Entry{Session: firebase.Session{Email: "a@b.co", IDToken: "t", RefreshToken: "r", Expiry: time.Unix(1e9, 0).UTC()}, APIKey: "k"}
	if err := s.Put("dev", e); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("prod", &Entry{Session: firebase.Session{Email: "p@b.co"}}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(s.Path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode = %v, %v, want 0600", info.Mode(), err)
	}
	if dir, _ := os.Stat(filepath.Dir(s.Path)); dir.Mode().Perm() != 0o700 {
		t.Errorf("credentials dir mode = %v, want 0700", dir.Mode().Perm())
	}
	got, err := s.Get("dev")
	if err != nil || got.Email != "a@b.co" || got.APIKey != "k" || !got.Expiry.Equal(e.Expiry) {
		t.Errorf("Get(dev) = %+v, %v", got, err)
	}
	names, _ := s.Profiles()
	if strings.Join(names, ",") != "dev,prod" {
		t.Errorf("Profiles = %v", names)
	}
	if had, err := s.Delete("dev"); !had || err != nil {
		t.Errorf("Delete(dev) = %v, %v", had, err)
	}
	if had, _ := s.Delete("dev"); had {
		t.Error("Delete(dev) twice reported an entry")
	}
	if _, err := s.Get("prod"); err != nil {
		t.Errorf("Delete(dev) lost prod: %v", err)
	}
}

func TestUnsafeFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) Store {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return Store{Path: p}
	}
	tests := []struct {
		name  string
		store Store
		want  string
	}{
		{"corrupt", write("corrupt.json", "{not json", 0o600), "is corrupt"},
		{"no profiles", write("empty.json", "{}", 0o600), "is corrupt"},
		{"world readable", write("open.json", `{"profiles":{}}`, 0o644), "chmod 600"},
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(filepath.Join(dir, "open.json"), link); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct {
		name  string
		store Store
		want  string
	}{"symlink", Store{Path: link}, "not a regular file"})
	if os.Getuid() == 0 {
		foreign := write("foreign.json", `{"profiles":{}}`, 0o600)
		if err := os.Chown(foreign.Path, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		tests = append(tests, struct {
			name  string
			store Store
			want  string
		}{"foreign owner", foreign, "belongs to another user"})
	}
	for _, tt := range tests {
		_, err := tt.store.Get("dev")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Get = %v, want error containing %q", tt.name, err, tt.want)
		}
		if err := tt.store.Put("dev", &Entry{}); err == nil {
			t.Errorf("%s: Put succeeded over an unsafe file", tt.name)
		}
	}
}

// Concurrent writers to different profiles all keep their entry: the
// read-modify-write is locked (8 concurrent logins once kept 4).
func TestConcurrentPutsKeepEveryProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials.json")
	const n = 16
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func(i int) {
			errs <- Store{Path: path}.Put(fmt.Sprintf("p%d", i), &Entry{Session: firebase.Session{Email: fmt.Sprintf("u%d@b.co", i)}})
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	names, err := Store{Path: path}.Profiles()
	if err != nil || len(names) != n {
		t.Errorf("after %d concurrent logins, %d profiles kept: %v %v", n, len(names), names, err)
	}
}

// A refresh writes back only if the stored entry is still the one it
// refreshed: a logout (or a new login) in between wins.
func TestReplaceOnlyIfUnchanged(t *testing.T) {
	s := Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	old := &Entry{Session: firebase.Session{Email: "a@b.co", RefreshToken: "r1"}}
	if err := s.Put("dev", old); err != nil {
		t.Fatal(err)
	}
	refreshed := &Entry{Session: firebase.Session{Email: "a@b.co", RefreshToken: "r2", IDToken: "new"}}
	if ok, err := s.Replace("dev", old, refreshed); !ok || err != nil {
		t.Fatalf("Replace of the unchanged entry = %v, %v", ok, err)
	}
	// Logged out meanwhile: the refresh must not bring the session back.
	if _, err := s.Delete("dev"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Replace("dev", refreshed, &Entry{Session: firebase.Session{RefreshToken: "r3"}}); ok || err != nil {
		t.Errorf("Replace after logout = %v, %v, want false", ok, err)
	}
	if _, err := s.Get("dev"); !errors.Is(err, ErrNotLoggedIn) {
		t.Errorf("session came back after logout: %v", err)
	}
}
