package cmdutil

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"time"

	"golang.org/x/term"
)

// Env is what the CLI takes from its process. Tests pass their own.
type Env struct {
	Args           []string
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Environ        func() []string
	LookPath       func(string) (string, error)
	// IsTerminal reports whether stdin is a terminal; ReadPassword reads a
	// line from it without echo.
	IsTerminal   func() bool
	ReadPassword func() ([]byte, error)
	// StdoutIsTerminal reports whether stdout is a terminal (nil: it is
	// not); server text printed there is always escaped.
	StdoutIsTerminal func() bool
	Now              func() time.Time
}

// OSEnv is the real process environment.
func OSEnv() Env {
	in, out := int(os.Stdin.Fd()), int(os.Stdout.Fd())
	return Env{
		Args: os.Args[1:], Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Environ: os.Environ, LookPath: exec.LookPath,
		IsTerminal:       func() bool { return term.IsTerminal(in) },
		ReadPassword:     func() ([]byte, error) { return term.ReadPassword(in) },
		StdoutIsTerminal: func() bool { return term.IsTerminal(out) },
		Now:              time.Now,
	}
}

// IO is the command's terminal: its streams, and what they are connected to.
type IO struct {
	// In is stdin, buffered once for every read (an email prompt, then a
	// password on the next line).
	In          *bufio.Reader
	Out, ErrOut io.Writer
	// InIsTerminal and OutIsTerminal report whether stdin and stdout are
	// terminals.
	InIsTerminal, OutIsTerminal func() bool
	ReadPassword                func() ([]byte, error)
}

// NewIO wraps env's streams.
func NewIO(env Env) *IO {
	outTTY := env.StdoutIsTerminal
	if outTTY == nil {
		outTTY = func() bool { return false }
	}
	return &IO{In: bufio.NewReader(env.Stdin), Out: env.Stdout, ErrOut: env.Stderr,
		InIsTerminal: env.IsTerminal, OutIsTerminal: outTTY, ReadPassword: env.ReadPassword}
}
