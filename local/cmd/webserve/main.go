// Command webserve serves the built browser client (.cache/web/dist) on
// loopback, for trying it against a deployed stack: `make web-deployed`
// writes its config.json from the stack's outputs and runs this. The
// page's origin must be in the stack's gatehouse:corsOrigins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/local/internal/loopback"
	"github.com/gatehouse/gatehouse/local/internal/webpage"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "webserve: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("webserve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".cache/web/dist", "the built browser client, with its config.json")
	port := fs.Int("port", 8083, "loopback port to serve it on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range []string{"index.html", "app.js", "config.json"} {
		if _, err := os.Stat(filepath.Join(*dir, f)); err != nil {
			return fmt.Errorf("%s has no %s: run make web-deployed (or make web)", *dir, f)
		}
	}
	cfg, err := webpage.ReadConfig(*dir)
	if err != nil {
		return fmt.Errorf("%s: %w", *dir, err)
	}
	csp, err := cfg.CSP()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("port %d: %w", *port, err)
	}
	// Only the built files, with the page's CSP, and only to loopback Host
	// names (no DNS rebinding).
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second,
		Handler: loopback.OnlyHosts(ln.Addr().(*net.TCPAddr).Port, webpage.Secure(csp, webpage.Files(*dir)))}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	fmt.Fprintf(stdout, "browser client at http://%s (its origin must be in gatehouse:corsOrigins); Ctrl-C stops\n", ln.Addr())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
