// Command twin runs gatehouse's local twin: the backend, the Firebase Auth
// emulator and a local gateway enforcing the same rendered spec as API
// Gateway, on loopback. `make local` runs it; Ctrl-C stops everything.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
	"github.com/gatehouse/gatehouse/stack"
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
	bePort := fs.Int("backend-port", 8081, "the first backend's port (the others get free ones)")
	authPort := fs.Int("auth-port", 9099, "Firebase Auth emulator port")
	project := fs.String("project", emulator.DefaultProject, "Firebase project id of the emulator (keep the demo- prefix)")
	verbose := fs.Bool("v", false, "show the backend's and emulator's output")
	webPort := fs.Int("web-port", 8082, "port of the browser client's own origin (make web builds it)")
	webDir := fs.String("web-dir", "", "the built browser client (default: .cache/web/dist in the checkout; \"none\" serves no page)")
	stackFile := fs.String("stack-file", "", "the stack file whose gatehouse:backends the twin runs (such as Pulumi.v2.yaml), checked by the same rules as a deployment; default: the backends of a stack that sets none (/v1)")
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
	backends, err := stackBackends(*stackFile, root)
	if err != nil {
		return err
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
	fmt.Fprintln(stdout, "starting the local twin (backends, Firebase Auth emulator, gateway)...")
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
%s  auth      http://%s   (Firebase Auth emulator, project %s; %s)
%s
In another terminal (gatehouse: go install ./client/cmd/gatehouse, or make build):
  export FIREBASE_AUTH_EMULATOR_HOST=%s
  export GATEHOUSE_GATEWAY_URL=%s
  gatehouse signup --email you@example.com
  gatehouse call /v1/hello
  gatehouse call /v1/me
  gatehouse call /v1/admin/hello                               # 403: admins only
  gatehouse claims set you@example.com '{"roles":["admin"]}'   # as the emulator's admin
  gatehouse token --refresh && gatehouse call /v1/admin/hello  # 200

Press Ctrl-C to stop.
`, t.GatewayURL, t.GatewayURL, backendLines(t, backends), t.AuthHost, *project, keeps(dataDir), webLine(t), t.AuthHost, t.GatewayURL)
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

// stackBackends are the backends of the stack file, read and checked by
// package stack with the rules a deployment applies (a missing file, or an
// entry `make plan` refuses, is an error), or, without a file, the default
// stack's. The twin runs entries it can build: Go packages of service/.
func stackBackends(file, root string) ([]twin.Backend, error) {
	var cfg stack.Config
	var err error
	if file == "" {
		cfg, err = stack.Defaults(root)
	} else {
		cfg, err = stack.LoadFile(file, root)
	}
	if err != nil {
		return nil, err
	}
	var out []twin.Backend
	for _, b := range cfg.Backends {
		if err := twin.Runnable(b); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, twin.Backend{Backend: b})
	}
	return out, nil
}

// backendLines are the banner's lines of the backends.
func backendLines(t *twin.Twin, backends []twin.Backend) string {
	var b strings.Builder
	for _, be := range backends {
		fmt.Fprintf(&b, "  %-9s %s   (loopback only, so reachable from this machine alone; Go package %s, serving %s)\n",
			be.Name, t.BackendURLs[be.Name], twin.Package(be.Backend), be.Spec)
	}
	b.WriteString("            a call to a backend without the gateway's identity header gets 401\n")
	return b.String()
}

// webLine is the banner's line of the browser client.
func webLine(t *twin.Twin) string {
	if t.WebURL == "" {
		return ""
	}
	return fmt.Sprintf("  web       %s   (the browser client: sign up and call the API from a page of its own origin)\n", t.WebURL)
}
