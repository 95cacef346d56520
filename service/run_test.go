package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	got, err := loadConfig(env(map[string]string{
		"LISTEN_HOST": "127.0.0.1", "PORT": "9090", "LOG_LEVEL": "debug", "ACCESS_LOG": "all", "SLOW_REQUEST": "250ms", "K_SERVICE": "svc", "K_REVISION": "svc-001", "GOOGLE_CLOUD_PROJECT": "p1",
		"CORS_ALLOW_ORIGINS": "https://app.example.com/, http://localhost:3000",
	}))
	want := config{host: "127.0.0.1", port: 9090, accessLog: true, slowRequest: 250 * time.Millisecond, logLevel: slog.LevelDebug, service: "svc", revision: "svc-001", projectID: "p1",
		corsOrigins: []string{"https://app.example.com", "http://localhost:3000"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig = %+v, %v, want %+v", got, err, want)
	}
	got, err = loadConfig(env(nil))
	if err != nil || got.host != "" || got.port != 8080 || got.logLevel != slog.LevelInfo || got.corsOrigins != nil {
		t.Errorf("loadConfig(empty) = %+v, %v, want port 8080 level info", got, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tt := range []struct{ key, val, want string }{
		{"PORT", "http", `invalid PORT "http"`},
		{"PORT", "0", `invalid PORT "0"`},
		{"PORT", "70000", `invalid PORT "70000"`},
		{"PORT", "-1", `invalid PORT "-1"`},
		{"LOG_LEVEL", "chatty", "invalid LOG_LEVEL"},
		{"LISTEN_HOST", "localhost:80", "invalid LISTEN_HOST"},
		{"ACCESS_LOG", "verbose", "invalid ACCESS_LOG"},
		{"SLOW_REQUEST", "-1s", "invalid SLOW_REQUEST"},
		{"SLOW_REQUEST", "soon", "invalid SLOW_REQUEST"},
		{"CORS_ALLOW_ORIGINS", "app.example.com", "invalid CORS_ALLOW_ORIGINS"},
		{"CORS_ALLOW_ORIGINS", "https://app.example.com/path", "invalid CORS_ALLOW_ORIGINS"},
	} {
		_, err := loadConfig(env(map[string]string{tt.key: tt.val}))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("loadConfig(%s=%s) error = %v, want one line containing %q", tt.key, tt.val, err, tt.want)
		}
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitHealthy(t testing.TB, base string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s/healthz not healthy within %v", base, within)
}

func TestRunStopsOnCancel(t *testing.T) {
	port := freePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	var out syncWriter
	done := make(chan error, 1)
	go func() { done <- run(ctx, env(map[string]string{"PORT": strconv.Itoa(port)}), &out) }()
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port), 5*time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel = %v, want nil", err)
		}
	case <-time.After(shutdownGrace + time.Second):
		t.Fatal("run did not return after cancel")
	}
	if !strings.Contains(out.String(), `"message":"stopped"`) {
		t.Errorf("log lacks the stopped line: %s", out.String())
	}
}

func TestRunPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	err = run(t.Context(), env(map[string]string{"PORT": port}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "listen on port "+port) {
		t.Errorf("run on a taken port = %v, want listen error naming the port", err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// buildBinary compiles the service once per test binary run.
func buildBinary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "service")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestProcessGracefulShutdown runs the real binary, starts a request, sends
// SIGTERM while it is still in flight, and checks that the request completes
// with 200, new connections are refused, and the process exits 0 in time.
func TestProcessGracefulShutdown(t *testing.T) {
	bin := buildBinary(t)
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=" + strconv.Itoa(port)}
	var out syncWriter
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitHealthy(t, "http://"+addr, 5*time.Second)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A slow client: the headers and half of a 10-byte body now, the rest
	// after SIGTERM. The exchange is in flight until the body is in: net/http
	// reads the unread body before it sends the response on a keep-alive
	// connection, so the server must wait for this client to get its 200.
	info := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","email":"ada@example.com"}`))
	if _, err := io.WriteString(conn, "GET /v1/hello HTTP/1.1\r\nHost: "+addr+
		"\r\nX-Apigateway-Api-Userinfo: "+info+"\r\nContent-Length: 10\r\n\r\nhello"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The listener closes: new connections are refused.
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still accepts connections after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-exited:
		t.Fatalf("process exited (%v) with a request in flight\n%s", err, out.String())
	default:
	}

	if _, err := io.WriteString(conn, "world"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v\n%s", err, out.String())
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "Hello, ada@example.com!") {
		t.Errorf("in-flight request = %d %s, want 200 hello", res.StatusCode, body)
	}

	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("process exit = %v, want exit 0\n%s", err, out.String())
		}
		if took := time.Since(signalled); took > 9*time.Second {
			t.Errorf("shutdown took %v, want < 9s", took)
		}
	case <-time.After(9 * time.Second):
		t.Fatalf("process still running 9s after SIGTERM\n%s", out.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.HasPrefix(line, "{") || !strings.Contains(line, `"severity":`) {
			t.Errorf("non-JSON or severity-less log line: %s", line)
		}
	}
}

func TestProcessBadPort(t *testing.T) {
	bin := buildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=eighty"}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want exit status 1", err)
	}
	if got := strings.TrimSpace(string(out)); got != `service: invalid PORT "eighty": want a number from 1 to 65535` {
		t.Errorf("output = %q, want one line naming PORT", got)
	}
}

// The local twin binds the backend to loopback (LISTEN_HOST), since the
// backend trusts the gateway's identity header; Cloud Run needs every
// interface, the default.
func TestRunListenHost(t *testing.T) {
	for _, tt := range []struct{ host, want string }{
		{"", `"addr":"[::]:`},
		{"127.0.0.1", `"addr":"127.0.0.1:`},
	} {
		t.Run("host="+tt.host, func(t *testing.T) {
			port := freePort(t)
			ctx, cancel := context.WithCancel(t.Context())
			var out syncWriter
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, env(map[string]string{"LISTEN_HOST": tt.host, "PORT": strconv.Itoa(port)}), &out)
			}()
			waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port), 5*time.Second)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if want := tt.want + strconv.Itoa(port) + `"`; !strings.Contains(out.String(), want) {
				t.Errorf("listening log lacks %s: %s", want, out.String())
			}
		})
	}
}

func TestContainerMemory(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		}
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"cgroup v2, 512Mi", map[string]string{"/sys/fs/cgroup/memory.max": "536870912\n"}, 512 << 20, true},
		{"cgroup v2, no limit", map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, 0, false},
		{"cgroup v1, 1Gi", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"}, 1 << 30, true},
		{"cgroup v1, unlimited", map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0, false},
		{"no cgroup", nil, 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := containerMemory(files(tt.files))
			if got != tt.want || ok != tt.ok {
				t.Errorf("containerMemory = %d, %v, want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
