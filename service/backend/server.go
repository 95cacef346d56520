// Package backend is the kit every gatehouse backend is built on: an echo
// server with gatehouse's middleware (request ids, Cloud Logging JSON logs,
// recovery, body limit, deadline, CORS, JSON errors), the caller-identity
// check, and Run, which serves it the way Cloud Run expects. A backend is a
// table of Handlers and a main that calls Run (see service/hello and
// service/notes).
package backend

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/gatehouse/gatehouse/service/internal/identity"
)

// Defaults for Options.
const (
	DefaultBodyLimit      = "1M"
	DefaultRequestTimeout = 25 * time.Second
	DefaultSlowRequest    = time.Second
)

// Options configures NewServer.
type Options struct {
	// GatewayServiceAccount is the email of the service account the gateway
	// invokes backends as (GATEWAY_SERVICE_ACCOUNT). Identity routes serve
	// only requests invoked as it (see invoker.go); a server with identity
	// routes is not built without it.
	GatewayServiceAccount string

	Logger         *slog.Logger
	ProjectID      string        // for trace links in logs; may be empty
	Service        string        // K_SERVICE, reported by /healthz
	Revision       string        // K_REVISION, reported by /healthz
	BodyLimit      string        // e.g. "1M"; DefaultBodyLimit if empty
	RequestTimeout time.Duration // request context deadline; DefaultRequestTimeout if zero
	// CORSAllowOrigins turns on CORS for these origins ("*" for any). The
	// gateway passes browsers' preflight OPTIONS requests through when the
	// spec allows CORS; the backend answers them.
	CORSAllowOrigins []string
	// AccessLog logs every request. Off by default: Cloud Run already writes
	// a request log entry for every request (status, latency, trace, user
	// agent), so a line per success would be logged, and paid for, twice.
	// Without it, only 4xx (warning), 5xx (error) and slow requests are
	// logged, with the trace fields that group them under Cloud Run's entry.
	AccessLog bool
	// SlowRequest is the latency from which a successful request is logged
	// anyway; DefaultSlowRequest if zero.
	SlowRequest time.Duration
	// MemoryLimit is the Go soft memory limit Run set (GOMEMLIMIT, or 90%
	// of the container's memory), 0 if none: what a backend sizes its
	// in-memory state by. NewServer does not use it.
	MemoryLimit int64
	// RequireEmailVerified refuses (403) callers whose token does not say
	// email_verified: true, on every route that reads the identity
	// (REQUIRE_EMAIL_VERIFIED=true). Sign-up is open by default, so without
	// it anyone who signs up with any address can call those routes.
	RequireEmailVerified bool
}

// Route is one method and path a backend serves.
type Route struct {
	Method, Path string
	Public       bool // served to the gateway's callers (declared in the API spec)
	// Identity: the handler reads the caller identity the gateway forwards
	// in X-Apigateway-Api-Userinfo. The spec must secure such a route: API
	// Gateway (Envoy's jwt_authn) removes a client's copy of that header
	// only on operations with a JWT requirement, so on any other operation
	// a client could forge it. The drift guard in local/ checks this.
	Identity bool
	// Roles: the caller must hold at least one of these roles (the
	// verified token's roles claim, identity.RolesClaim), else 403. Empty:
	// every verified caller. Needs Identity. The route's operation in the
	// backend's spec fragment declares the same roles in x-gatehouse-roles
	// (the drift guard in local/ keeps them in step). Role names are
	// RoleNameRule.
	Roles []string
}

// Handler is a Route with its handler. NewServer registers exactly these,
// adding the identity middleware where Identity is set.
type Handler struct {
	Route
	Func echo.HandlerFunc
}

// RoutesOf lists the routes of a handler table (a backend's Routes, which
// the spec drift guard compares with its fragment).
func RoutesOf(hs []Handler) []Route {
	var out []Route
	for _, h := range hs {
		out = append(out, h.Route)
	}
	return out
}

// NewServer returns an echo instance with gatehouse's middleware stack
// (request ids, JSON logs, recovery, body limit, deadline, CORS when
// configured, JSON errors) serving routes. Every gatehouse backend is built
// on it, so they share one identity check. Routes that read the identity
// need o.GatewayServiceAccount; without it NewServer fails.
func NewServer(o Options, routes []Handler) (*echo.Echo, error) {
	for _, r := range routes {
		if err := checkRoles(r.Route); err != nil {
			return nil, err
		}
	}
	for _, r := range routes {
		if r.Identity {
			if err := checkGatewayAccount(o.GatewayServiceAccount); err != nil {
				return nil, fmt.Errorf("%s %s reads the caller's identity: %w", r.Method, r.Path, err)
			}
			break
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BodyLimit == "" {
		o.BodyLimit = DefaultBodyLimit
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.SlowRequest == 0 {
		o.SlowRequest = DefaultSlowRequest
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(o.Logger)

	e.Use(
		middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestIDs().next}),
		requestLogger(o.Logger, o.ProjectID, o.AccessLog, o.SlowRequest),
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			StackSize: 8 << 10,
			LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
				o.Logger.ErrorContext(c.Request().Context(), "panic serving request",
					slog.String("error", err.Error()),
					slog.String("stack_trace", string(stack)),
					slog.String("path", c.Path()))
				return err // the error handler turns it into a bare 500
			},
		}),
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
			Limit: o.BodyLimit,
			// A request without a body (every GET the API serves) has
			// nothing to limit: skip wrapping its http.NoBody.
			Skipper: func(c echo.Context) bool { return c.Request().Body == http.NoBody },
		}),
		middleware.ContextTimeout(o.RequestTimeout),
	)
	if len(o.CORSAllowOrigins) > 0 {
		methods := []string{http.MethodHead, http.MethodOptions}
		for _, r := range routes {
			if !slices.Contains(methods, r.Method) {
				methods = append(methods, r.Method)
			}
		}
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: o.CORSAllowOrigins,
			AllowMethods: methods,
			AllowHeaders: []string{echo.HeaderAuthorization, echo.HeaderContentType},
			MaxAge:       3600,
		}))
	}

	requireIdentity := gatewayIdentity(newInvokerCheck(o.GatewayServiceAccount), identity.NewCache(identityCacheBytes), o.RequireEmailVerified)
	// Route-level rather than group middleware: an echo group with middleware
	// claims every method under its prefix, which would turn 405s into 404s.
	for _, r := range routes {
		var mw []echo.MiddlewareFunc
		if r.Identity {
			mw = append(mw, requireIdentity)
		}
		if len(r.Roles) > 0 {
			mw = append(mw, requireRoles(r.Roles)) // after the identity: it reads it
		}
		e.Add(r.Method, r.Path, r.Func, mw...)
	}
	return e, nil
}

// Healthz answers the health check with the revision, when known.
func Healthz(revision string) echo.HandlerFunc {
	return func(c echo.Context) error {
		body := map[string]string{"status": "ok"}
		if revision != "" {
			body["revision"] = revision
		}
		return c.JSON(http.StatusOK, body)
	}
}
