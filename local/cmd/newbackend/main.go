// Command newbackend adds a backend to the checkout: `make new-backend
// NAME=greet PREFIX=/v3/ [STACK=greet]` runs it (package scaffold says what
// it writes).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
	"github.com/gatehouse/gatehouse/local/scaffold"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintf(os.Stderr, "new-backend: %v\n", err)
		}
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("new-backend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the backend's name: its Go package (service/NAME), command (service/cmd/NAME) and stack entry")
	prefix := fs.String("prefix", "", "the path prefix it serves, such as /v3/")
	stackFile := fs.String("stack-file", "", "the stack file that gets its entry (default Pulumi.NAME.yaml, made from Pulumi.v2.yaml when missing)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *stackFile == "" {
		*stackFile = "Pulumi." + *name + ".yaml"
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	root, err := testenv.RepoRoot(wd)
	if err != nil {
		return fmt.Errorf("run from the gatehouse checkout: %w", err)
	}
	written, err := scaffold.Write(scaffold.Options{Root: root, Name: *name, Prefix: *prefix, StackFile: *stackFile})
	if err != nil {
		return err
	}
	stack := strings.TrimSuffix(strings.TrimPrefix(*stackFile, "Pulumi."), ".yaml")
	fmt.Fprintf(stdout, "added the %s backend (%s%s):\n", *name, *prefix, *name)
	for _, f := range written {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	fmt.Fprintf(stdout, `next:
  make local STACK=%[1]s          # run it behind the local gateway: gatehouse call %[2]s%[3]s
  make plan STACK=%[1]s           # preview the deployment offline
  make image-test STACK=%[1]s     # build every backend image of the stack, as pulumi up will
  cd service && go test ./%[3]s/   # its own test
  cd local && go test ./drift/ ./image/    # its routes against its fragment; its ignore file against go list
`, stack, *prefix, *name)
	return nil
}
