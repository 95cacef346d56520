// Package token implements `gatehouse token`: a valid ID token on stdout,
// for curl -H "Authorization: Bearer $(gatehouse token)".
package token

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Options of token.
type Options struct {
	IO       *cmdutil.IO
	Sessions func() (*session.Manager, error)
	Profile  func(target.ProfileFlags) string

	Flags target.ProfileFlags
	// Refresh gets a new ID token even if the stored one is still valid:
	// the way to see new custom claims (roles) at once.
	Refresh bool
}

// NewCmdToken is `gatehouse token`.
func NewCmdToken(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Sessions: f.Sessions, Profile: f.Resolver.Profile}
	short := "print a valid ID token (refreshed when needed), for curl -H \"Authorization: Bearer $(gatehouse token)\""
	long := short + ".\n\nA token carries the custom claims (roles) its user had when it was issued:\n" +
		"after an operator changes them, --refresh gets a token that shows them at once.\n\n" + target.ProfileHelp
	cmd := &cobra.Command{
		Use: "token", Short: short, Long: long, Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Refresh, "refresh", false, "get a new ID token now, even if the stored one is still valid (to see claims an operator just set)")
	target.AddProfileFlags(cmd.Flags(), &opts.Flags)
	return cmd
}

// run prints the token raw, on purpose: it is for $(...) in a shell. The
// Firebase client accepts only ID tokens made of JWT characters, so nothing
// in it can act on a terminal.
func run(ctx context.Context, opts *Options) error {
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	e, err := sessions.Fresh(ctx, opts.Profile(opts.Flags), opts.Refresh)
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.Out, e.IDToken)
	return nil
}
