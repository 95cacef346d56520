package backend

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
)

// ErrorBody is the JSON shape of every error response.
type ErrorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
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
