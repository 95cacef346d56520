package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/testproc"
)

// env is a getenv over m, with the gateway's account set (every backend
// with identity routes needs it).
func env(m map[string]string) func(string) string {
	return func(k string) string {
		if k == "GATEWAY_SERVICE_ACCOUNT" {
			return gatewaytest.Account
		}
		return m[k]
	}
}

// gatewayEnv is a process environment with the gateway's account.
func gatewayEnv(kv ...string) []string {
	return append([]string{"GATEWAY_SERVICE_ACCOUNT=" + gatewaytest.Account}, kv...)
}

func TestRunStopsOnCancel(t *testing.T) {
	port := testproc.FreePort(t)
	ctx, cancel := context.WithCancel(t.Context())
	var out testproc.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, env(map[string]string{"PORT": strconv.Itoa(port)}), &out) }()
	testproc.WaitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port), 5*time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel = %v, want nil", err)
		}
	case <-time.After(backend.ShutdownGrace + time.Second):
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

// TestProcessGracefulShutdown runs the real binary, starts a request, sends
// SIGTERM while it is still in flight, and checks that the request completes
// with 200, new connections are refused, and the process exits 0 in time.
func TestProcessGracefulShutdown(t *testing.T) {
	bin := testproc.BuildBinary(t)
	port := testproc.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	cmd.Env = gatewayEnv("PORT=" + strconv.Itoa(port))
	var out testproc.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	testproc.WaitHealthy(t, "http://"+addr, 5*time.Second)

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
		"\r\nAuthorization: "+gatewaytest.InvokerToken(gatewaytest.Account)+
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
	bin := testproc.BuildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = gatewayEnv("PORT=eighty")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want exit status 1", err)
	}
	if got := strings.TrimSpace(string(out)); got != `hello: invalid PORT "eighty": want a number from 1 to 65535` {
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
			port := testproc.FreePort(t)
			ctx, cancel := context.WithCancel(t.Context())
			var out testproc.Buffer
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, env(map[string]string{"LISTEN_HOST": tt.host, "PORT": strconv.Itoa(port)}), &out)
			}()
			testproc.WaitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d", port), 5*time.Second)
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

// TestProcessNeedsGatewayAccount: the /v1 backend reads the caller's
// identity, so it does not start without the gateway's account, nor with
// a value that is not one: it exits 1 with one line naming the variable,
// before it listens (#28 item 3). It once started and trusted any invoker.
func TestProcessNeedsGatewayAccount(t *testing.T) {
	bin := testproc.BuildBinary(t)
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{nil, "hello: GET /v1/hello reads the caller's identity: GATEWAY_SERVICE_ACCOUNT is not set: "},
		{[]string{"GATEWAY_SERVICE_ACCOUNT=off"}, `hello: invalid GATEWAY_SERVICE_ACCOUNT "off": want the gateway's service-account email`},
	} {
		port := testproc.FreePort(t)
		cmd := exec.Command(bin)
		cmd.Env = append(tt.env, "PORT="+strconv.Itoa(port))
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("env %v: exit = %v, want exit status 1\n%s", tt.env, err, out)
		}
		if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, tt.want) || strings.Contains(got, "\n") {
			t.Errorf("env %v: output %q, want one line starting %q", tt.env, got, tt.want)
		}
	}
}
