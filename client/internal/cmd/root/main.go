package root

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
	"github.com/gatehouse/gatehouse/client/internal/printable"
	"github.com/gatehouse/gatehouse/client/internal/target"
)

// Main runs the CLI and returns the exit code.
func Main(env cmdutil.Env) int {
	f := cmdutil.New(env)
	root := NewCmdRoot(f, Version())
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	cmd, err := root.ExecuteContextC(context.Background())
	name := "gatehouse"
	if cmd != nil && cmd != root {
		name = cmd.CommandPath() // gatehouse claims set
	}
	var ue *cmdutil.UsageError
	var bad *target.BadGatewayURL
	var ee *cmdutil.ExitError
	switch {
	case err == nil:
		return cmdutil.ExitOK
	case errors.As(err, &ue), errors.As(err, &bad):
		fmt.Fprintf(env.Stderr, "%s: %s (see %s --help)\n", name, oneLine(err.Error()), name)
		return cmdutil.ExitUsage
	case errors.As(err, &ee):
		if ee.Msg != "" {
			fmt.Fprintf(env.Stderr, "%s: %s\n", name, oneLine(ee.Msg))
		}
		return ee.Code
	default:
		fmt.Fprintf(env.Stderr, "%s: %s\n", name, oneLine(err.Error()))
		return cmdutil.ExitFailure
	}
}

// oneLine is an error message as one line of visible text: messages carry
// server text (Firebase Auth's messages, the gateway's status line), whose
// control characters are escaped here, the one place every error passes.
func oneLine(s string) string { return printable.Line(strings.Join(strings.Fields(s), " ")) }
