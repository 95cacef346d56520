// Package root builds the gatehouse command tree (cobra, as pulumi and gh
// use) and runs it: each command has only the flags it reads; `help CMD`,
// `CMD --help` and --version work; every error ends as one line and an
// exit code.
package root

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client/internal/cmd/auth"
	"github.com/gatehouse/gatehouse/client/internal/cmd/call"
	"github.com/gatehouse/gatehouse/client/internal/cmd/claims"
	"github.com/gatehouse/gatehouse/client/internal/cmd/logout"
	"github.com/gatehouse/gatehouse/client/internal/cmd/token"
	"github.com/gatehouse/gatehouse/client/internal/cmd/whoami"
	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// NewCmdRoot is `gatehouse` with its commands.
func NewCmdRoot(f *cmdutil.Factory, version string) *cobra.Command {
	short := "gatehouse - sign up, log in and call your gatehouse API."
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         short,
		Long:          short + "\n\n" + target.ResolutionHelp + "\n\n" + target.CredentialsHelp,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				fmt.Fprint(f.IO.ErrOut, cmd.UsageString())
				return &cmdutil.ExitError{Code: cmdutil.ExitUsage}
			}
			return cmdutil.Usagef("unknown command %q", args[0])
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetVersionTemplate("gatehouse {{.Version}}\n")
	root.AddCommand(
		auth.NewCmdSignup(f, nil),
		auth.NewCmdLogin(f, nil),
		logout.NewCmdLogout(f, nil),
		token.NewCmdToken(f, nil),
		call.NewCmdCall(f, nil),
		whoami.NewCmdWhoami(f, nil),
		claims.NewCmdClaims(f, nil),
	)
	// help CMD is CMD --help; help with an unknown name is a usage error.
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [COMMAND [SUBCOMMAND]]",
		Short: "help about any command",
		Args:  cobra.ArbitraryArgs, // help claims set
		RunE: func(cmd *cobra.Command, args []string) error {
			found, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return cmdutil.Usagef("unknown command %q", strings.Join(args, " "))
			}
			found.InitDefaultHelpFlag()
			return found.Help()
		},
	})
	// Flag errors are usage errors, as is a flag that swallowed the next
	// flag as its value (call /v1/hello -d --gateway-url URL).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &cmdutil.UsageError{Msg: err.Error()} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return cmdutil.MissingValues(cmd.Flags()) }
	return root
}
