package emulator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeNPM writes an npm that records its arguments, unpacks packages one by
// one (top-level, scoped and nested, as npm lays them out), prints what
// npm 11 prints about install scripts, and exits with code.
func fakeNPM(t *testing.T, code int) (npm, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	script := `#!/bin/sh
echo "$@" > ` + argsFile + `
prefix=$3
nm=$prefix/node_modules
for p in a b c @scope/d e/node_modules/f; do mkdir -p $nm/$p; sleep 0.05; echo '{}' > $nm/$p/package.json; done
mkdir -p $nm/not-yet-extracted
echo "npm warn install-scripts 1 packages have install scripts not yet covered by allowScripts:"
echo "npm warn install-scripts Run \"npm install-scripts approve <pkg>\" to allow."
echo "npm error something broke" >&2
`
	if code == 0 {
		script += `mkdir -p $nm/.bin $nm/firebase-tools && touch $nm/.bin/firebase
echo '{"version":"` + FirebaseToolsVersion + `"}' > $nm/firebase-tools/package.json
`
	}
	script += fmt.Sprintf("exit %d\n", code)
	npm = filepath.Join(dir, "npm")
	if err := os.WriteFile(npm, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return npm, argsFile
}

// The first install says what it does and how far it got, in installed
// packages; nothing in it reads like a step left for the user; npm is told
// to run no install scripts and to leave out the optional native module
// (re2) whose compilation went silent for minutes.
func TestInstallProgress(t *testing.T) {
	npm, argsFile := fakeNPM(t, 0)
	dir := filepath.Join(t.TempDir(), "firebase")
	var progress, log bytes.Buffer
	bin, err := (&Installer{Dir: dir, Progress: &progress, Log: &log, Every: 60 * time.Millisecond, NPM: npm}).Install(t.Context())
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if bin != filepath.Join(dir, "node_modules", ".bin", "firebase") {
		t.Errorf("bin = %s", bin)
	}
	args, _ := os.ReadFile(argsFile)
	for _, want := range []string{"install --prefix " + dir, "--ignore-scripts", "--omit=optional", "--loglevel=error", "firebase-tools@" + FirebaseToolsVersion} {
		if !strings.Contains(string(args), want) {
			t.Errorf("npm args %q lack %q", args, want)
		}
	}
	out := progress.String()
	for _, want := range []string{"one-time install: the Firebase Auth emulator", "no install scripts run", "(npm --ignore-scripts --omit=optional)", "packages installed", "installed 6 packages in"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"approve", "allowScripts", "fetched"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("progress shows %q:\n%s", unwanted, out)
		}
	}
	if !strings.Contains(log.String(), "npm error something broke") {
		t.Errorf("npm's own output did not reach the log: %q", log.String())
	}

	// Installed: the next call returns at once, without npm.
	if err := os.Remove(argsFile); err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	if _, err := (&Installer{Dir: dir, Progress: &progress, NPM: npm}).Install(t.Context()); err != nil || progress.Len() != 0 {
		t.Errorf("second Install = %v, progress %q", err, progress.String())
	}
	if _, err := os.Stat(argsFile); err == nil {
		t.Error("npm ran again")
	}
}

// A failed install says what npm said last.
func TestInstallFailureShowsNPMError(t *testing.T) {
	npm, _ := fakeNPM(t, 1)
	_, err := (&Installer{Dir: t.TempDir(), NPM: npm, Every: time.Hour}).Install(t.Context())
	if err == nil || !strings.Contains(err.Error(), "npm error something broke") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("Install = %v, want npm's last words", err)
	}
}

func TestCountPackages(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a", "b", "b/node_modules/c", "b/node_modules/@s/d", "@scope/e", "@scope/f", "@scope/f/node_modules/g"} {
		if err := os.MkdirAll(filepath.Join(dir, "node_modules", p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "node_modules", p, "package.json"), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not packages (yet): npm's own folders, and folders not extracted.
	for _, p := range []string{".bin", ".package-lock.json", "h", "@scope/i"} {
		if err := os.MkdirAll(filepath.Join(dir, "node_modules", p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if n := CountPackages(dir); n != 7 {
		t.Errorf("CountPackages = %d, want 7 (a b c d e f g)", n)
	}
}

// Two installs into one folder at once (two make runs, test packages in
// parallel) take turns: npm runs once.
func TestInstallConcurrent(t *testing.T) {
	npm, argsFile := fakeNPM(t, 0)
	counting := filepath.Join(filepath.Dir(npm), "counting-npm")
	script := "#!/bin/sh\necho run >> " + argsFile + ".runs\nexec " + npm + " \"$@\"\n"
	if err := os.WriteFile(counting, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	errs := make(chan error, 2)
	var progress [2]bytes.Buffer
	for i := range 2 {
		go func() {
			_, err := (&Installer{Dir: dir, Progress: &progress[i], NPM: counting, Every: time.Hour}).Install(t.Context())
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	runs, _ := os.ReadFile(argsFile + ".runs")
	if n := strings.Count(string(runs), "run"); n != 1 {
		t.Errorf("npm ran %d times, want once\n%s\n%s", n, progress[0].String(), progress[1].String())
	}
}
