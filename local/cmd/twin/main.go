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
	"syscall"

	"github.com/gatehouse/gatehouse/client/emulator"
	"github.com/gatehouse/gatehouse/local/twin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintf(os.Stderr, "twin: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("twin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gwPort := fs.Int("gateway-port", 8080, "local gateway port")
	bePort := fs.Int("backend-port", 8081, "backend port")
	authPort := fs.Int("auth-port", 9099, "Firebase Auth emulator port")
	project := fs.String("project", emulator.DefaultProject, "Firebase project id of the emulator (keep the demo- prefix)")
	verbose := fs.Bool("v", false, "show the backend's and emulator's output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := emulator.RepoRoot(wd)
	if err != nil {
		return fmt.Errorf("run from the gatehouse checkout: %w", err)
	}
	var childLog io.Writer = io.Discard
	if *verbose {
		childLog = stderr
	}
	fmt.Fprintln(stdout, "starting the local twin (backend, Firebase Auth emulator, gateway)...")
	t, err := twin.Start(ctx, twin.Config{
		RepoRoot: root, GatewayPort: *gwPort, BackendPort: *bePort, AuthPort: *authPort,
		Project: *project, Emulator: true, Log: childLog,
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
  backend   %s   (direct calls without the gateway get 401)
  auth      http://%s   (Firebase Auth emulator, project %s)

In another terminal:
  export FIREBASE_AUTH_EMULATOR_HOST=%s
  export GATEHOUSE_GATEWAY_URL=%s
  go run ./client/cmd/gatehouse signup --email you@example.com
  go run ./client/cmd/gatehouse call /v1/hello
  go run ./client/cmd/gatehouse call /v1/me

Press Ctrl-C to stop.
`, t.GatewayURL, t.GatewayURL, t.BackendURL, t.AuthHost, *project, t.AuthHost, t.GatewayURL)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping...")
	return nil
}
