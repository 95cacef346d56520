package image

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run local/image/docker.sh itself: the script every Docker
// target goes through (make image-test, bench, plan). They run under
// `make image-test`, which may install packages and start daemons.

const script = "./docker.sh"

// isStatic reports whether path is an executable needing no dynamic loader:
// the Go stand-in image has no libc, so a dynamic busybox cannot run there.
func isStatic(t *testing.T, path string) bool {
	t.Helper()
	out, _ := exec.Command("ldd", path).CombinedOutput()
	return strings.Contains(string(out), "not a dynamic executable")
}

func TestDockerScriptBusybox(t *testing.T) {
	imageEnv(t)
	missing := filepath.Join(t.TempDir(), "no-busybox-here")
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, given string
		wantGiven   bool // the given path is good and returned as is
	}{
		// A fresh machine: no busybox at all. The script installs busybox-static.
		{"missing", missing, false},
		// A dynamically linked binary (as Debian's plain busybox is) is refused.
		{"dynamic", sh, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(script, "busybox")
			cmd.Env = append(os.Environ(), "GATEHOUSE_BUSYBOX="+tt.given)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("docker.sh busybox: %v\n%s", err, stderr.String())
			}
			got := strings.TrimSpace(string(out))
			if (got == tt.given) != tt.wantGiven {
				t.Errorf("docker.sh busybox with %s = %q", tt.given, got)
			}
			if !isStatic(t, got) {
				t.Errorf("%s is not a static executable", got)
			}
			// What it returns is accepted as given.
			again := exec.Command(script, "busybox")
			again.Env = append(os.Environ(), "GATEHOUSE_BUSYBOX="+got)
			if out, err := again.Output(); err != nil || strings.TrimSpace(string(out)) != got {
				t.Errorf("docker.sh busybox with %s = %q, %v; want it back", got, out, err)
			}
		})
	}
}

// ownDaemon runs `docker.sh daemon CMD` with no usable DOCKER_HOST and a
// cache of its own, as a separate checkout would.
func ownDaemon(t *testing.T, cache string, shell string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(script, "daemon", "sh", "-c", shell)
	env := []string{"GATEHOUSE_DOCKER_CACHE=" + cache}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOCKER_HOST=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	return cmd
}

// report is what CMD prints about the daemon it was given: host and pid.
const report = `echo "$DOCKER_HOST $(cat "$(dirname "${DOCKER_HOST#unix://}")/dockerd.pid")"; docker info --format '{{.ID}}' >/dev/null`

type daemonRun struct {
	host, dir string
	pid       int
}

func parseReport(t *testing.T, out string) daemonRun {
	t.Helper()
	var r daemonRun
	if _, err := fmt.Sscanf(strings.TrimSpace(strings.SplitN(out, "\n", 2)[0]), "%s %d", &r.host, &r.pid); err != nil {
		t.Fatalf("report %q: %v", out, err)
	}
	if !strings.HasPrefix(r.host, "unix:///tmp/gatehouse-docker.") {
		t.Fatalf("DOCKER_HOST = %q, want a daemon of this run (is a machine daemon at /var/run/docker.sock?)", r.host)
	}
	r.dir = filepath.Dir(strings.TrimPrefix(r.host, "unix://"))
	return r
}

// assertGone checks the run left nothing: no daemon, no run dir, no mounts.
func assertGone(t *testing.T, r daemonRun) {
	t.Helper()
	if err := syscall.Kill(r.pid, 0); err == nil {
		t.Errorf("dockerd %d still runs after the script ended", r.pid)
	}
	if _, err := os.Stat(r.dir); !os.IsNotExist(err) {
		t.Errorf("run dir %s left behind (%v)", r.dir, err)
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), r.dir) {
		t.Errorf("mounts under %s left behind", r.dir)
	}
}

func TestDockerScriptDaemon(t *testing.T) {
	imageEnv(t)
	if exec.Command("docker", "-H", "unix:///var/run/docker.sock", "info").Run() == nil {
		t.Skip("this machine runs its own Docker daemon, which docker.sh uses instead of starting one")
	}

	t.Run("failing command: its exit code, nothing left", func(t *testing.T) {
		out, err := ownDaemon(t, cacheDir(t), report+"; exit 3").Output()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 3 {
			t.Fatalf("exit = %v, want 3\n%s", err, stderrOf(err))
		}
		assertGone(t, parseReport(t, string(out)))
	})

	t.Run("two checkouts at once: two daemons, each stops only its own", func(t *testing.T) {
		// The first run holds its daemon until the file "release" appears;
		// the second runs to completion meanwhile, with a daemon of its own.
		sync := t.TempDir()
		first := ownDaemon(t, cacheDir(t), report+`; while [ ! -e `+sync+`/release ]; do sleep 0.1; done; docker info --format '{{.ID}}' >/dev/null`)
		var firstOut bytes.Buffer
		first.Stdout = &firstOut
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(firstOut.String(), "\n") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		out, err := ownDaemon(t, cacheDir(t), report).Output()
		if err != nil {
			t.Fatalf("second run: %v\n%s", err, stderrOf(err))
		}
		second := parseReport(t, string(out))
		assertGone(t, second)
		if err := os.WriteFile(sync+"/release", nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// The first run's daemon outlived the second run and still answers.
		if err := first.Wait(); err != nil {
			t.Fatalf("first run failed after the second ended: %v", err)
		}
		r := parseReport(t, firstOut.String())
		if r.pid == second.pid {
			t.Fatalf("both runs used dockerd %d", r.pid)
		}
		assertGone(t, r)
	})

	t.Run("orphans: ours stopped, a stranger behind a reused pid left alone", func(t *testing.T) {
		cache := cacheDir(t)
		// A leftover of this checkout (its command line names our store)
		// and a stranger, each leading a process group, as dockerd does.
		// It is reaped at once, as init reaps a real orphan: a zombie would
		// keep its group alive.
		start := func(args ...string) (*exec.Cmd, chan struct{}) {
			c := exec.Command("bash", append([]string{"-c", "sleep 60; : \"$0\""}, args...)...)
			c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() { _ = c.Wait(); close(exited) }()
			t.Cleanup(func() { _ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL); <-exited })
			return c, exited
		}
		for _, tt := range []struct {
			name     string
			arg      string
			wantGone bool
		}{
			{"ours", cache + "/data", true},
			{"stranger", "/somewhere/else", false},
		} {
			proc, exited := start(tt.arg)
			if err := os.WriteFile(cache+".pid", []byte(strconv.Itoa(proc.Process.Pid)), 0o600); err != nil {
				t.Fatal(err)
			}
			if out, err := ownDaemon(t, cache, "true").CombinedOutput(); err != nil {
				t.Fatalf("%s: docker.sh daemon: %v\n%s", tt.name, err, out)
			}
			select {
			case <-exited:
				if !tt.wantGone {
					t.Errorf("%s: process %d was killed", tt.name, proc.Process.Pid)
				}
			case <-time.After(3 * time.Second):
				if tt.wantGone {
					t.Errorf("%s: leftover %d still runs", tt.name, proc.Process.Pid)
				}
			}
		}
	})

	t.Run("SIGTERM to the script: daemon stopped, nothing left", func(t *testing.T) {
		cmd := ownDaemon(t, cacheDir(t), report+"; exec sleep 60")
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "\n") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		r := parseReport(t, out.String())
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatal("docker.sh did not exit within 30 s of SIGTERM")
		}
		assertGone(t, r)
	})
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// cacheDir is an image store for one test daemon. Not t.TempDir(): its name
// holds the subtest's ":" and ",", which overlay mount options cannot carry.
func cacheDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "docker-cache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "docker")
}
