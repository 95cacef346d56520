package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/local/emulator"
)

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"start"}, {"install", "extra"}} {
		var out, errOut bytes.Buffer
		var usage usageError
		if err := run(t.Context(), args, &out, &errOut); !errors.As(err, &usage) {
			t.Errorf("emulator %q = %v, want a usage error", args, err)
		}
	}
}

// install installs into the checkout's .cache/firebase with the pinned
// version, and is a no-op once it is there.
func TestInstall(t *testing.T) {
	root := t.TempDir()
	bin := t.TempDir()
	argsFile := filepath.Join(bin, "args")
	npm := "#!/bin/sh\necho \"$@\" > " + argsFile + "\nnm=$3/node_modules\nmkdir -p $nm/.bin $nm/firebase-tools && touch $nm/.bin/firebase\n" +
		"echo '{\"version\":\"" + emulator.FirebaseToolsVersion + "\"}' > $nm/firebase-tools/package.json\n"
	if err := os.WriteFile(filepath.Join(bin, "npm"), []byte(npm), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":/usr/bin:/bin")
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"-root", root, "install"}, &out, &errOut); err != nil {
		t.Fatalf("install: %v\n%s", err, errOut.String())
	}
	want := filepath.Join(root, ".cache", "firebase", "node_modules", ".bin", "firebase")
	if args, _ := os.ReadFile(argsFile); !strings.Contains(string(args), "--prefix "+filepath.Join(root, ".cache", "firebase")) || !strings.Contains(out.String(), want) {
		t.Errorf("npm %q, output %q", args, out.String())
	}
	os.Remove(argsFile)
	out.Reset()
	if err := run(t.Context(), []string{"-root", root, "install"}, &out, &errOut); err != nil || strings.Contains(out.String(), "one-time install") {
		t.Errorf("second install = %v, %q", err, out.String())
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("npm ran again")
	}
}
