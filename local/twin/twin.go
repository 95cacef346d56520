// Package twin runs the whole gatehouse stack on loopback: the backend
// binary, the Firebase Auth emulator, and a local gateway enforcing the same
// rendered spec API Gateway gets. `make local` and the end-to-end tests use
// it.
package twin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/client/emulator"
	"github.com/gatehouse/gatehouse/local/gateway"
	"github.com/gatehouse/gatehouse/spec"
)

// Config says what to run. Zero ports mean free ones.
type Config struct {
	RepoRoot    string
	GatewayPort int
	BackendPort int
	AuthPort    int
	Project     string // Firebase project; emulator.DefaultProject when empty

	// Emulator starts the Firebase Auth emulator and accepts its unsigned
	// tokens. Without it, only Issuers are accepted.
	Emulator bool
	Issuers  []spec.Issuer

	// BackendURL, when set, is used instead of starting the backend.
	BackendURL string
	Deadline   time.Duration

	// CORSOrigins turns on CORS as a deployment with corsOrigins does: the
	// spec allows CORS (unauthenticated OPTIONS operations) and the backend
	// answers preflights for these origins.
	CORSOrigins []string

	// AuthDataDir, when set, keeps the emulator's accounts across restarts.
	AuthDataDir string

	Log      io.Writer    // child processes' output
	Progress io.Writer    // one-time install progress (firebase-tools); Log when nil
	Logger   *slog.Logger // the gateway's access log
}

// Twin is a running local stack.
type Twin struct {
	GatewayURL string
	BackendURL string
	AuthHost   string // FIREBASE_AUTH_EMULATOR_HOST, when the emulator runs
	Document   []byte // the rendered spec the gateway enforces

	backend  *exec.Cmd
	backendC chan error
	emu      *emulator.Emulator
	srv      *http.Server
	served   chan error
	tmp      string
}

// Start builds and starts everything; on error it stops what it started.
func Start(ctx context.Context, c Config) (_ *Twin, err error) {
	if c.Project == "" {
		c.Project = emulator.DefaultProject
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.Progress == nil {
		c.Progress = c.Log
	}
	t := &Twin{}
	defer func() {
		if err != nil {
			t.Stop()
		}
	}()
	if t.tmp, err = os.MkdirTemp("", "gatehouse-twin-"); err != nil {
		return nil, err
	}

	gwLn, err := listen(c.GatewayPort, "gateway")
	if err != nil {
		return nil, err
	}
	t.GatewayURL = "http://" + gwLn.Addr().String()
	t.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: gateway.MaxHeaderBytes}
	defer func() {
		if t.served == nil {
			gwLn.Close()
		}
	}()

	t.BackendURL = c.BackendURL
	if t.BackendURL == "" {
		if err := t.startBackend(ctx, c); err != nil {
			return nil, err
		}
	}

	params := spec.Params{BackendURL: t.BackendURL, Issuers: c.Issuers, Deadline: c.Deadline, Local: true}
	if len(c.CORSOrigins) > 0 {
		params.CORS, params.EndpointsName = true, "gatehouse-local.apigateway.local.cloud.goog"
	}
	if c.Emulator {
		bin, err := emulator.Install(ctx, emulator.CacheDir(c.RepoRoot), c.Progress, c.Log)
		if err != nil {
			return nil, err
		}
		if t.emu, err = emulator.Start(ctx, emulator.Options{Bin: bin, Project: c.Project, Port: c.AuthPort, Log: c.Log, DataDir: c.AuthDataDir}); err != nil {
			return nil, err
		}
		t.AuthHost = t.emu.Host
		params.FirebaseProjectID = c.Project
	}
	if t.Document, err = spec.Render(params); err != nil {
		return nil, err
	}
	doc, err := spec.Parse(t.Document, spec.Options{Local: true})
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(doc, gateway.Options{Emulator: c.Emulator, Logger: c.Logger})
	if err != nil {
		return nil, err
	}
	t.srv.Handler = gw
	t.served = make(chan error, 1)
	go func() { t.served <- t.srv.Serve(gwLn) }()
	return t, nil
}

func listen(port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s port %d is taken (or not allowed): free it or choose another port: %w", what, port, err)
	}
	return ln, nil
}

// buildBackend compiles the service into dir and returns the binary.
func buildBackend(ctx context.Context, repoRoot, dir string) (string, error) {
	bin := filepath.Join(dir, "gatehouse-service")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(repoRoot, "service")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build backend: %v\n%s", err, out)
	}
	return bin, nil
}

func (t *Twin) startBackend(ctx context.Context, c Config) error {
	port := c.BackendPort
	if port == 0 {
		p, err := emulator.FreePort()
		if err != nil {
			return err
		}
		port = p
	} else if !emulator.PortFree(port) {
		return fmt.Errorf("backend port %d is taken: free it or choose another port", port)
	}
	bin, err := buildBackend(ctx, c.RepoRoot, t.tmp)
	if err != nil {
		return err
	}
	t.backend = exec.Command(bin)
	// Loopback only: the backend trusts X-Apigateway-Api-Userinfo, so only
	// the local gateway on this machine may reach it (on Cloud Run, IAM is
	// that lock). It dies with the twin, however the twin ends.
	t.backend.Env = []string{"LISTEN_HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "LOG_LEVEL=info", "ACCESS_LOG=all"} // every request logged: local debugging
	if len(c.CORSOrigins) > 0 {
		t.backend.Env = append(t.backend.Env, "CORS_ALLOW_ORIGINS="+strings.Join(c.CORSOrigins, ","))
	}
	t.backend.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	t.backend.Stdout, t.backend.Stderr = c.Log, c.Log
	if err := t.backend.Start(); err != nil {
		return fmt.Errorf("start backend: %w", err)
	}
	t.backendC = make(chan error, 1)
	go func() { t.backendC <- t.backend.Wait() }()
	t.BackendURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(t.BackendURL + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-t.backendC:
			t.backendC <- err
			return fmt.Errorf("backend exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return errors.New("backend not healthy after 15s")
}

// StopBackend stops only the backend (tests use it to show a 502).
func (t *Twin) StopBackend() error {
	if t.backend == nil || t.backend.Process == nil {
		return nil
	}
	_ = t.backend.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.backendC:
	case <-time.After(10 * time.Second):
		_ = t.backend.Process.Kill()
		<-t.backendC
	}
	t.backend = nil
	return nil
}

// Stop ends everything Start started.
func (t *Twin) Stop() {
	if t.served != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = t.srv.Shutdown(ctx)
		cancel()
	}
	_ = t.StopBackend()
	if t.emu != nil {
		_ = t.emu.Stop()
	}
	if t.tmp != "" {
		os.RemoveAll(t.tmp)
	}
}

// ResetAuth deletes every emulator account.
func (t *Twin) ResetAuth() error {
	if t.emu == nil {
		return nil
	}
	return t.emu.Reset()
}
