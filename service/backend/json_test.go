package backend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestBindJSON: the kit's JSON body reader, as a handler uses it.
func TestBindJSON(t *testing.T) {
	type in struct {
		Text string `json:"text"`
		N    int    `json:"n"`
	}
	e := mustServer(t, Options{BodyLimit: "1K"}, []Handler{{Route: Route{Method: http.MethodPost, Path: "/echo", Public: true},
		Func: func(c echo.Context) error {
			var v in
			if err := BindJSON(c, &v); err != nil {
				return err
			}
			return c.JSON(http.StatusOK, v)
		}}})
	for _, tt := range []struct {
		name, contentType, body string
		want                    ErrorBody // Code 200: accepted
	}{
		{"JSON", "application/json", `{"text":"hi","n":2}`, ErrorBody{Code: 200}},
		{"JSON with charset", "application/json; charset=utf-8", `{"text":"hi"}`, ErrorBody{Code: 200}},
		{"a form (curl -d)", "application/x-www-form-urlencoded", `text=hi`, ErrorBody{415, UnsupportedMediaType}},
		{"a form holding JSON", "application/x-www-form-urlencoded", `{"text":"hi"}`, ErrorBody{415, UnsupportedMediaType}},
		{"no Content-Type", "", `{"text":"hi"}`, ErrorBody{415, UnsupportedMediaType}},
		{"a malformed Content-Type", "application/json;;", `{"text":"hi"}`, ErrorBody{415, UnsupportedMediaType}},
		{"empty", "application/json", ``, ErrorBody{400, "the body is empty: send a JSON object"}},
		{"not JSON", "application/json", `text=secret-value`, ErrorBody{400, "the body is not valid JSON"}},
		{"cut short", "application/json", `{"text":"sec`, ErrorBody{400, "the body is not valid JSON"}},
		{"wrong type", "application/json", `{"n":"secret-value"}`, ErrorBody{400, "the body's field n has the wrong type"}},
		{"too large", "application/json", `{"text":"` + strings.Repeat("x", 2048) + `"}`, ErrorBody{413, "Request Entity Too Large"}},
	} {
		req := httptest.NewRequest(http.MethodPost, "/echo", strings.NewReader(tt.body))
		if tt.contentType != "" {
			req.Header.Set(echo.HeaderContentType, tt.contentType)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if tt.want.Code == 200 {
			if rec.Code != 200 {
				t.Errorf("%s: %d %s, want 200", tt.name, rec.Code, rec.Body.String())
			}
			continue
		}
		var got ErrorBody
		decodeJSON(t, rec, &got)
		if rec.Code != tt.want.Code || got != tt.want {
			t.Errorf("%s: %d %+v, want %+v", tt.name, rec.Code, got, tt.want)
		}
		if strings.Contains(rec.Body.String(), "secret-value") {
			t.Errorf("%s: the body is quoted back: %s", tt.name, rec.Body.String())
		}
	}
}
