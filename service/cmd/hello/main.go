// Command hello is gatehouse's /v1 backend (package hello), a small JSON API
// on its own Cloud Run service behind API Gateway. Its image is
// cmd/hello/Dockerfile built with service/ as context and
// --build-arg CMD=./cmd/hello.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/hello"
)

func main() {
	if err := run(context.Background(), os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return backend.Run(ctx, getenv, stdout, hello.New)
}
