package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := RepoRoot(deep); err == nil {
		t.Error("found a root without go.work")
	}
	if err := os.WriteFile(filepath.Join(root, "go.work"), []byte("go 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := RepoRoot(deep); err != nil || got != root {
		t.Errorf("RepoRoot = %q, %v, want %q", got, err, root)
	}
	if got := CacheDir(root); got != filepath.Join(root, ".cache") {
		t.Errorf("CacheDir = %q", got)
	}
}

func TestPorts(t *testing.T) {
	port, err := FreePort()
	if err != nil || !PortFree(port) {
		t.Fatalf("FreePort = %d, %v; free %v", port, err, PortFree(port))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if PortFree(port) {
		t.Errorf("port %d reported free while bound", port)
	}
}
