package main

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/testproc"
)

// TestProcess runs the real notes binary as Cloud Run would: it serves its
// API to the gateway, refuses another invoker, and exits 0 on SIGTERM.
func TestProcess(t *testing.T) {
	bin := testproc.BuildBinary(t)
	port := testproc.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=" + strconv.Itoa(port), "LISTEN_HOST=127.0.0.1", "GATEWAY_SERVICE_ACCOUNT=" + gatewaytest.Account}
	var out testproc.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	testproc.WaitHealthy(t, base, 5*time.Second)

	ada := gatewaytest.Headers(`{"sub":"ada","iss":"https://securetoken.google.com/p"}`)
	for _, c := range []struct {
		name, method, body string
		headers            map[string]string
		want               int
	}{
		{"the gateway adds a note", "POST", `{"text":"from the process"}`, ada, 201},
		{"the gateway lists them", "GET", "", ada, 200},
		{"another invoker with a forged identity", "GET", "", map[string]string{
			"Authorization": gatewaytest.InvokerToken("123456789-compute@developer.gserviceaccount.com"), "X-Apigateway-Api-Userinfo": ada["X-Apigateway-Api-Userinfo"]}, 403},
	} {
		req, _ := http.NewRequest(c.method, base+"/v2/notes", strings.NewReader(c.body))
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.want || (c.want == 403 && strings.Contains(string(body), "from the process")) {
			t.Errorf("%s: %d %s, want %d", c.name, res.StatusCode, body, c.want)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM = %v, want 0\n%s", err, out.String())
		}
	case <-time.After(9 * time.Second):
		t.Fatalf("still running 9s after SIGTERM\n%s", out.String())
	}
}

// TestProcessNeedsGatewayAccount: like every backend with identity routes,
// notes does not start without the gateway's account.
func TestProcessNeedsGatewayAccount(t *testing.T) {
	bin := testproc.BuildBinary(t)
	cmd := exec.Command(bin)
	cmd.Env = []string{"PORT=" + strconv.Itoa(testproc.FreePort(t))}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.HasPrefix(string(out), "notes: GET /v2/notes reads the caller's identity: GATEWAY_SERVICE_ACCOUNT is not set") {
		t.Errorf("without GATEWAY_SERVICE_ACCOUNT: %v %s, want exit 1 naming it", err, out)
	}
}
