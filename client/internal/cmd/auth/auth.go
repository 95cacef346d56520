// Package auth implements `gatehouse signup` and `gatehouse login`: one
// flow (email, password, Firebase Auth, store the session) for both.
package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/creds"
	"github.com/gatehouse/gatehouse/client/internal/firebase"
	"github.com/gatehouse/gatehouse/client/internal/printable"
	"github.com/gatehouse/gatehouse/client/internal/session"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Authenticator signs users up and in (firebase.Client).
type Authenticator interface {
	SignUp(ctx context.Context, email, password string) (*firebase.Session, error)
	SignIn(ctx context.Context, email, password string) (*firebase.Session, error)
}

// Options of signup and login.
type Options struct {
	IO           *cmdutil.IO
	EmulatorHost func() string
	Firebase     func(apiKey, emulatorHost string) (Authenticator, error)
	Store        func() (*creds.Store, error)
	Resolve      func(ctx context.Context, f *target.Flags, need target.Need) (target.Target, error)

	Signup        bool // else login
	Email         string
	PasswordStdin bool
	Target        target.Flags
}

// NewCmdSignup is `gatehouse signup`.
func NewCmdSignup(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmd(f, runF, true, "signup", "create an account (email + password) and log in")
}

// NewCmdLogin is `gatehouse login`.
func NewCmdLogin(f *cmdutil.Factory, runF func(context.Context, *Options) error) *cobra.Command {
	return newCmd(f, runF, false, "login", "log in with email and password")
}

func newCmd(f *cmdutil.Factory, runF func(context.Context, *Options) error, signup bool, name, short string) *cobra.Command {
	opts := &Options{
		IO:           f.IO,
		EmulatorHost: f.EmulatorHost,
		Firebase: func(apiKey, host string) (Authenticator, error) {
			return f.Firebase(apiKey, host)
		},
		Store:   f.Store,
		Resolve: f.Resolver.Resolve,
		Signup:  signup,
	}
	cmd := &cobra.Command{
		Use: name, Short: short, Long: short + ".\n\n" + target.SignInHelp, Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Email, "email", "", "account email (prompted for when omitted)")
	cmd.Flags().BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from the first line of stdin")
	target.AddFlags(cmd.Flags(), &opts.Target, false)
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	emu := opts.EmulatorHost()
	// Before a password is asked for: where it would go.
	if err := session.CheckEmulatorHost(emu); err != nil {
		return err
	}
	email, err := readEmail(opts)
	if err != nil {
		return err
	}
	password, err := readPassword(opts.IO, opts.PasswordStdin, opts.Signup)
	if err != nil {
		return err
	}
	t, err := opts.Resolve(ctx, &opts.Target, target.Need{APIKey: true})
	if err != nil {
		return err
	}
	fb, err := opts.Firebase(t.APIKey, emu)
	if err != nil {
		return err
	}
	var s *firebase.Session
	if opts.Signup {
		s, err = fb.SignUp(ctx, email, password)
	} else {
		s, err = fb.SignIn(ctx, email, password)
	}
	if err != nil {
		var fe *firebase.Error
		if !opts.Signup && emu != "" && errors.As(err, &fe) && (fe.Code == "EMAIL_NOT_FOUND" || fe.Code == "INVALID_PASSWORD" || fe.Code == "INVALID_LOGIN_CREDENTIALS") {
			return fmt.Errorf("wrong email or password, or no such account in the emulator at %s (its accounts are gone if it was started without its data): `gatehouse signup` creates one", emu)
		}
		return err
	}
	store, err := opts.Store()
	if err != nil {
		return err
	}
	if err := store.Put(t.Profile, &creds.Entry{Session: *s, APIKey: t.APIKey, Emulator: emu, Gateway: t.GatewayURL}); err != nil {
		return err
	}
	verb := "logged in"
	if opts.Signup {
		verb = "signed up and logged in"
	}
	// Email and uid are as Firebase Auth answered: escaped for the terminal.
	fmt.Fprintf(opts.IO.Out, "%s as %s (uid %s, profile %s); token valid until %s\n", verb,
		printable.Line(s.Email), printable.Line(s.UID), printable.Line(t.Profile), s.Expiry.Local().Format(time.Kitchen))
	return nil
}

func readEmail(opts *Options) (string, error) {
	email := opts.Email
	if email == "" {
		if opts.PasswordStdin || !opts.IO.InIsTerminal() {
			return "", cmdutil.Usagef("--email is required when stdin is not a terminal")
		}
		fmt.Fprint(opts.IO.ErrOut, "Email: ")
		line, err := opts.IO.In.ReadString('\n')
		if err != nil && line == "" {
			return "", cmdutil.Usagef("no email given")
		}
		email = strings.TrimSpace(line)
	}
	if !strings.Contains(email, "@") {
		return "", cmdutil.Usagef("%q is not an email address", email)
	}
	return email, nil
}

// readPassword reads the password from stdin's first line or a no-echo
// prompt. It is never taken from a flag, so it stays out of shell history
// and ps.
func readPassword(streams *cmdutil.IO, fromStdin, confirm bool) (string, error) {
	if fromStdin {
		line, err := streams.In.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", cmdutil.Usagef("--password-stdin: stdin is empty")
		}
		return pw, nil
	}
	if !streams.InIsTerminal() {
		return "", cmdutil.Usagef("no terminal to ask for the password: pipe it with --password-stdin")
	}
	fmt.Fprint(streams.ErrOut, "Password: ")
	pw, err := streams.ReadPassword()
	fmt.Fprintln(streams.ErrOut)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(streams.ErrOut, "Repeat password: ")
		again, err := streams.ReadPassword()
		fmt.Fprintln(streams.ErrOut)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return "", cmdutil.Usagef("the passwords do not match")
		}
	}
	if len(pw) == 0 {
		return "", cmdutil.Usagef("empty password")
	}
	return string(pw), nil
}
