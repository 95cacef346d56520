// Package twin runs the whole gatehouse stack on loopback: every backend's
// binary, the Firebase Auth emulator, and a local gateway enforcing the same
// rendered spec API Gateway gets. `make local` and the end-to-end tests use
// it.
package twin

import (
	"context"
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

	"github.com/gatehouse/gatehouse/local/emulator"
	"github.com/gatehouse/gatehouse/local/gateway"
	"github.com/gatehouse/gatehouse/local/internal/loopback"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/internal/webpage"
	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

// Config says what to run. Zero ports mean free ones.
type Config struct {
	RepoRoot    string
	GatewayPort int
	BackendPort int // the first backend's
	AuthPort    int
	Project     string // Firebase project; emulator.DefaultProject when empty

	// Emulator starts the Firebase Auth emulator and accepts its unsigned
	// tokens. Without it, only Issuers are accepted.
	Emulator bool
	Issuers  []spec.Issuer

	Deadline time.Duration

	// Backends are the stack's backends (gatehouse:backends, read and
	// checked by package stack), each built from service/ and serving the
	// operations of its spec fragment, as a deployment runs them. None: the
	// default stack's (/v1).
	Backends []Backend

	// Web serves the browser client (make web) on an origin of its own,
	// which is added to CORSOrigins: every API call from the page is
	// cross-origin and preflighted, as from a real web app.
	Web *Web

	// CORSOrigins turns on CORS as a deployment with corsOrigins does: the
	// spec allows CORS (unauthenticated OPTIONS operations) and the backend
	// answers preflights for these origins.
	CORSOrigins []string

	// AuthDataDir, when set, keeps the emulator's accounts across restarts.
	AuthDataDir string

	// DisableUserSignup refuses end users' sign-up at the emulator as
	// Identity Platform does with gatehouse:allowSignUp false (see
	// emulator.Options); an administrator still creates accounts.
	DisableUserSignup bool
	// RequireVerifiedEmail starts every backend with
	// REQUIRE_EMAIL_VERIFIED=true, as gatehouse:requireVerifiedEmail does.
	RequireVerifiedEmail bool

	// GatewayServiceAccount is the twin's gateway account: the email of the
	// gateway's stand-in backend token and every backend's
	// GATEWAY_SERVICE_ACCOUNT, as a deployment pairs them. Default
	// DefaultGatewayAccount(Project).
	GatewayServiceAccount string

	Log      io.Writer    // child processes' output
	Progress io.Writer    // one-time install progress (firebase-tools); Log when nil
	Logger   *slog.Logger // the gateway's access log
}

// DefaultGatewayAccount is the gateway account a stack named gatehouse
// has in project: <serviceName>-gateway@<project>.iam.gserviceaccount.com.
func DefaultGatewayAccount(project string) string {
	return "gatehouse-gateway@" + project + ".iam.gserviceaccount.com"
}

// Web is where the built browser client is and the port to serve it on
// (0: a free one).
type Web struct {
	Dir  string
	Port int
}

// Backend is a backend the twin runs: a stack entry (its Go package in
// service/, its Command, and its fragment), or, with URL, one already
// running there that the twin only routes to.
type Backend struct {
	stack.Backend
	URL string
}

// Package is the Go package of service/ the twin builds for b: its
// command, which the stack requires of every built entry (as the
// Dockerfile's CMD, which has no default).
func Package(b stack.Backend) string { return b.Command }

// Runnable says why the twin cannot run entry b, if it cannot: it builds Go
// packages of service/ (the entry's rules themselves are the stack's).
func Runnable(b stack.Backend) error {
	switch {
	case b.Image != "":
		return fmt.Errorf("backend %s runs an existing image, which the twin cannot build: it runs backends built from service/", b.Name)
	case b.Context != stack.DefaultBuildContext:
		return fmt.Errorf("backend %s builds from %s; the twin runs Go packages of service/", b.Name, b.Context)
	}
	return nil
}

// Twin is a running local stack.
type Twin struct {
	GatewayURL  string
	BackendURLs map[string]string // every backend's, by name
	AuthHost    string            // FIREBASE_AUTH_EMULATOR_HOST, when the emulator runs
	WebURL      string            // the browser client's origin, with Config.Web
	Document    []byte            // the rendered spec the gateway enforces

	procs  map[string]*proc // the backends the twin started, by name
	emu    *emulator.Emulator
	srv    *http.Server
	served chan error
	web    *http.Server
	webLn  net.Listener
	tmp    string
}

// Start builds and starts everything; on error it stops what it started.
func Start(ctx context.Context, c Config) (_ *Twin, err error) {
	if c.Project == "" {
		c.Project = emulator.DefaultProject
	}
	if c.GatewayServiceAccount == "" {
		c.GatewayServiceAccount = DefaultGatewayAccount(c.Project)
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

	if c.Web != nil {
		if t.webLn, err = listen(c.Web.Port, "web"); err != nil {
			return nil, err
		}
		t.WebURL = "http://" + t.webLn.Addr().String()
		c.CORSOrigins = append(append([]string{}, c.CORSOrigins...), t.WebURL)
	}

	if len(c.Backends) == 0 {
		def, err := stack.Defaults(c.RepoRoot)
		if err != nil {
			return nil, err
		}
		for _, b := range def.Backends {
			c.Backends = append(c.Backends, Backend{Backend: b})
		}
	}
	params := spec.Params{Issuers: c.Issuers, Deadline: c.Deadline, Options: spec.Options{Local: true}}
	t.BackendURLs, t.procs = map[string]string{}, map[string]*proc{}
	for i, b := range c.Backends {
		url := b.URL
		if url == "" {
			if err := Runnable(b.Backend); err != nil {
				return nil, err
			}
			port := 0
			if i == 0 {
				port = c.BackendPort
			}
			p, err := t.startBackend(ctx, c, b.Name, Package(b.Backend), port)
			if p != nil {
				t.procs[b.Name] = p // stopped by Stop, healthy or not
			}
			if err != nil {
				return nil, err
			}
			url = p.url
		}
		t.BackendURLs[b.Name] = url
		params.Backends = append(params.Backends, spec.BackendRoute{Name: b.Name, URL: url, Fragment: b.Fragment})
	}

	if len(c.CORSOrigins) > 0 {
		params.CORS, params.EndpointsName = true, "gatehouse-local.apigateway.local.cloud.goog"
	}
	if c.Emulator {
		bin, err := emulator.Install(ctx, emulator.CacheDir(c.RepoRoot), c.Progress, c.Log)
		if err != nil {
			return nil, err
		}
		if t.emu, err = emulator.Start(ctx, emulator.Options{Bin: bin, Project: c.Project, Port: c.AuthPort, Log: c.Log, DataDir: c.AuthDataDir,
			DisableUserSignup: c.DisableUserSignup}); err != nil {
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
	// The gateway reads tokens where the document says (x-google-jwt-locations), as ESPv2 does.
	locations, err := gateway.JWTLocations(t.Document)
	if err != nil {
		return nil, err
	}
	o := gateway.Options{Logger: c.Logger, JWTLocations: locations, ServiceAccount: c.GatewayServiceAccount}
	if c.Emulator {
		o.EmulatorProject = c.Project // its unsigned tokens, for its issuer only
	}
	gw, err := gateway.New(doc, o)
	if err != nil {
		return nil, err
	}
	// Only loopback Host names are answered: a page elsewhere cannot
	// reach the twin by rebinding its own name to 127.0.0.1.
	t.srv.Handler = loopback.OnlyHosts(gwLn.Addr().(*net.TCPAddr).Port, gw)
	var web http.Handler
	if c.Web != nil {
		if web, err = t.webHandler(c); err != nil {
			return nil, err
		}
	}
	t.served = make(chan error, 1)
	go func() { t.served <- t.srv.Serve(gwLn) }()
	if c.Web != nil {
		t.web = &http.Server{Handler: web, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: gateway.MaxHeaderBytes}
		ln := t.webLn
		go func() { _ = t.web.Serve(ln) }()
	}
	return t, nil
}

// webHandler serves the built client and its config.json for this twin
// (the Auth emulator, which takes any API key, and the local gateway), only
// to loopback Host names, with the page's Content-Security-Policy.
func (t *Twin) webHandler(c Config) (http.Handler, error) {
	cfg := webpage.Config{APIKey: "emulator-any-key", ProjectID: c.Project, AuthDomain: c.Project + ".firebaseapp.com",
		GatewayURL: t.GatewayURL, AuthEmulatorHost: t.AuthHost}
	csp, err := cfg.CSP()
	if err != nil {
		return nil, fmt.Errorf("browser client: %w", err)
	}
	files, config := webpage.Files(c.Web.Dir), webpage.ServeConfig(cfg)
	return loopback.OnlyHosts(t.webLn.Addr().(*net.TCPAddr).Port, webpage.Secure(csp, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config.json" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			config.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))), nil
}

func listen(port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("%s port %d is taken (or not allowed): free it or choose another port: %w", what, port, err)
	}
	return ln, nil
}

// proc is a backend process.
type proc struct {
	cmd  *exec.Cmd
	done chan error
	url  string
}

// buildBackend compiles the Go package pkg of service/ into dir.
func buildBackend(ctx context.Context, repoRoot, dir, name, pkg string) (string, error) {
	bin := filepath.Join(dir, "gatehouse-"+name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Join(repoRoot, "service")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build backend %s (%s): %v\n%s", name, pkg, err, out)
	}
	return bin, nil
}

// startBackend builds and starts one backend on port (0: a free one) and
// waits until it is healthy. A process it started is returned even with an
// error, for the caller to stop.
func (t *Twin) startBackend(ctx context.Context, c Config, name, pkg string, port int) (*proc, error) {
	if port == 0 {
		p, err := testenv.FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	} else if !testenv.PortFree(port) {
		return nil, fmt.Errorf("%s port %d is taken: free it or choose another port", name, port)
	}
	bin, err := buildBackend(ctx, c.RepoRoot, t.tmp, name, pkg)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	// Loopback only: the backend trusts X-Apigateway-Api-Userinfo on
	// requests whose token names the gateway's account, which the twin's
	// gateway sends unsigned, so only the local gateway on this machine may
	// reach it (on Cloud Run, IAM verifies that token). It dies with the
	// twin, however the twin ends.
	cmd.Env = []string{"LISTEN_HOST=127.0.0.1", "PORT=" + strconv.Itoa(port), "LOG_LEVEL=info", "ACCESS_LOG=all", "K_SERVICE=" + name, // every request logged: local debugging
		"GATEWAY_SERVICE_ACCOUNT=" + c.GatewayServiceAccount} // the stand-in token's email
	if len(c.CORSOrigins) > 0 {
		cmd.Env = append(cmd.Env, "CORS_ALLOW_ORIGINS="+strings.Join(c.CORSOrigins, ","))
	}
	if c.RequireVerifiedEmail {
		cmd.Env = append(cmd.Env, "REQUIRE_EMAIL_VERIFIED=true")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stdout, cmd.Stderr = c.Log, c.Log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start backend %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1), url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(p.url + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case err := <-p.done:
			p.done <- err
			return p, fmt.Errorf("backend %s exited: %v", name, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return p, fmt.Errorf("backend %s not healthy after 15s", name)
}

func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		p.done <- <-p.done
	}
}

// StopBackend stops the backend named name (tests use it to show a 503).
func (t *Twin) StopBackend(name string) error {
	p, ok := t.procs[name]
	if !ok {
		return fmt.Errorf("no backend %s runs in the twin", name)
	}
	p.stop()
	delete(t.procs, name)
	return nil
}

// Stop ends everything Start started.
func (t *Twin) Stop() {
	if t.served != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = t.srv.Shutdown(ctx)
		cancel()
	}
	if t.web != nil {
		_ = t.web.Close()
	} else if t.webLn != nil {
		_ = t.webLn.Close()
	}
	for _, p := range t.procs {
		p.stop()
	}
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
