package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
)

// ShutdownGrace is how long in-flight requests get after SIGTERM.
const ShutdownGrace = 8 * time.Second

// Server limits. Cloud Run sends SIGTERM and kills the container 10 s later,
// so in-flight requests get ShutdownGrace to finish.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = DefaultRequestTimeout + 5*time.Second
	idleTimeout       = 120 * time.Second
	// API Gateway runs ESPv2 (Envoy), whose request headers are capped at
	// 60 KiB by default (HTTP connection manager max_request_headers_kb):
	// the gateway cannot send more, so neither is accepted here.
	maxHeaderBytes = 64 << 10
)

// Run serves the backend newServer builds the way Cloud Run expects: the
// port and settings from the environment (getenv), structured logs on
// stdout, a Go memory limit derived from the container's, until ctx is done
// or a SIGINT or SIGTERM arrives; then it drains in-flight requests for at
// most ShutdownGrace (Cloud Run kills the container 10 s after SIGTERM).
// Every backend's main calls it with its own constructor.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer, newServer func(Options) (*echo.Echo, error)) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	handler := cloudlog.NewHandler(stdout, cfg.logLevel)
	logger := slog.New(handler)
	// A soft memory limit below the container's, so the GC works harder
	// before the instance is killed for memory. GOMEMLIMIT, when set, wins.
	if getenv("GOMEMLIMIT") == "" {
		if limit, ok := containerMemory(os.ReadFile); ok {
			debug.SetMemoryLimit(limit / 10 * 9)
			logger.Info("memory limit", slog.String("container", fmt.Sprintf("%dMiB", limit>>20)), slog.String("goSoftLimit", fmt.Sprintf("%dMiB", (limit/10*9)>>20)))
		}
	}
	memoryLimit := debug.SetMemoryLimit(-1) // reads it: GOMEMLIMIT's, or the one just set
	if memoryLimit == math.MaxInt64 {
		memoryLimit = 0 // none
	}
	if cfg.service != "" {
		logger = logger.With(slog.String("service", cfg.service), slog.String("revision", cfg.revision))
	}

	e, err := newServer(Options{
		GatewayServiceAccount: cfg.gatewayAccount,
		Logger:                logger,
		ProjectID:             cfg.projectID,
		Service:               cfg.service,
		Revision:              cfg.revision,
		CORSAllowOrigins:      cfg.corsOrigins,
		AccessLog:             cfg.accessLog,
		SlowRequest:           cfg.slowRequest,
		RequireEmailVerified:  cfg.requireEmailVerified,
		MemoryLimit:           memoryLimit,
	})
	if err != nil {
		return err
	}
	if listensOnLoopback(cfg.host) {
		e.Pre(loopbackHostsOnly) // the local twin: see loopback.go
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(handler, slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return fmt.Errorf("listen on port %d of %s: %w", cfg.port, firstNonEmpty(cfg.host, "every interface"), err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("listening", slog.String("addr", ln.Addr().String()))

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second signal now kills the process the default way
	logger.Info("shutting down", slog.String("grace", ShutdownGrace.String()))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close() // grace period over: drop what is left
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
