// Package testenv holds what the local twin, its command and the end-to-end
// tests need of their surroundings: the repository root, free loopback
// ports, a copy of the checkout.
package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// RepoRoot finds the repository root (the folder holding go.work) from dir.
func RepoRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.work above %s", dir)
		}
	}
}

// CacheDir is the repository's cache of installed tools and built files,
// never committed: <repo>/.cache.
func CacheDir(repoRoot string) string { return filepath.Join(repoRoot, ".cache") }

// FreePort asks the kernel for an unused loopback port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// PortFree reports whether a loopback port can be bound.
func PortFree(port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// CopyCheckout copies the checkout at root (without .git, .cache and bin)
// into dst, for tests that change it (a scaffolded backend, a planted
// mistake).
func CopyCheckout(root, dst string) error {
	cp := exec.Command("bash", "-c", `tar -C "$1" --exclude=./.git --exclude=./.cache --exclude=./bin -c . | tar -C "$2" -x`, "cp", root, dst)
	if out, err := cp.CombinedOutput(); err != nil {
		return fmt.Errorf("copy the checkout: %v\n%s", err, out)
	}
	return nil
}
