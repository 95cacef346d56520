// Package logout implements `gatehouse logout`.
package logout

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Options of logout.
type Options struct {
	IO      *cmdutil.IO
	Store   func() (*creds.Store, error)
	Profile func(target.ProfileFlags) string

	Flags target.ProfileFlags
}

// NewCmdLogout is `gatehouse logout`.
func NewCmdLogout(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Store: f.Store, Profile: f.Resolver.Profile}
	short := "forget the stored credentials (always works, even on a corrupt file)"
	cmd := &cobra.Command{
		Use: "logout", Short: short, Long: short + ".\n\n" + target.ProfileHelp, Args: cmdutil.NoArgs,
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
	store, err := opts.Store()
	if err != nil {
		return err
	}
	profile := opts.Profile(opts.Flags)
	had, err := store.Delete(profile)
	if errors.Is(err, creds.ErrCorrupt) {
		// Logging out must always work: a file that cannot be read holds no
		// usable session, so it is moved aside (kept for inspection).
		moved, err := store.SetAside()
		if err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "logged out of every profile: the credentials file was corrupt and is moved to %s\n", moved)
		return nil
	}
	if err != nil {
		return err
	}
	if !had {
		fmt.Fprintf(opts.IO.Out, "not logged in (profile %s)\n", profile)
		return nil
	}
	fmt.Fprintf(opts.IO.Out, "logged out (profile %s)\n", profile)
	return nil
}
