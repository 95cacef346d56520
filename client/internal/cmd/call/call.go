// Package call implements `gatehouse call [METHOD] PATH`: one request to
// the gateway with the session's ID token.
package call

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/printable"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Examples is the help's examples: calls that work against the /v1 backend
// (a test in local/ runs each against the twin).
const Examples = `  gatehouse call /v1/hello
  gatehouse call GET /v1/me -v`

// Options of call.
type Options struct {
	IO         *cmdutil.IO
	Sessions   func() (*session.Manager, error)
	Resolve    func(ctx context.Context, f *target.Flags, need target.Need) (target.Target, error)
	HTTPClient func() *http.Client

	Method, Path string
	Data         string // the body, or @FILE
	Verbose      bool
	Target       target.Flags
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "HEAD": true, "OPTIONS": true}

// NewCmdCall is `gatehouse call`.
func NewCmdCall(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Sessions: f.Sessions, Resolve: f.Resolver.Resolve, HTTPClient: f.HTTPClient}
	cmd := &cobra.Command{
		Use:   "call [METHOD] PATH",
		Short: "call the API through the gateway with your token",
		Long: "Call the API through the gateway with your token (METHOD defaults to GET).\n" +
			"A non-2xx answer exits 1. The body goes to stdout as received when stdout is\n" +
			"a file or a pipe; on a terminal, control characters in it are escaped.\n\n" + target.ResolutionHelp,
		Example: Examples,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := parseArgs(opts, args); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Data, "data", "d", "", "request body (JSON); @FILE reads it from a file")
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "show the request and response status and headers (Authorization and cookies redacted)")
	target.AddFlags(cmd.Flags(), &opts.Target, true)
	return cmd
}

func parseArgs(opts *Options, args []string) error {
	opts.Method = http.MethodGet
	switch len(args) {
	case 1:
		opts.Path = args[0]
	case 2:
		opts.Method, opts.Path = strings.ToUpper(args[0]), args[1]
		if !methods[opts.Method] {
			return cmdutil.Usagef("unknown method %q", args[0])
		}
	default:
		return cmdutil.Usagef("want [METHOD] PATH, e.g. gatehouse call /v1/hello")
	}
	if !strings.HasPrefix(opts.Path, "/") {
		return cmdutil.Usagef("PATH must start with /, got %q", opts.Path)
	}
	return nil
}

func run(ctx context.Context, opts *Options) error {
	var body []byte
	if file, ok := strings.CutPrefix(opts.Data, "@"); ok {
		b, err := os.ReadFile(file)
		if err != nil {
			return cmdutil.Usagef("-d: %v", err)
		}
		body = b
	} else if opts.Data != "" {
		body = []byte(opts.Data)
	}
	t, err := opts.Resolve(ctx, &opts.Target, target.Need{Gateway: true})
	if err != nil {
		return err
	}
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	e, err := sessions.Fresh(ctx, t.Profile, false)
	if err != nil {
		return err
	}
	if err := sessions.Bind(t.Profile, e, t.GatewayURL); err != nil {
		return err
	}
	res, err := send(ctx, opts, t, body, e.IDToken)
	if err != nil {
		return err
	}
	if res.status == http.StatusUnauthorized && strings.Contains(strings.ToLower(string(res.body)), "expired") {
		// The gateway says the token expired (clock skew, or it expired in
		// flight): refresh once and retry.
		if e, err = sessions.Fresh(ctx, t.Profile, true); err != nil {
			return err
		}
		if res, err = send(ctx, opts, t, body, e.IDToken); err != nil {
			return err
		}
	}
	if err := writeBody(opts.IO, res.body); err != nil {
		return err
	}
	if res.status/100 != 2 {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Msg: fmt.Sprintf("%s %s answered %s", opts.Method, opts.Path, res.statusLine)}
	}
	return nil
}

// writeBody writes the response body to stdout: as received for a file or
// a pipe (it is data: `gatehouse call /v1/me | jq` needs the exact bytes),
// with control characters escaped on a terminal (where the server's bytes
// would otherwise drive it).
func writeBody(streams *cmdutil.IO, body []byte) error {
	if streams.OutIsTerminal() {
		body = []byte(printable.Text(string(body)))
	}
	if _, err := streams.Out.Write(body); err != nil {
		return err
	}
	if len(body) > 0 && body[len(body)-1] != '\n' {
		fmt.Fprintln(streams.Out)
	}
	return nil
}
