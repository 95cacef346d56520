// Command notes is gatehouse's second example backend (package notes): a
// per-user notes API under /v2 on its own Cloud Run service behind the same
// gateway. Its image is cmd/notes/Dockerfile built with service/ as context
// and --build-arg CMD=./cmd/notes.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/notes"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "notes: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return backend.Run(ctx, getenv, stdout, notes.New)
}
