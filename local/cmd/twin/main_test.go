package main

import (
	"bytes"
	"fmt"
	"github.com/gatehouse/gatehouse/local/internal/syncbuf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/twin"
)

// These tests run the real twin binary (backend, Firebase Auth emulator,
// gateway) and stop it every way a user can: whatever stops it, nothing it
// started may stay behind holding a port.

var (
	buildOnce sync.Once
	twinBin   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("npm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is missing: the twin needs the Firebase Auth emulator (make emulator installs it)")
		}
		t.Skip("npm is missing: the twin needs the Firebase Auth emulator")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "twin-test-")
		if err != nil {
			buildErr = err
			return
		}
		twinBin = filepath.Join(dir, "twin")
		out, err := exec.Command("go", "build", "-o", twinBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build twin: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return twinBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if twinBin != "" {
		os.RemoveAll(filepath.Dir(twinBin))
	}
	os.Exit(code)
}

type ports struct{ gateway, backend, auth int }

func freePorts(t *testing.T) ports {
	t.Helper()
	var p [3]int
	for i := range p {
		n, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p[i] = n
	}
	return ports{p[0], p[1], p[2]}
}

func (p ports) args() string {
	return fmt.Sprintf("--gateway-port %d --backend-port %d --auth-port %d --web-port 0 --auth-data none", p.gateway, p.backend, p.auth)
}

// start runs shell (which starts the twin somehow) in its own process group
// and waits for the twin's banner.
func start(t *testing.T, shell string) (*exec.Cmd, *syncbuf.Buffer, chan error) {
	t.Helper()
	cmd := exec.Command("bash", "-c", shell)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), "Press Ctrl-C to stop.") {
		select {
		case err := <-done:
			t.Fatalf("ended before the banner: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 3 minutes:\n%s", out.String())
		}
	}
	return cmd, &out, done
}

// newest is the pid of the most recently started process whose command
// line (arguments joined by spaces) matches pattern, read from /proc.
func newest(t *testing.T, pattern string) int {
	t.Helper()
	re := regexp.MustCompile(pattern)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	pid, started := 0, int64(-1)
	for _, d := range dirs {
		cmdline, err := os.ReadFile(d + "/cmdline")
		if err != nil || !re.Match(bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte{' '})) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// Field 22 (starttime) counts from the one after "(comm)".
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 20 {
			continue
		}
		st, _ := strconv.ParseInt(f[19], 10, 64)
		if st > started {
			started = st
			pid, _ = strconv.Atoi(filepath.Base(d))
		}
	}
	if pid == 0 {
		t.Fatalf("no process matches %q", pattern)
	}
	return pid
}

// assertAllGone waits for every port of the twin to be free again: the
// gateway, the backends (more: the ports of backends after the first) and
// the emulator are all gone.
func assertAllGone(t *testing.T, p ports, out *syncbuf.Buffer, more ...int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, port := range append([]int{p.gateway, p.backend, p.auth}, more...) {
		for !testenv.PortFree(port) {
			if time.Now().After(deadline) {
				t.Fatalf("port %d still held 20 s after the twin was stopped: an orphan is left\n%s", port, out.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func waitDone(t *testing.T, done chan error, out *syncbuf.Buffer) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after the signal\n%s", out.String())
		return nil
	}
}

func TestStopsEveryWay(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	// The same recipe shape as `make local`: build elsewhere, then exec.
	makefile := filepath.Join(dir, "Makefile")
	if err := os.WriteFile(makefile, []byte("local:\n\t@exec $(TWIN) $(ARGS)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		viaMake bool
		stop    func(t *testing.T, cmd *exec.Cmd)
		// wantClean: the starting process exits 0 with nothing on its output
		// that reads as a failure.
		wantClean bool
		// stackFile, when set, is the stack file the twin runs; its banner
		// must show every backend's calls (bannerCalls).
		stackFile string
	}{
		{"SIGTERM to the twin (two backends)", false, func(t *testing.T, _ *exec.Cmd) {
			_ = syscall.Kill(newest(t, "^"+regexp.QuoteMeta(bin)+" "), syscall.SIGTERM)
		}, true, "Pulumi.v2.yaml"},
		{"SIGINT to the twin", false, func(t *testing.T, _ *exec.Cmd) {
			_ = syscall.Kill(newest(t, "^"+regexp.QuoteMeta(bin)+" "), syscall.SIGINT)
		}, true, ""},
		{"SIGHUP (terminal closed)", false, func(t *testing.T, _ *exec.Cmd) {
			_ = syscall.Kill(newest(t, "^"+regexp.QuoteMeta(bin)+" "), syscall.SIGHUP)
		}, true, ""},
		{"its parent killed", false, func(t *testing.T, cmd *exec.Cmd) { _ = cmd.Process.Kill() }, false, ""},
		{"Ctrl-C under make (INT to the group)", true, func(t *testing.T, cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }, false, ""},
		{"kill -INT <make pid>", true, func(t *testing.T, _ *exec.Cmd) {
			_ = syscall.Kill(newest(t, "make --no-print-directory -f "+regexp.QuoteMeta(makefile)), syscall.SIGINT)
		}, false, ""},
		{"kill -TERM <make pid>", true, func(t *testing.T, _ *exec.Cmd) {
			_ = syscall.Kill(newest(t, "make --no-print-directory -f "+regexp.QuoteMeta(makefile)), syscall.SIGTERM)
		}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := freePorts(t)
			args := p.args()
			if tt.stackFile != "" {
				args += " --stack-file " + filepath.Join(root, tt.stackFile)
			}
			// Without make, bash is the parent and waits (no exec), as a shell does.
			shell := bin + " " + args + "; exit $?"
			if tt.viaMake {
				shell = fmt.Sprintf("exec make --no-print-directory -f %s local TWIN=%s ARGS='%s'", makefile, bin, args)
			}
			cmd, out, done := start(t, shell)
			// The banner tells the truth: loopback backend, the installed CLI.
			for _, want := range []string{fmt.Sprintf("v1        http://127.0.0.1:%d   (loopback only", p.backend), "gatehouse signup --email", "accounts are forgotten", "gatehouse claims set you@example.com '{\"roles\":[\"admin\"]}'"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("banner lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "go run") {
				t.Errorf("banner still runs the CLI with go run:\n%s", out.String())
			}
			// The second backend's port, from the banner, must be freed too.
			var more []int
			if tt.stackFile != "" {
				bannerCalls(t, out.String(), fmt.Sprintf("http://127.0.0.1:%d", p.gateway))
				m := regexp.MustCompile(`(?m)^  notes +http://127\.0\.0\.1:(\d+) `).FindStringSubmatch(out.String())
				if m == nil {
					t.Fatalf("the banner names no port for notes:\n%s", out.String())
				}
				n, _ := strconv.Atoi(m[1])
				more = append(more, n)
			}
			tt.stop(t, cmd)
			err := waitDone(t, done, out)
			if tt.wantClean && err != nil {
				t.Errorf("exit = %v, want 0\n%s", err, out.String())
			}
			if strings.Contains(out.String(), "Error 1") || strings.Contains(out.String(), "twin:") {
				t.Errorf("output reads as a failure:\n%s", out.String())
			}
			assertAllGone(t, p, out, more...)
		})
	}
}

// Ctrl-C on a real terminal (a pty from script(1)) under the same make
// recipe: the twin has the foreground, so make and the twin both exit 0 and
// nothing reads as an interrupt or an error.
func TestCtrlCOnTerminalExitsZero(t *testing.T) {
	bin := binary(t)
	script, err := exec.LookPath("script") // util-linux (Debian's essential bsdutils)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no script(1) to make a terminal")
		}
		t.Skip("no script(1) to make a terminal")
	}
	dir := t.TempDir()
	makefile := filepath.Join(dir, "Makefile")
	if err := os.WriteFile(makefile, []byte("local:\n\t@GATEHOUSE_TWIN_FOREGROUND=1 exec $(TWIN) $(ARGS)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t)
	inner := fmt.Sprintf("make --no-print-directory -f %s local TWIN=%s ARGS='%s'; echo EXIT=$?", makefile, bin, p.args())
	cmd := exec.Command(script, "-qfec", inner, "/dev/null")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	deadline := time.Now().Add(3 * time.Minute)
	for !strings.Contains(out.String(), "Press Ctrl-C to stop.") {
		if time.Now().After(deadline) {
			t.Fatalf("no banner:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := stdin.Write([]byte{3}); err != nil { // Ctrl-C, through the terminal
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "EXIT=") {
		if time.Now().After(deadline) {
			t.Fatalf("make did not end after Ctrl-C:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = stdin.Close()
	got := out.String()
	if !strings.Contains(got, "EXIT=0") || strings.Contains(got, "Interrupt") || strings.Contains(got, "Error") {
		t.Errorf("Ctrl-C on a terminal: want make to exit 0 with no interrupt or error line, got:\n%s", got)
	}
	assertAllGone(t, p, &out)
}

// TestStackBackends: the twin runs the backends a stack file deploys, /v1
// included, checked by the rules a deployment applies (package stack): an
// entry `make plan` refuses is refused here too, as is a missing file; an
// entry the twin cannot build is refused with the reason.
func TestStackBackends(t *testing.T) {
	root := "../../.."
	_, got, err := stackBackends(root+"/Pulumi.v2.yaml", root)
	if err != nil || len(got) != 2 || got[0].Name != "v1" || twin.Package(got[0].Backend) != "./cmd/hello" ||
		got[1].Name != "notes" || twin.Package(got[1].Backend) != "./cmd/notes" || got[1].Spec != "service/notes/openapi.yaml" || len(got[1].Fragment) == 0 {
		t.Errorf("Pulumi.v2.yaml backends = %+v, %v", got, err)
	}
	if _, got, err := stackBackends(root+"/Pulumi.dev.yaml", root); err != nil || len(got) != 1 || got[0].Name != "v1" {
		t.Errorf("Pulumi.dev.yaml backends = %+v, %v, want /v1's", got, err)
	}
	if _, got, err := stackBackends("", root); err != nil || len(got) != 1 || got[0].Name != "v1" {
		t.Errorf("no stack file: %+v, %v, want the default stack's /v1", got, err)
	}
	if _, _, err := stackBackends(filepath.Join(t.TempDir(), "Pulumi.V2.yaml"), root); err == nil || !strings.Contains(err.Error(), "Pulumi.V2.yaml") {
		t.Errorf("a misspelt stack (missing file) = %v, want an error naming it", err)
	}
	dir := t.TempDir()
	entry := "config:\n  gcp:project: my-gcp-project-id\n  gcp:region: europe-west1\n  gatehouse:backends:\n    - {name: x, spec: service/notes/openapi.yaml, paths: [/v2/]%s}\n"
	for name, tt := range map[string]struct{ extra, want string }{
		"image":                  {", image: europe-docker.pkg.dev/p/r/i:1, command: ./cmd/x", "gatehouse:backends[0].image: an existing image takes no"},
		"image alone":            {"", ""}, // valid: checked below with the image only
		"context":                {", context: other, command: ./cmd/notes", "the twin runs Go packages of service/"},
		"toolexec":               {", command: -toolexec=/bin/sh", "gatehouse:backends[0].command"},
		"max instances 0":        {", maxInstances: 0", "gatehouse:backends[0].maxInstances"},
		"no paths":               {"", ""},
		"paths outside its spec": {"", ""},
	} {
		content := fmt.Sprintf(entry, tt.extra)
		switch name {
		case "image alone":
			content = strings.Replace(content, "spec:", "image: europe-docker.pkg.dev/p/r/i:1, spec:", 1)
			tt.want = "runs an existing image, which the twin cannot build"
		case "no paths":
			content = strings.Replace(content, ", paths: [/v2/]", "", 1)
			tt.want = "gatehouse:backends[0].paths: must list"
		case "paths outside its spec":
			content = strings.Replace(content, "[/v2/]", "[/v3/]", 1)
			tt.want = "gatehouse:backends[0].paths: service/notes/openapi.yaml declares /v2/notes, outside /v3/"
		}
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := stackBackends(file, root); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, tt.want)
		}
	}
}

// bannerCalls: the banner prints every backend's example calls, derived
// from its fragment: for Pulumi.v2.yaml, the notes backend's calls too, and
// its JSON POST also as curl with the Content-Type a JSON operation needs.
func bannerCalls(t *testing.T, banner, gateway string) {
	t.Helper()
	for _, want := range []string{
		"# v1 (service/hello/openapi.yaml)\n  gatehouse call /v1/admin/hello   # 403 without the role admin\n  gatehouse call /v1/hello\n  gatehouse call /v1/me\n",
		"# notes (service/notes/openapi.yaml)\n  gatehouse call /v2/admin/stats   # 403 without the role admin\n  gatehouse call /v2/notes\n  gatehouse call POST /v2/notes -d '{\"text\":\"buy milk\"}'\n",
		"gatehouse claims set you@example.com '{\"roles\":[\"admin\"]}'\n  gatehouse token --refresh && gatehouse call /v1/admin/hello\n",
		`curl -H "Authorization: Bearer $(gatehouse token)" -H 'Content-Type: application/json' -d '{"text":"buy milk"}' ` + gateway + "/v2/notes\n",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
}
