package lifecycle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFormerArchive keeps testdata/former-COMMIT.tar.gz, the former
// program TestScenarioUpgrade deploys, equal to COMMIT in this clone's
// history: every file, byte for byte, and nothing else. With
// GATEHOUSE_UPGRADE_FIXTURES=1 it writes the archive from history instead.
// A shallow clone lacks the commit; then only the archive's own shape is
// checked (it must hold the former program's main and backend component).
func TestFormerArchive(t *testing.T) {
	e := &env{}
	var err error
	if e.root, err = filepath.Abs("../.."); err != nil {
		t.Fatal(err)
	}
	commit, archive := formerLayout(t, e)
	fromHistory, histErr := gitArchive(e.root, commit)
	if os.Getenv("GATEHOUSE_UPGRADE_FIXTURES") == "1" {
		if histErr != nil {
			t.Fatal(histErr)
		}
		if err := writeFormerArchive(archive, fromHistory); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d files)", archive, len(fromHistory))
	}
	committed, err := readFormerArchive(archive)
	if err != nil {
		t.Fatalf("%v (GATEHOUSE_UPGRADE_FIXTURES=1 go test -run TestFormerArchive ./lifecycle/ writes it from history)", err)
	}
	for _, want := range []string{"infra/main.go", "infra/components/backend.go", "infra/go.mod", "Pulumi.yaml", "Pulumi.dev.yaml"} {
		if _, ok := committed[want]; !ok {
			t.Errorf("%s holds no %s", archive, want)
		}
	}
	if histErr != nil {
		t.Logf("not compared with history: %v", histErr)
		return
	}
	if diff := diffFiles(fromHistory, committed); diff != "" {
		t.Errorf("%s differs from commit %s (GATEHOUSE_UPGRADE_FIXTURES=1 rewrites it):\n%s", archive, commit, diff)
	}
}

func TestDiffFilesSeesAChange(t *testing.T) {
	a := map[string][]byte{"infra/main.go": []byte("package main\n"), "x": []byte("1")}
	for name, b := range map[string]map[string][]byte{
		"changed": {"infra/main.go": []byte("package main // edited\n"), "x": []byte("1")},
		"missing": {"infra/main.go": []byte("package main\n")},
		"extra":   {"infra/main.go": []byte("package main\n"), "x": []byte("1"), "y": nil},
	} {
		if diffFiles(a, b) == "" {
			t.Errorf("%s: no difference seen", name)
		}
	}
	if d := diffFiles(a, a); d != "" {
		t.Errorf("a file set differs from itself: %s", d)
	}
}

// gitArchive reads formerPaths at commit from the repository's history.
func gitArchive(root, commit string) (map[string][]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", root, "archive", "--format=tar", commit}, formerPaths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("commit %s is not in this clone's history (a shallow clone?): %v: %s", commit, err, strings.TrimSpace(stderr.String()))
	}
	return readTar(bytes.NewReader(out))
}

func readFormerArchive(path string) (map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return readTar(zr)
}

// readTar returns a tar's regular files by name.
func readTar(r io.Reader) (map[string][]byte, error) {
	files := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read tar: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read tar %s: %w", h.Name, err)
		}
		files[h.Name] = b
	}
}

// writeFormerArchive writes files as a gzip'd tar, sorted, with no times or
// owners, so the same commit always gives the same bytes.
func writeFormerArchive(path string, files map[string][]byte) error {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// diffFiles names the files that differ between two sets ("" when equal).
func diffFiles(want, got map[string][]byte) string {
	var d []string
	for n, b := range want {
		g, ok := got[n]
		switch {
		case !ok:
			d = append(d, "missing "+n)
		case sha256.Sum256(b) != sha256.Sum256(g):
			d = append(d, "changed "+n)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			d = append(d, "extra "+n)
		}
	}
	slices.Sort(d)
	return strings.Join(d, "\n")
}
