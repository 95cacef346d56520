package local

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/local/internal/syncbuf"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/twin"
	"github.com/gatehouse/gatehouse/stack"
)

// TestCORSOriginRulesAgree: the stack's rule for gatehouse:corsOrigins
// (stack.CORSOrigin) and the backend's own copy for CORS_ALLOW_ORIGINS (the
// service module depends on nothing of the stack's) agree on what matters:
// every origin the stack accepts, the backend starts with. Run on the
// backend binary of the default stack's /v1.
func TestCORSOriginRulesAgree(t *testing.T) {
	def, err := stack.Defaults("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "backend")
	build := exec.Command("go", "build", "-o", bin, twin.Package(def.Backends[0]))
	build.Dir = filepath.Join("..", stack.DefaultBuildContext)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the backend: %v\n%s", err, out)
	}
	accepted := 0
	for _, origin := range []string{"*", "https://app.example.com", "https://app.example.com/", "http://localhost:3000",
		"http://127.0.0.1:8082", "https://[::1]:8443", "app.example.com", "https://app.example.com/path", "ftp://x.example",
		"https://u@app.example.com", "https://app.example.com/?q=1", "https://app.example.com#x"} {
		value, err := stack.CORSOrigin(origin)
		if err != nil {
			continue // the stack refuses it: no backend ever gets it
		}
		accepted++
		port, err := testenv.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin)
		cmd.Env = []string{"LISTEN_HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "CORS_ALLOW_ORIGINS=" + value,
			"GATEWAY_SERVICE_ACCOUNT=" + twin.DefaultGatewayAccount("demo-gatehouse")}
		var out syncbuf.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		healthy := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !healthy; time.Sleep(20 * time.Millisecond) {
			if res, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/healthz"); err == nil {
				res.Body.Close()
				healthy = res.StatusCode == http.StatusOK
			}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !healthy {
			t.Errorf("the stack accepts corsOrigins %q (as %q), the backend does not start with it:\n%s", origin, value, out.String())
		}
	}
	if accepted < 5 {
		t.Errorf("the stack accepted %d origins of the table, want at least 5: the check proves little", accepted)
	}
}
