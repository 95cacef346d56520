// Package whoami implements `gatehouse whoami`: the stored identity,
// without contacting anything.
package whoami

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/printable"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Options of whoami.
type Options struct {
	IO       *cmdutil.IO
	Sessions func() (*session.Manager, error)
	Profile  func(target.ProfileFlags) string
	Now      func() time.Time

	Flags target.ProfileFlags
}

// NewCmdWhoami is `gatehouse whoami`.
func NewCmdWhoami(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Sessions: f.Sessions, Profile: f.Resolver.Profile, Now: f.Now}
	short := "show the stored identity (nothing is contacted)"
	cmd := &cobra.Command{
		Use: "whoami", Short: short, Long: short + ".\n\n" + target.ProfileHelp, Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	target.AddProfileFlags(cmd.Flags(), &opts.Flags)
	return cmd
}

func run(_ context.Context, opts *Options) error {
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	profile := opts.Profile(opts.Flags)
	e, err := sessions.Entry(profile)
	if err != nil {
		return err
	}
	state := "expires " + e.Expiry.Local().Format(time.RFC3339)
	if left := e.Expiry.Sub(opts.Now()); left <= 0 {
		state = "expired " + e.Expiry.Local().Format(time.RFC3339) + " (refreshed on next use)"
	} else {
		state += fmt.Sprintf(" (in %s)", left.Round(time.Minute))
	}
	// Email, uid, project and roles are as Firebase Auth issued them: escaped.
	fmt.Fprintf(opts.IO.Out, "email:   %s\nuid:     %s\nproject: %s\nroles:   %s\nprofile: %s\ntoken:   %s\n",
		printable.Line(e.Email), printable.Line(e.UID), printable.Line(e.ProjectID), roles(e.IDToken), printable.Line(profile), state)
	return nil
}

// roles are the stored ID token's roles claim, read without verifying it
// (it is our own token, for display): what backends saw on its last use.
func roles(idToken string) string {
	const asOf = " (in the stored token: `gatehouse token --refresh` shows a change at once)"
	claims, err := firebase.Claims(idToken)
	if err != nil {
		return "unknown (the stored token is not a JWT)"
	}
	raw, ok := claims["roles"]
	if !ok {
		return "none" + asOf
	}
	list, ok := raw.([]any)
	var names []string
	for _, r := range list {
		name, isString := r.(string)
		ok = ok && isString
		names = append(names, name)
	}
	switch {
	case !ok:
		return "not a list of role names (backends refuse such a token)"
	case len(names) == 0:
		return "none" + asOf
	}
	return printable.Line(strings.Join(names, ", ")) + asOf
}
