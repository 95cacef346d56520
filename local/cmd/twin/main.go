// Command twin runs gatehouse's local twin: the backend, the Firebase Auth
// emulator and a local gateway enforcing the same rendered spec as API
// Gateway, on loopback. `make local` runs it; Ctrl-C stops everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"gopkg.in/yaml.v3"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/local/emulator"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/twin"
)

func main() {
	// Whatever stops the twin (Ctrl-C, kill, a closed terminal, its parent
	// dying) stops the backend and the emulator with it, and exits 0.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	ctx = watchParent(ctx, 200*time.Millisecond)
	restore := takeTerminal()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	restore() // before any exit: the terminal goes back to make's group
	if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "twin: %v\n", err)
		os.Exit(1)
	}
	// help asked for, or stopped (also while starting): nothing failed
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("twin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gwPort := fs.Int("gateway-port", 8080, "local gateway port")
	bePort := fs.Int("backend-port", 8081, "backend port")
	authPort := fs.Int("auth-port", 9099, "Firebase Auth emulator port")
	project := fs.String("project", emulator.DefaultProject, "Firebase project id of the emulator (keep the demo- prefix)")
	verbose := fs.Bool("v", false, "show the backend's and emulator's output")
	webPort := fs.Int("web-port", 8082, "port of the browser client's own origin (make web builds it)")
	webDir := fs.String("web-dir", "", "the built browser client (default: .cache/web/dist in the checkout; \"none\" serves no page)")
	stackFile := fs.String("stack-file", "", "a stack file whose gatehouse:backends the twin also runs (such as Pulumi.v2.yaml)")
	authData := fs.String("auth-data", "", "where the emulator keeps its accounts across restarts (default: .cache/twin/auth in the checkout; \"none\" forgets them)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := testenv.RepoRoot(wd)
	if err != nil {
		return fmt.Errorf("run from the gatehouse checkout: %w", err)
	}
	var childLog io.Writer = io.Discard
	if *verbose {
		childLog = stderr
	}
	dataDir := *authData
	switch dataDir {
	case "":
		dataDir = filepath.Join(root, ".cache", "twin", "auth")
	case "none":
		dataDir = ""
	}
	var backends []twin.Backend
	if *stackFile != "" {
		if backends, err = stackBackends(*stackFile); err != nil {
			return err
		}
	}
	var web *twin.Web
	switch *webDir {
	case "none":
	case "":
		*webDir = filepath.Join(root, ".cache", "web", "dist")
		fallthrough
	default:
		if _, err := os.Stat(filepath.Join(*webDir, "index.html")); err != nil {
			fmt.Fprintf(stderr, "no browser client in %s (make web builds it): serving no page\n", *webDir)
		} else {
			web = &twin.Web{Dir: *webDir, Port: *webPort}
		}
	}
	fmt.Fprintln(stdout, "starting the local twin (backend, Firebase Auth emulator, gateway)...")
	t, err := twin.Start(ctx, twin.Config{
		RepoRoot: root, GatewayPort: *gwPort, BackendPort: *bePort, AuthPort: *authPort,
		Project: *project, Emulator: true, AuthDataDir: dataDir, Log: childLog, Progress: stderr, Backends: backends, Web: web,
		Logger: slog.New(slog.NewTextHandler(stderr, nil)),
	})
	if err != nil {
		return err
	}
	defer t.Stop()

	fmt.Fprintf(stderr, "\nWARNING: the local gateway runs in EMULATOR MODE: it accepts the Firebase Auth emulator's\n"+
		"UNSIGNED tokens (alg none). It is for this machine only; never expose it.\n\n")
	fmt.Fprintf(stdout, `gatehouse local twin is up:
  gateway   %s   (enforces the rendered spec; try %s/v1/hello)
  backend   %s   (loopback only, so reachable from this machine alone;
                                   a call without the gateway's identity header gets 401)
  auth      http://%s   (Firebase Auth emulator, project %s; %s)
%s
In another terminal (gatehouse: go install ./client/cmd/gatehouse, or make build):
  export FIREBASE_AUTH_EMULATOR_HOST=%s
  export GATEHOUSE_GATEWAY_URL=%s
  gatehouse signup --email you@example.com
  gatehouse call /v1/hello
  gatehouse call /v1/me

Press Ctrl-C to stop.
`, t.GatewayURL, t.GatewayURL, t.BackendURL, t.AuthHost, *project, keeps(dataDir), extras(t, backends), t.AuthHost, t.GatewayURL)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping...")
	return nil
}

func keeps(dataDir string) string {
	if dataDir == "" {
		return "accounts are forgotten when it stops"
	}
	return "accounts kept in " + dataDir
}

// stackBackends reads gatehouse:backends from a stack file: the backends a
// deployment of that stack runs, each built from service/ (an entry with an
// existing image cannot run here).
func stackBackends(file string) ([]twin.Backend, error) {
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, nil // a stack without a file has no further backends
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	raw, ok := f.Config["gatehouse:backends"]
	if !ok {
		return nil, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: gatehouse:backends must be a list", file)
	}
	var out []twin.Backend
	for i, e := range list {
		m, _ := e.(map[string]any)
		str := func(k string) string { v, _ := m[k].(string); return v }
		if str("image") != "" {
			return nil, fmt.Errorf("%s: gatehouse:backends[%d] (%s) runs an existing image, which the twin cannot build: it runs backends built from service/", file, i, str("name"))
		}
		if c := str("context"); c != "" && c != "service" {
			return nil, fmt.Errorf("%s: gatehouse:backends[%d] (%s) builds from %s; the twin runs Go packages of service/", file, i, str("name"), c)
		}
		pkg := str("command")
		if pkg == "" {
			pkg = "."
		}
		if str("name") == "" || str("spec") == "" {
			return nil, fmt.Errorf("%s: gatehouse:backends[%d] needs a name and a spec", file, i)
		}
		out = append(out, twin.Backend{Name: str("name"), Package: pkg, Spec: str("spec")})
	}
	return out, nil
}

// extras are the banner lines of the browser client and further backends.
func extras(t *twin.Twin, backends []twin.Backend) string {
	var b strings.Builder
	if t.WebURL != "" {
		fmt.Fprintf(&b, "  web       %s   (the browser client: sign up and call the API from a page of its own origin)\n", t.WebURL)
	}
	for _, be := range backends {
		fmt.Fprintf(&b, "  %-9s %s   (backend %s, serving %s)\n", be.Name, t.BackendURLs[be.Name], be.Package, be.Spec)
	}
	return b.String()
}
