// Command notes is gatehouse's second example backend (package notes): a
// per-user notes API under /v2, deployed as its own Cloud Run service
// behind the same gateway. Its image is service/Dockerfile built with
// --build-arg CMD=./cmd/notes.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/gatehouse/gatehouse/service/api"
	"github.com/gatehouse/gatehouse/service/internal/server"
	"github.com/gatehouse/gatehouse/service/notes"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "notes: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return server.Run(ctx, getenv, stdout, func(o api.Options) http.Handler { return notes.New(o) })
}
