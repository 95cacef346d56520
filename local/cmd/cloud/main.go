// Command cloud runs gatehouse's local Google Cloud control plane on
// loopback: the APIs the Pulumi programs call and a container registry, so
// that the real `pulumi up`, `preview` and `destroy` run offline against it.
//
//	cloud [--port 8090] [--project ID]... [--state DIR] [--env FILE] [--propagation-delay 0s] [--operation-delay 0s]
//	cloud token --url http://127.0.0.1:8090 [--as user:EMAIL | --impersonate SA_EMAIL]
//
// `make cloud` runs it in the foreground (Ctrl-C stops it). It prints the
// environment a Pulumi run needs (or writes it to --env FILE): eval it,
// then run `pulumi up` as usual.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/local/cloud"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(os.Stderr, "cloud: %v\n", err)
		os.Exit(1)
	}
}

// projects collects repeated --project flags.
type projects []string

func (p *projects) String() string     { return strings.Join(*p, ",") }
func (p *projects) Set(v string) error { *p = append(*p, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "token" {
		return token(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := fs.Int("port", 8090, "port on 127.0.0.1 (0: any free port); the container registry is served on the same port")
	var projs projects
	fs.Var(&projs, "project", "a project that exists, owned by --owner (repeatable; default my-gcp-project-id, the placeholder of Pulumi.dev.yaml)")
	owner := fs.String("owner", cloud.DefaultOwner, "the principal that owns the projects and whose token the environment carries")
	stateDir := fs.String("state", "", "keep the cloud's state in this directory across restarts (default: in memory)")
	envFile := fs.String("env", "", "write the environment (shell lines) to this file instead of printing it")
	propagation := fs.Duration("propagation-delay", 0, "a newly enabled API answers SERVICE_DISABLED for this long, as on a fresh project")
	opDelay := fs.Duration("operation-delay", 0, "long-running operations finish after this long (0: at once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if len(projs) == 0 {
		projs = projects{"my-gcp-project-id"}
	}
	if *stateDir != "" {
		if err := os.MkdirAll(*stateDir, 0o700); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	c, err := cloud.New(cloud.Options{
		Projects: projs, Owner: *owner, PropagationDelay: *propagation, OperationDelay: *opDelay,
		StateDir: *stateDir, Registry: addr,
	})
	if err != nil {
		return err
	}
	tok, err := c.Mint(*owner)
	if err != nil {
		return err
	}
	base := "http://" + addr
	env := strings.Join(c.Env(base, tok), "\n") + "\n"
	if *envFile != "" {
		if err := os.WriteFile(*envFile, []byte(env), 0o600); err != nil {
			return err
		}
	} else {
		fmt.Fprint(stdout, env)
	}
	fmt.Fprintf(stderr, "local Google Cloud on %s (projects %s, owner %s)\n", base, projs.String(), *owner)
	fmt.Fprintf(stderr, "  images: pulumi config set gatehouse:imageRegistry %s   (test-only key: pushes go to this cloud's registry)\n", addr)
	if *envFile != "" {
		fmt.Fprintf(stderr, "  environment: eval \"$(cat %s)\", then pulumi up as usual\n", *envFile)
	}
	fmt.Fprintln(stderr, "  Ctrl-C stops it")

	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

// token prints an access token: a signed-in user's (--as), or a service
// account's through IAM Credentials' generateAccessToken, as
// `gcloud auth print-access-token --impersonate-service-account` gets it
// (the caller, --as, needs iam.serviceAccounts.getAccessToken on it).
func token(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cloud token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8090", "the local cloud")
	as := fs.String("as", cloud.DefaultOwner, "the signed-in principal")
	impersonate := fs.String("impersonate", "", "a service account's email: print its token, minted as --as would")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var out struct{ Token string }
	if err := post(ctx, *url+"/_cloud/tokens", "", map[string]string{"principal": *as}, &out); err != nil {
		return err
	}
	if *impersonate == "" {
		fmt.Fprintln(stdout, out.Token)
		return nil
	}
	var sa struct{ AccessToken string }
	path := fmt.Sprintf("%s/iamcredentials/v1/projects/-/serviceAccounts/%s:generateAccessToken", *url, *impersonate)
	if err := post(ctx, path, out.Token, map[string]any{"scope": []string{"https://www.googleapis.com/auth/cloud-platform"}}, &sa); err != nil {
		return err
	}
	fmt.Fprintln(stdout, sa.AccessToken)
	return nil
}

func post(ctx context.Context, url, bearer string, body, out any) error {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("is the local cloud running (make cloud)? %w", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return json.Unmarshal(raw, out)
}
