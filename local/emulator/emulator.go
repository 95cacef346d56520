// Package emulator installs and runs the Firebase Auth emulator (npm package
// firebase-tools) on loopback, for the local twin and the tests.
package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
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
// version with npm when it is missing or another version (see Installer).
func Install(ctx context.Context, cacheDir string, progress, log io.Writer) (string, error) {
	return (&Installer{Dir: cacheDir, Progress: progress, Log: log}).Install(ctx)
}

// Installer installs firebase-tools with npm.
type Installer struct {
	Dir string // the install prefix, CacheDir
	// Progress hears, up front, what is installed, where, and roughly how
	// long it takes, then how many packages are in place every Every; Log
	// gets npm's own output (errors only).
	Progress, Log io.Writer
	Every         time.Duration // 5s when zero
	NPM           string        // npm on PATH when empty
}

// npmArgs install firebase-tools as plain files:
//   - --ignore-scripts: no dependency runs an install script. The Auth
//     emulator needs none of them (protobufjs' postinstall only checks a
//     version scheme; re2's compiles a native module, below), and with none
//     run, npm's "install scripts not yet covered by allowScripts … approve"
//     notice has nothing to ask for;
//   - --omit=optional: re2 is an optional dependency of superstatic (Firebase
//     Hosting's regex rewrites), which falls back without it; the Auth
//     emulator never loads it. Building it (node-gyp, C++) took over five
//     minutes of silence on two cores. The other optional packages (colors
//     for tables, a parseArgs polyfill, pg-cloudflare) have fallbacks too;
//   - --loglevel=error: npm's warnings are not progress; errors go to Log
//     and the tail of them into the returned error.
func npmArgs(dir string) []string {
	return []string{"install", "--prefix", dir, "--no-audit", "--no-fund", "--loglevel=error",
		"--ignore-scripts", "--omit=optional", "firebase-tools@" + FirebaseToolsVersion}
}

// Install returns the firebase CLI, installing it when needed. Concurrent
// installs into one Dir (two `make` runs, test packages run in parallel)
// take turns: the second finds the first's result.
func (in *Installer) Install(ctx context.Context) (string, error) {
	if bin, ok := installed(in.Dir); ok {
		return bin, nil
	}
	progress, log, every := in.Progress, in.Log, in.Every
	if progress == nil {
		progress = io.Discard
	}
	if log == nil {
		log = io.Discard
	}
	if every == 0 {
		every = 5 * time.Second
	}
	npm := in.NPM
	if npm == "" {
		var err error
		if npm, err = exec.LookPath("npm"); err != nil {
			return "", ErrNoNPM
		}
	}
	if err := os.MkdirAll(in.Dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lock(ctx, filepath.Join(in.Dir, ".install.lock"), func() {
		fmt.Fprintf(progress, "waiting for another install of the Firebase Auth emulator into %s\n", in.Dir)
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if bin, ok := installed(in.Dir); ok {
		return bin, nil
	}
	bin := filepath.Join(in.Dir, "node_modules", ".bin", "firebase")
	fmt.Fprintf(progress, "one-time install: the Firebase Auth emulator, npm firebase-tools@%s (about %d packages),\n"+
		"into %s. Plain files only: no install scripts run and nothing\n"+
		"is compiled (npm --ignore-scripts --omit=optional). Later runs start at once.\n", FirebaseToolsVersion, expectedPackages, in.Dir)
	tail := &tailWriter{w: log, keep: 10}
	cmd := exec.CommandContext(ctx, npm, npmArgs(in.Dir)...)
	cmd.Stdout, cmd.Stderr = tail, tail
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("npm install firebase-tools@%s: %w", FirebaseToolsVersion, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			took := time.Since(start).Round(time.Second)
			if err != nil {
				return "", fmt.Errorf("npm install firebase-tools@%s failed after %s: %w: %s", FirebaseToolsVersion, took, err, tail.String())
			}
			if _, err := os.Stat(bin); err != nil {
				return "", fmt.Errorf("npm install firebase-tools@%s: no %s afterwards", FirebaseToolsVersion, bin)
			}
			fmt.Fprintf(progress, "  installed %d packages in %s\n", CountPackages(in.Dir), took)
			return bin, nil
		case <-tick.C:
			if n := CountPackages(in.Dir); n == 0 {
				fmt.Fprintf(progress, "  ... %s: npm is resolving and fetching the packages\n", time.Since(start).Round(time.Second))
			} else {
				fmt.Fprintf(progress, "  ... %s: %d of about %d packages installed\n", time.Since(start).Round(time.Second), n, expectedPackages)
			}
		}
	}
}

// installed returns the firebase CLI in dir if the pinned version is there.
func installed(dir string) (string, bool) {
	bin := filepath.Join(dir, "node_modules", ".bin", "firebase")
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", "firebase-tools", "package.json"))
	if err != nil {
		return "", false
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil || p.Version != FirebaseToolsVersion {
		return "", false
	}
	if _, err := os.Stat(bin); err != nil {
		return "", false
	}
	return bin, true
}

// lock takes an exclusive lock on path, calling waiting once if another
// process holds it; it gives up when ctx ends.
func lock(ctx context.Context, path string, waiting func()) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	for told := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// expectedPackages is about how many packages firebase-tools@FirebaseToolsVersion
// installs without its optional dependencies (npm said "added 625 packages"
// with them).
const expectedPackages = 600

// CountPackages counts the packages unpacked under dir/node_modules, nested
// ones included (as npm's "added N packages" counts them): the folders,
// scoped (@scope/name) or not, that hold their package.json. (npm creates
// every folder first and fills them as it extracts, so empty ones are
// still to come.)
func CountPackages(dir string) int {
	n := 0
	var walk func(nm string)
	visit := func(pkg string) {
		if _, err := os.Stat(filepath.Join(pkg, "package.json")); err == nil {
			n++
		}
		walk(filepath.Join(pkg, "node_modules"))
	}
	walk = func(nm string) {
		entries, _ := os.ReadDir(nm)
		for _, e := range entries {
			if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			if !strings.HasPrefix(e.Name(), "@") {
				visit(filepath.Join(nm, e.Name()))
				continue
			}
			scoped, _ := os.ReadDir(filepath.Join(nm, e.Name())) // a scope: its folders are packages
			for _, s := range scoped {
				if s.IsDir() {
					visit(filepath.Join(nm, e.Name(), s.Name()))
				}
			}
		}
	}
	walk(filepath.Join(dir, "node_modules"))
	return n
}

// tailWriter passes output on and keeps its last lines, for an error.
type tailWriter struct {
	w     io.Writer
	keep  int
	mu    sync.Mutex
	lines []string
	part  string
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.part += string(p)
	for {
		i := strings.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(t.part[:i]); line != "" {
			t.lines = append(t.lines, line)
			if len(t.lines) > t.keep {
				t.lines = t.lines[1:]
			}
		}
		t.part = t.part[i+1:]
	}
	t.mu.Unlock()
	return t.w.Write(p)
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := t.lines
	if p := strings.TrimSpace(t.part); p != "" {
		lines = append(lines, p)
	}
	if len(lines) == 0 {
		return "npm printed nothing"
	}
	return strings.Join(lines, "; ")
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
	// DisableUserSignup refuses end users' sign-up as Identity Platform
	// does with client.permissions.disabledUserSignup (gatehouse:allowSignUp
	// false): 400 ADMIN_ONLY_OPERATION. An administrator's request (Bearer
	// owner) still creates accounts. See signup.go.
	DisableUserSignup bool
}

// Emulator is a running Firebase Auth emulator.
type Emulator struct {
	Host    string // host:port, the FIREBASE_AUTH_EMULATOR_HOST value
	Project string

	cmd   *exec.Cmd
	done  chan error
	dir   string
	front *http.Server // signUpGate, with DisableUserSignup

	stopOnce sync.Once // Stop ends it once; later calls return at once
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
	// With sign-up disabled, clients reach the emulator through signUpGate
	// on o.Port (frontPort); the emulator itself listens on a port of its own.
	frontPort := 0
	if o.DisableUserSignup {
		frontPort = o.Port
		p, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		o.Port = p
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
				if frontPort == 0 {
					return e, nil
				}
				ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", frontPort))
				if err != nil {
					e.Stop()
					return nil, fmt.Errorf("auth emulator port %d is taken: free it or pick another: %w", frontPort, err)
				}
				e.front = serveGate(ln, e.Host)
				e.Host = ln.Addr().String()
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

// Stop ends the emulator and everything it started (once: calling it
// again does nothing).
func (e *Emulator) Stop() error {
	e.stopOnce.Do(e.stop)
	return nil
}

func (e *Emulator) stop() {
	defer os.RemoveAll(e.dir)
	if e.front != nil {
		_ = e.front.Close()
	}
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
