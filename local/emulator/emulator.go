// Package emulator installs and runs the Firebase Auth emulator (npm package
// firebase-tools) on loopback, for the local twin and the tests.
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
)

// FirebaseToolsVersion is the pinned firebase-tools release.
const FirebaseToolsVersion = "15.34.2"

// DefaultProject is the emulator's project. The "demo-" prefix tells
// firebase-tools that no real project is involved, so it never reaches out.
const DefaultProject = "demo-gatehouse"

// ErrNoNPM means npm is not installed, so firebase-tools cannot be either.
var ErrNoNPM = errors.New("npm not found on PATH: install Node.js (with npm) to run the Firebase Auth emulator")

// CacheDir is where firebase-tools is installed: <repo>/.cache/firebase.
func CacheDir(repoRoot string) string { return filepath.Join(testenv.CacheDir(repoRoot), "firebase") }

// Install returns the firebase CLI in cacheDir, installing the pinned
// version with npm when it is missing or another version. progress hears,
// up front, that this is a one-time install and how long it takes, then how
// far it got every few seconds; log gets npm's own output.
func Install(ctx context.Context, cacheDir string, progress, log io.Writer) (string, error) {
	bin := filepath.Join(cacheDir, "node_modules", ".bin", "firebase")
	pkg := filepath.Join(cacheDir, "node_modules", "firebase-tools", "package.json")
	if b, err := os.ReadFile(pkg); err == nil {
		var p struct{ Version string }
		if json.Unmarshal(b, &p) == nil && p.Version == FirebaseToolsVersion {
			if _, err := os.Stat(bin); err == nil {
				return bin, nil
			}
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", ErrNoNPM
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	fmt.Fprintf(progress, "one-time install: the Firebase Auth emulator (npm firebase-tools@%s, about 625 packages,\n"+
		"1-3 minutes) into %s; later runs start at once\n", FirebaseToolsVersion, cacheDir)
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", cacheDir, "--no-audit", "--no-fund",
		"--loglevel=error", "firebase-tools@"+FirebaseToolsVersion)
	cmd.Stdout, cmd.Stderr = log, log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("npm install firebase-tools@%s: %w", FirebaseToolsVersion, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return "", fmt.Errorf("npm install firebase-tools@%s: %w", FirebaseToolsVersion, err)
			}
			fmt.Fprintf(progress, "  installed in %s\n", time.Since(start).Round(time.Second))
			return bin, nil
		case <-tick.C:
			fmt.Fprintf(progress, "  ... %s, %d packages so far\n", time.Since(start).Round(time.Second), countPackages(cacheDir))
		}
	}
}

// countPackages counts the packages npm has unpacked so far.
func countPackages(cacheDir string) int {
	n := 0
	entries, _ := os.ReadDir(filepath.Join(cacheDir, "node_modules"))
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if strings.HasPrefix(e.Name(), "@") { // a scope: count its packages
			scoped, _ := os.ReadDir(filepath.Join(cacheDir, "node_modules", e.Name()))
			n += len(scoped)
			continue
		}
		n++
	}
	return n
}

// Options for Start.
type Options struct {
	Bin     string // firebase CLI
	Project string // DefaultProject when empty
	Port    int    // auth emulator port; a free one when zero
	Log     io.Writer
	// DataDir, when set, keeps the emulator's accounts across restarts: they
	// are imported from it at start and exported to it when Stop ends the
	// emulator (firebase-tools' --import and --export-on-exit).
	DataDir string
}

// Emulator is a running Firebase Auth emulator.
type Emulator struct {
	Host    string // host:port, the FIREBASE_AUTH_EMULATOR_HOST value
	Project string

	cmd  *exec.Cmd
	done chan error
	dir  string
}

// Start runs the auth emulator and waits until it answers.
func Start(ctx context.Context, o Options) (*Emulator, error) {
	if o.Project == "" {
		o.Project = DefaultProject
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Port == 0 {
		p, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		o.Port = p
	} else if !testenv.PortFree(o.Port) {
		return nil, fmt.Errorf("auth emulator port %d is taken: free it or pick another", o.Port)
	}
	hub, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	logging, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gatehouse-emulator-")
	if err != nil {
		return nil, err
	}
	conf := map[string]any{"emulators": map[string]any{
		"auth":              map[string]any{"host": "127.0.0.1", "port": o.Port},
		"hub":               map[string]any{"host": "127.0.0.1", "port": hub},
		"logging":           map[string]any{"host": "127.0.0.1", "port": logging},
		"ui":                map[string]any{"enabled": false},
		"singleProjectMode": true,
	}}
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(dir, "firebase.json"), b, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{"emulators:start", "--only", "auth", "--project", o.Project, "--config", filepath.Join(dir, "firebase.json")}
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("emulator data dir: %w", err)
		}
		if _, err := os.Stat(filepath.Join(o.DataDir, "firebase-export-metadata.json")); err == nil {
			args = append(args, "--import", o.DataDir)
		}
		args = append(args, "--export-on-exit", o.DataDir)
	}
	cmd := exec.Command(o.Bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "FIREBASE_CLI_DISABLE_UPDATE_CHECK=true", "CI=true",
		"HOME="+dir, // keeps firebase-tools' config and logs out of the user's home
		// firebase-tools finds "the" hub of a project through a file in the
		// temp dir: with a shared one, --export-on-exit of one emulator can
		// export another's accounts (seen with two demo-gatehouse emulators).
		"TMPDIR="+dir)
	// firebase-tools serves HTTP before it has imported DataDir's accounts;
	// "All emulators ready" is printed after the import.
	ready := &readyWriter{w: o.Log, ready: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = ready, ready
	// Its own process group, so Stop can end firebase-tools and whatever it
	// starts; and it ends if the process that started it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start firebase emulator: %w", err)
	}
	e := &Emulator{Host: fmt.Sprintf("127.0.0.1:%d", o.Port), Project: o.Project, cmd: cmd, done: make(chan error, 1), dir: dir}
	go func() { e.done <- cmd.Wait() }()

	deadline := time.Now().Add(90 * time.Second)
	for {
		if res, err := http.Get("http://" + e.Host + "/"); err == nil {
			res.Body.Close()
			select {
			case <-ready.ready:
				return e, nil
			default:
			}
		}
		select {
		case err := <-e.done:
			e.done <- err
			os.RemoveAll(dir)
			return nil, fmt.Errorf("firebase emulator exited before it was ready: %v", err)
		case <-ctx.Done():
			e.Stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.Stop()
			return nil, errors.New("firebase emulator not ready after 90s")
		}
	}
}

// Reset deletes every account in the emulator.
func (e *Emulator) Reset() error {
	req, _ := http.NewRequest(http.MethodDelete, "http://"+e.Host+"/emulator/v1/projects/"+e.Project+"/accounts", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("reset emulator: %s", res.Status)
	}
	return nil
}

// Stop ends the emulator and everything it started.
func (e *Emulator) Stop() error {
	defer os.RemoveAll(e.dir)
	pgid := -e.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGINT)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-e.done
	}
	// firebase-tools may leave a child behind; the group kill catches it.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	return nil
}

// readyWriter passes output on and closes ready once it has seen
// firebase-tools' "All emulators ready" line.
type readyWriter struct {
	w     io.Writer
	mu    sync.Mutex
	tail  []byte
	ready chan struct{}
	seen  bool
}

const readyLine = "All emulators ready"

func (r *readyWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	if !r.seen {
		r.tail = append(r.tail, p...)
		if strings.Contains(string(r.tail), readyLine) {
			r.seen = true
			close(r.ready)
			r.tail = nil
		} else if len(r.tail) > len(readyLine) {
			r.tail = r.tail[len(r.tail)-len(readyLine):]
		}
	}
	r.mu.Unlock()
	return r.w.Write(p)
}
