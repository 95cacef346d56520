package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/client/emulator"
	"github.com/gatehouse/gatehouse/client/internal/creds"
)

// authEmulator is the real Firebase Auth emulator shared by this package's
// tests, started by TestMain; nil when npm is not installed.
var authEmulator *emulator.Emulator

func TestMain(m *testing.M) {
	os.Exit(runWithEmulator(m))
}

func runWithEmulator(m *testing.M) int {
	wd, _ := os.Getwd()
	root, err := emulator.RepoRoot(wd)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var log bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := emulator.Install(ctx, emulator.CacheDir(root), &log, &log)
	switch {
	case errors.Is(err, emulator.ErrNoNPM) && os.Getenv("CI") != "true": // under CI a missing tool fails
		fmt.Fprintln(os.Stderr, "skipping emulator tests:", err)
		return m.Run()
	case err != nil:
		fmt.Fprintf(os.Stderr, "%v\n%s", err, log.String())
		return 1
	}
	authEmulator, err = emulator.Start(ctx, emulator.Options{Bin: bin, Log: &log})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%v\n%s", err, log.String())
		return 1
	}
	defer authEmulator.Stop()
	return m.Run()
}

func emulatorHarness(t *testing.T) *harness {
	t.Helper()
	if authEmulator == nil {
		t.Skip("npm is not installed: no Firebase Auth emulator")
	}
	if err := authEmulator.Reset(); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.env["FIREBASE_AUTH_EMULATOR_HOST"] = authEmulator.Host
	return h
}

func TestEmulatorSignupLoginRefreshLogout(t *testing.T) {
	h := emulatorHarness(t)
	signup := func(email, pw string) (int, string, string) {
		h.stdin = pw + "\n"
		return h.run("signup", "--email", email, "--password-stdin")
	}
	login := func(email, pw string) (int, string, string) {
		h.stdin = pw + "\n"
		return h.run("login", "--email", email, "--password-stdin")
	}

	code, out, stderr := signup("ada@example.com", "correct-horse")
	if code != 0 || !strings.Contains(out, "signed up and logged in as ada@example.com") {
		t.Fatalf("signup = %d %q %q", code, out, stderr)
	}
	store := creds.Store{Path: h.credPath}
	e, err := store.Get("local")
	if err != nil || e.ProjectID != emulator.DefaultProject || e.UID == "" || e.IDToken == "" {
		t.Fatalf("stored session = %+v, %v", e, err)
	}

	if code, _, stderr := signup("ada@example.com", "another-pass"); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("duplicate signup = %d %q", code, stderr)
	}
	if code, _, stderr := signup("weak@example.com", "123"); code != 1 || !strings.Contains(stderr, "password too weak") {
		t.Errorf("weak password = %d %q", code, stderr)
	}
	if code, _, stderr := login("ada@example.com", "wrong-password"); code != 1 || !strings.Contains(stderr, "wrong email or password") {
		t.Errorf("login with wrong password = %d %q", code, stderr)
	}
	if code, _, stderr := login("nobody@example.com", "whatever1"); code != 1 || !strings.Contains(stderr, "wrong email or password") {
		t.Errorf("login of unknown user = %d %q", code, stderr)
	}
	code, out, stderr = login("ada@example.com", "correct-horse")
	if code != 0 || !strings.Contains(out, "logged in as ada@example.com") {
		t.Fatalf("login = %d %q %q", code, out, stderr)
	}

	// Force a refresh: mark the stored token as expiring now.
	e, _ = store.Get("local")
	oldRefresh := e.RefreshToken
	e.Expiry = time.Now().Add(-time.Second)
	if err := store.Put("local", e); err != nil {
		t.Fatal(err)
	}
	code, tok, stderr := h.run("token")
	if code != 0 || strings.Count(strings.TrimSpace(tok), ".") != 2 {
		t.Fatalf("token after expiry = %d %q %q", code, tok, stderr)
	}
	e, _ = store.Get("local")
	if time.Until(e.Expiry) < 30*time.Minute || e.IDToken != strings.TrimSpace(tok) || e.RefreshToken == "" {
		t.Errorf("refresh did not store a fresh session: expiry %v, refresh changed %v", e.Expiry, e.RefreshToken != oldRefresh)
	}

	if code, out, _ := h.run("logout"); code != 0 || !strings.Contains(out, "logged out") {
		t.Errorf("logout = %d %q", code, out)
	}
	if code, _, stderr := h.run("token"); code != 1 || !strings.Contains(stderr, "not logged in") {
		t.Errorf("token after logout = %d %q", code, stderr)
	}
}
