package main

import (
	"context"
	"io"
	"net/http"

	"github.com/gatehouse/gatehouse/service/api"
	"github.com/gatehouse/gatehouse/service/internal/server"
)

// run serves the /v1 API (see server.Run).
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	return server.Run(ctx, getenv, stdout, func(o api.Options) http.Handler { return api.New(o) })
}
