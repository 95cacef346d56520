package backend

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/labstack/echo/v4"
)

// UnsupportedMediaType is the message of the 415 a JSON operation answers
// to a body of another type: it names the header to send.
const UnsupportedMediaType = "the body must be JSON, sent with Content-Type: application/json"

// BindJSON decodes the request's JSON body into v. A body sent with any
// other Content-Type (curl -d sends a form; none at all is another) is
// refused with 415 naming the header to send, rather than read as
// something it is not; a body that is not JSON of v's shape gets 400. The
// messages never quote the body. Every handler that takes a JSON body
// reads it with BindJSON.
func BindJSON(c echo.Context, v any) error {
	mt, _, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, UnsupportedMediaType)
	}
	if err := json.NewDecoder(c.Request().Body).Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var tooLarge *echo.HTTPError
		switch {
		case errors.As(err, &tooLarge): // the body limit's 413
			return err
		case errors.Is(err, io.EOF):
			return echo.NewHTTPError(http.StatusBadRequest, "the body is empty: send a JSON object").WithInternal(err)
		case errors.As(err, &typ) && typ.Field != "":
			return echo.NewHTTPError(http.StatusBadRequest, "the body's field "+typ.Field+" has the wrong type").WithInternal(err)
		case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
			return echo.NewHTTPError(http.StatusBadRequest, "the body is not valid JSON").WithInternal(err)
		default:
			return echo.NewHTTPError(http.StatusBadRequest, "the body is not a JSON object of the expected shape").WithInternal(err)
		}
	}
	return nil
}
