package backend

import (
	"errors"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
)

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
