// Package server runs a gatehouse backend the way Cloud Run expects: the
// port and settings from the environment, structured logs, a memory limit
// from the cgroup, and a graceful shutdown on SIGTERM within Cloud Run's
// 10 s. Every backend command calls Run with its own handler.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/service/api"
	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
)

// ShutdownGrace is how long in-flight requests get after SIGTERM.
const ShutdownGrace = 8 * time.Second

// Server limits. Cloud Run sends SIGTERM and kills the container 10 s later,
// so in-flight requests get shutdownGrace to finish.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = api.DefaultRequestTimeout + 5*time.Second
	idleTimeout       = 120 * time.Second
	// API Gateway runs ESPv2 (Envoy), whose request headers are capped at
	// 60 KiB by default (HTTP connection manager max_request_headers_kb):
	// the gateway cannot send more, so neither is accepted here.
	maxHeaderBytes = 64 << 10
	shutdownGrace  = ShutdownGrace
)

type config struct {
	// host is the address to listen on: empty means every interface, as
	// Cloud Run needs; the local twin sets LISTEN_HOST=127.0.0.1 so nothing
	// but the local gateway on this machine can reach the backend.
	host        string
	port        int
	logLevel    slog.Level
	service     string
	revision    string
	projectID   string
	corsOrigins []string
	accessLog   bool          // ACCESS_LOG=all: log every request (local debugging)
	slowRequest time.Duration // SLOW_REQUEST: successes this slow are logged
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		port:      8080,
		service:   getenv("K_SERVICE"),
		revision:  getenv("K_REVISION"),
		projectID: getenv("GOOGLE_CLOUD_PROJECT"),
	}
	if h := getenv("LISTEN_HOST"); h != "" {
		if ip := net.ParseIP(h); ip == nil {
			return config{}, fmt.Errorf("invalid LISTEN_HOST %q: want an IP address such as 127.0.0.1 (unset: every interface)", h)
		}
		c.host = h
	}
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return config{}, fmt.Errorf("invalid PORT %q: want a number from 1 to 65535", p)
		}
		c.port = n
	}
	lvl, err := cloudlog.ParseLevel(getenv("LOG_LEVEL"))
	if err != nil {
		return config{}, fmt.Errorf("invalid LOG_LEVEL: %w", err)
	}
	c.logLevel = lvl
	switch v := getenv("ACCESS_LOG"); v {
	case "", "errors":
	case "all":
		c.accessLog = true
	default:
		return config{}, fmt.Errorf("invalid ACCESS_LOG %q: want errors (the default: 4xx, 5xx and slow requests) or all", v)
	}
	if v := getenv("SLOW_REQUEST"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return config{}, fmt.Errorf("invalid SLOW_REQUEST %q: want a positive duration such as 1s", v)
		}
		c.slowRequest = d
	}
	for _, o := range strings.Split(getenv("CORS_ALLOW_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				return config{}, fmt.Errorf("invalid CORS_ALLOW_ORIGINS entry %q: want * or an origin such as https://app.example.com", o)
			}
			o = strings.TrimSuffix(o, "/")
		}
		c.corsOrigins = append(c.corsOrigins, o)
	}
	return c, nil
}

// run serves until ctx is cancelled or SIGTERM/SIGINT arrives, then drains
// in-flight requests for at most shutdownGrace.
// Run serves the handler newHandler builds until ctx is done or a SIGINT or
// SIGTERM arrives, then shuts down gracefully.
func Run(ctx context.Context, getenv func(string) string, stdout io.Writer, newHandler func(api.Options) http.Handler) error {
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
	if cfg.service != "" {
		logger = logger.With(slog.String("service", cfg.service), slog.String("revision", cfg.revision))
	}

	srv := &http.Server{
		Handler: newHandler(api.Options{
			Logger:           logger,
			ProjectID:        cfg.projectID,
			Service:          cfg.service,
			Revision:         cfg.revision,
			CORSAllowOrigins: cfg.corsOrigins,
			AccessLog:        cfg.accessLog,
			SlowRequest:      cfg.slowRequest,
		}),
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
	logger.Info("shutting down", slog.String("grace", shutdownGrace.String()))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
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

// containerMemory reads the container's memory limit from the cgroup (v2,
// then v1). Cloud Run sets it to the service's memory limit. No limit
// ("max", or a v1 value near the maximum int64) reports false.
func containerMemory(readFile func(string) ([]byte, error)) (int64, bool) {
	for _, path := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0, false // "max" or unlimited
		}
		return n, true
	}
	return 0, false
}
