// Package verifyemail implements `gatehouse verify-email`: Firebase Auth
// emails the signed-in account a link that verifies its address, which a
// stack with gatehouse:requireVerifiedEmail needs before its backends
// answer; `--check` then takes a fresh token and says whether it carries
// email_verified: true.
package verifyemail

import (
	"context"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/printable"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Sender asks Firebase Auth for a verification email (firebase.Client).
type Sender interface {
	SendVerifyEmail(ctx context.Context, idToken string) error
}

// Options of verify-email.
type Options struct {
	IO       *cmdutil.IO
	Sessions func() (*session.Manager, error)
	Profile  func(target.ProfileFlags) string
	Firebase func(apiKey, emulatorHost string) (Sender, error)

	Check bool
	Flags target.ProfileFlags
}

// NewCmdVerifyEmail is `gatehouse verify-email`.
func NewCmdVerifyEmail(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Sessions: f.Sessions, Profile: f.Resolver.Profile,
		Firebase: func(apiKey, host string) (Sender, error) { return f.Firebase(apiKey, host) }}
	short := "email the signed-in account a link that verifies its address (--check: is it verified now?)"
	cmd := &cobra.Command{
		Use: "verify-email", Short: short,
		Long: short + ".\n\nA stack with gatehouse:requireVerifiedEmail answers 403 until the address is\n" +
			"verified. Open the link in the email, then run `gatehouse verify-email --check`:\n" +
			"it refreshes the token, which then says email_verified: true.\n\n" + target.ProfileHelp,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Check, "check", false, "refresh the token and say whether the address is verified (exit 1 if not)")
	target.AddProfileFlags(cmd.Flags(), &opts.Flags)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	sessions, err := opts.Sessions()
	if err != nil {
		return err
	}
	profile := opts.Profile(opts.Flags)
	e, err := sessions.Fresh(ctx, profile, opts.Check) // --check: a new token, from the account as it is now
	if err != nil {
		return err
	}
	email := printable.Line(e.Email)
	if opts.Check {
		claims, err := firebase.Claims(e.IDToken)
		if err != nil {
			return fmt.Errorf("read the refreshed token: %w", err)
		}
		if verified, _ := claims["email_verified"].(bool); !verified {
			return fmt.Errorf("%s is not verified yet: open the link of the verification email (`gatehouse verify-email` sends one)", email)
		}
		fmt.Fprintf(opts.IO.Out, "%s is verified; the stored token says so (profile %s)\n", email, printable.Line(profile))
		return nil
	}
	fb, err := opts.Firebase(e.APIKey, e.Emulator)
	if err != nil {
		return err
	}
	if err := fb.SendVerifyEmail(ctx, e.IDToken); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "sent a verification email to %s: open its link, then run `gatehouse verify-email --check`\n", email)
	if e.Emulator != "" {
		// The emulator sends no email; it lists the links it would send.
		u := url.URL{Scheme: "http", Host: e.Emulator, Path: "/emulator/v1/projects/" + e.ProjectID + "/oobCodes"}
		fmt.Fprintf(opts.IO.Out, "(the Auth emulator sends no email: its links are listed at %s)\n", printable.Line(u.String()))
	}
	return nil
}
