// Command emulator installs the pinned Firebase Auth emulator (npm package
// firebase-tools) into the checkout's .cache/firebase: `make emulator` runs
// `go run ./cmd/emulator install`. The version lives in one place, the
// emulator package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gatehouse/gatehouse/local/emulator"
	"github.com/gatehouse/gatehouse/local/internal/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "emulator: %v\n", err)
		os.Exit(2)
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "emulator: %v\n", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "", "the gatehouse checkout (default: the one holding the current directory)")
	verbose := fs.Bool("v", false, "show npm's own output (its errors are in the error message anyway)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: emulator [-root DIR] [-v] install\n\n"+
			"install: install firebase-tools@%s (the Firebase Auth emulator) into .cache/firebase,\n"+
			"unless it is there already, and print where its CLI is.\n", emulator.FirebaseToolsVersion)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "install" {
		return usageError{errors.New("want one command, install (see emulator -h)")}
	}
	dir := *root
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if dir, err = testenv.RepoRoot(wd); err != nil {
			return fmt.Errorf("run from the gatehouse checkout: %w", err)
		}
	}
	var npmLog io.Writer = io.Discard
	if *verbose {
		npmLog = stderr
	}
	bin, err := emulator.Install(ctx, emulator.CacheDir(dir), stdout, npmLog)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Firebase Auth emulator: firebase-tools@%s, %s\n", emulator.FirebaseToolsVersion, bin)
	return nil
}
