// Command gatehouse signs users up and in with Firebase Authentication and
// calls a gatehouse API through its gateway. Run `gatehouse --help`.
package main

import (
	"os"

	"github.com/gatehouse/gatehouse/client/internal/cmd/root"
	"github.com/gatehouse/gatehouse/client/internal/cmdutil"
)

func main() {
	os.Exit(root.Main(cmdutil.OSEnv()))
}
