package cmdutil

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command failed, or the API answered non-2xx
	ExitUsage   = 2 // bad input: flags, arguments, environment values
)

// UsageError is bad input: a one-line message and exit 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Sprintf(format, args...)}
}

// ExitError ends the command with Code, printing Msg when it is not empty.
type ExitError struct {
	Code int
	Msg  string
}

func (e *ExitError) Error() string { return e.Msg }

// IsUsage reports whether err is bad input.
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}

// NoArgs refuses positional arguments with a usage error.
func NoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("unexpected argument %q", args[0])
	}
	return nil
}
