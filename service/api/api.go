// Package api is the backend's HTTP surface: routes, handlers and the
// middleware stack, wired on an echo instance.
package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
	"github.com/gatehouse/gatehouse/service/internal/identity"
)

// Defaults for Options.
const (
	DefaultBodyLimit      = "1M"
	DefaultRequestTimeout = 25 * time.Second
	DefaultSlowRequest    = time.Second
)

// Options configures New.
type Options struct {
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
}

// Route is one method and path the backend serves.
type Route struct {
	Method, Path string
	Public       bool // served to the gateway's callers (declared in the API spec)
	// Identity: the handler reads the caller identity the gateway forwards
	// in X-Apigateway-Api-Userinfo. The spec must secure such a route: API
	// Gateway (Envoy's jwt_authn) removes a client's copy of that header
	// only on operations with a JWT requirement, so on any other operation
	// a client could forge it. The drift guard in local/ checks this.
	Identity bool
}

// Handler is a Route with its handler. NewServer registers exactly these,
// adding the identity middleware where Identity is set.
type Handler struct {
	Route
	Func echo.HandlerFunc
}

func routeTable(h *handlers) []Handler {
	return []Handler{
		{Route{http.MethodGet, "/v1/hello", true, true}, h.hello},
		{Route{http.MethodGet, "/v1/me", true, true}, h.me},
		{Route{http.MethodGet, "/healthz", false, false}, Healthz(h.revision)},
	}
}

// Routes lists every route New registers. The spec drift guard compares the
// public ones with the OpenAPI document.
func Routes() []Route { return RoutesOf(routeTable(&handlers{})) }

// RoutesOf lists the routes of a handler table.
func RoutesOf(hs []Handler) []Route {
	var out []Route
	for _, h := range hs {
		out = append(out, h.Route)
	}
	return out
}

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type helloResponse struct {
	Message string `json:"message"`
}

type handlers struct {
	revision string
}

// New returns the /v1 backend's echo instance with all routes and middleware.
func New(o Options) *echo.Echo { return NewServer(o, routeTable(&handlers{revision: o.Revision})) }

// NewServer returns an echo instance with gatehouse's middleware stack
// (request ids, JSON logs, recovery, body limit, deadline, CORS when
// configured, JSON errors) serving routes. Every gatehouse backend is built
// on it, so they share one identity check.
func NewServer(o Options, routes []Handler) *echo.Echo {
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

	requireIdentity := gatewayIdentity(identity.NewCache(identityCacheBytes))
	// Route-level rather than group middleware: an echo group with middleware
	// claims every method under its prefix, which would turn 405s into 404s.
	for _, r := range routes {
		var mw []echo.MiddlewareFunc
		if r.Identity {
			mw = append(mw, requireIdentity)
		}
		e.Add(r.Method, r.Path, r.Func, mw...)
	}
	return e
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

func (h *handlers) hello(c echo.Context) error {
	id, err := CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, helloResponse{Message: "Hello, " + id.Name() + "!"})
}

func (h *handlers) me(c echo.Context) error {
	id, err := CallerIdentity(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, id)
}

// CallerIdentity is the verified caller of a route registered with
// Identity.
func CallerIdentity(c echo.Context) (identity.Identity, error) {
	id, ok := identity.FromContext(c.Request().Context())
	if !ok {
		// Only reachable if a route is registered without gatewayIdentity.
		return identity.Identity{}, echo.NewHTTPError(http.StatusUnauthorized, "missing gateway identity")
	}
	return id, nil
}

// identityCacheBytes bounds the decoded-identity cache: about 4,000 callers'
// identities (~1 KiB each), a small part of the smallest instance's memory.
const identityCacheBytes = 4 << 20

// gatewayIdentity requires the identity API Gateway forwards and puts it in
// the request context. See package identity for why the header is trusted.
func gatewayIdentity(cache *identity.Cache) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			id, err := cache.Decode(req.Header.Get(identity.Header))
			if err != nil {
				// The message comes from a fixed set of errors and never quotes the header.
				return echo.NewHTTPError(http.StatusUnauthorized, unauthorizedMessage(err)).WithInternal(err)
			}
			c.SetRequest(req.WithContext(identity.NewContext(req.Context(), id)))
			return next(c)
		}
	}
}

func unauthorizedMessage(err error) string {
	switch {
	case errors.Is(err, identity.ErrMissing):
		return "missing gateway identity"
	default:
		return "invalid gateway identity"
	}
}

// errorHandler writes every error as JSON {"code":N,"message":"..."}.
// Messages of 5xx errors are never passed to the client.
func errorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code := http.StatusInternalServerError
		msg := http.StatusText(code)
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if m, ok := he.Message.(string); ok && code < 500 {
				msg = m
			} else {
				msg = http.StatusText(code)
			}
		}
		if code >= 500 {
			logger.ErrorContext(c.Request().Context(), "request failed", slog.String("error", err.Error()))
		}
		var werr error
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(code)
		} else {
			werr = c.JSON(code, ErrorBody{Code: code, Message: msg})
		}
		if werr != nil {
			logger.WarnContext(c.Request().Context(), "write error response", slog.String("error", werr.Error()))
		}
	}
}

// requestLogger logs requests with Cloud Logging's httpRequest and trace
// fields: with all, every request; otherwise only 4xx, 5xx and requests
// slower than slow. It hands errors to the error handler first so that the
// logged status is the one the client got. No header values are logged.
func requestLogger(logger *slog.Logger, projectID string, all bool, slow time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			req, res := c.Request(), c.Response()
			level := slog.LevelInfo
			switch {
			case res.Status >= 500:
				level = slog.LevelError
			case res.Status >= 400:
				level = slog.LevelWarn
			case all:
			case time.Since(start) >= slow:
				level = slog.LevelWarn // a success, but slow: worth a line
			default:
				return nil // Cloud Run's request log has it
			}
			if !logger.Enabled(req.Context(), level) {
				return nil
			}
			attrs := []slog.Attr{
				cloudlog.HTTPRequest{
					Method:    req.Method,
					URL:       req.URL,
					Status:    res.Status,
					Latency:   time.Since(start),
					UserAgent: req.UserAgent(),
					// No remoteIp: behind API Gateway the first X-Forwarded-For
					// entry is whatever the caller sent, and the TCP peer is
					// Google's front end. Cloud Run's own request log records
					// the address Google saw.
					Protocol:     req.Proto,
					RequestSize:  req.ContentLength,
					ResponseSize: res.Size,
				}.Attr(),
				slog.String("requestId", res.Header().Get(echo.HeaderXRequestID)),
			}
			if err != nil {
				attrs = append(attrs, slog.String("error", errorSummary(err)))
			}
			attrs = append(attrs, cloudlog.TraceAttrs(projectID, req.Header)...)
			logger.LogAttrs(req.Context(), level, req.Method+" "+c.Path(), attrs...)
			return nil
		}
	}
}

// errorSummary describes err for the log: the internal cause of an HTTP error
// when there is one (never a header value: see identity.Decode).
func errorSummary(err error) string {
	var he *echo.HTTPError
	if errors.As(err, &he) && he.Internal != nil {
		return he.Internal.Error()
	}
	return err.Error()
}

// requestIDs makes request ids cheaply: a random prefix per instance and a
// counter. Echo's default draws 32 random characters per request, which
// showed in the profile; uniqueness is all an id needs (it ties a log line
// to the X-Request-Id a client saw).
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (r *requestIDs) next() string {
	return r.prefix + strconv.FormatUint(r.n.Add(1), 36)
}
