package backend

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/identity"
)

const payload = `{"iss":"https://securetoken.google.com/demo-p","aud":"demo-p","sub":"u1","user_id":"u1","email":"ada@example.com","email_verified":true,"iat":1700000000,"exp":1700003600,"firebase":{"sign_in_provider":"password"}}`

func userinfo(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testRoutes is a backend of the kit's own: two routes that read the
// caller's identity and one that does not.
func testRoutes() []Handler {
	whoami := func(c echo.Context) error {
		id, err := CallerIdentity(c)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, id)
	}
	return []Handler{
		{Route: Route{Method: http.MethodGet, Path: "/whoami", Public: true, Identity: true}, Func: whoami},
		{Route: Route{Method: http.MethodGet, Path: "/whoami/again", Public: true, Identity: true}, Func: whoami},
		{Route: Route{Method: http.MethodGet, Path: "/healthz"}, Func: Healthz("rev-1")},
	}
}

func newTestServer(t *testing.T) (*echo.Echo, *syncBuffer) {
	t.Helper()
	return newTestServerWith(t, Options{})
}

// newTestServerWith is newTestServer with options (logger, project and body
// limit are set here, and the gateway's account unless o names one).
func newTestServerWith(t *testing.T, o Options) (*echo.Echo, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	o.Logger, o.ProjectID, o.BodyLimit = slog.New(cloudlog.NewHandler(logs, slog.LevelDebug)), "demo-p", "1K"
	if o.GatewayServiceAccount == "" {
		o.GatewayServiceAccount = gatewaytest.Account
	}
	return mustServer(t, o, testRoutes()), logs
}

func mustServer(t *testing.T, o Options, routes []Handler) *echo.Echo {
	t.Helper()
	e, err := NewServer(o, routes)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// do sends a request as the gateway would: invoked as the gateway's
// account, unless headers set Authorization ("" for none).
func do(e *echo.Echo, method, target string, headers map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", gatewaytest.InvokerToken(gatewaytest.Account))
	for k, v := range headers {
		req.Header.Set(k, v)
		if v == "" {
			req.Header.Del(k)
		}
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want application/json; body %q", ct, rec.Body.String())
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
}

func TestIdentityRequired(t *testing.T) {
	huge := userinfo(`{"sub":"u1","pad":"` + strings.Repeat("x", identity.MaxHeaderLen) + `"}`)
	tests := []struct {
		name, header, wantMsg string
	}{
		{"missing", "", "missing gateway identity"},
		{"garbage base64", "%%%not-base64%%%", "invalid gateway identity"},
		{"base64 of non-JSON", userinfo("definitely not json"), "invalid gateway identity"},
		{"JSON without sub", userinfo(`{"email":"ada@example.com"}`), "invalid gateway identity"},
		{"oversized", huge, "invalid gateway identity"},
		// An identity route once answered 500 here: a time past year 9999 cannot be encoded.
		{"exp beyond year 9999", userinfo(`{"sub":"u1","exp":99999999999999}`), "invalid gateway identity"},
		{"too many audiences", userinfo(`{"sub":"u1","aud":["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"]}`), "invalid gateway identity"},
	}
	for _, tt := range tests {
		for _, path := range []string{"/whoami", "/whoami/again"} {
			t.Run(tt.name+path, func(t *testing.T) {
				e, logs := newTestServer(t)
				h := map[string]string{}
				if tt.header != "" {
					h[identity.Header] = tt.header
				}
				rec := do(e, http.MethodGet, path, h, "")
				var got ErrorBody
				decodeJSON(t, rec, &got)
				if rec.Code != http.StatusUnauthorized || got != (ErrorBody{401, tt.wantMsg}) {
					t.Errorf("GET %s (%s) = %d %+v, want 401 %q", path, tt.name, rec.Code, got, tt.wantMsg)
				}
				if tt.header != "" && (strings.Contains(rec.Body.String(), tt.header) || strings.Contains(logs.String(), tt.header)) {
					t.Error("the userinfo header is echoed in the response or the log")
				}
			})
		}
	}
}

func TestHealthz(t *testing.T) {
	e, _ := newTestServer(t)
	rec := do(e, http.MethodGet, "/healthz", nil, "")
	var got map[string]string
	decodeJSON(t, rec, &got)
	if rec.Code != http.StatusOK || got["status"] != "ok" {
		t.Errorf("GET /healthz = %d %v, want 200 status ok", rec.Code, got)
	}
}

func TestErrorShapes(t *testing.T) {
	e, _ := newTestServer(t)
	id := map[string]string{identity.Header: userinfo(payload)}
	tests := []struct {
		method, path string
		body         string
		want         ErrorBody
	}{
		{http.MethodGet, "/nope", "", ErrorBody{404, "Not Found"}},
		{http.MethodGet, "/whoami/nope", "", ErrorBody{404, "Not Found"}},
		{http.MethodPost, "/whoami", "", ErrorBody{405, "Method Not Allowed"}},
		{http.MethodDelete, "/healthz", "", ErrorBody{405, "Method Not Allowed"}},
		{http.MethodGet, "/whoami", strings.Repeat("b", 2048), ErrorBody{413, "Request Entity Too Large"}},
	}
	for _, tt := range tests {
		rec := do(e, tt.method, tt.path, id, tt.body)
		var got ErrorBody
		decodeJSON(t, rec, &got)
		if rec.Code != tt.want.Code || got != tt.want {
			t.Errorf("%s %s = %d %+v, want %d %+v", tt.method, tt.path, rec.Code, got, tt.want.Code, tt.want)
		}
	}
}

func TestPanicRecovery(t *testing.T) {
	e, logs := newTestServer(t)
	e.GET("/boom", func(echo.Context) error { panic("secret internal detail") })
	e.GET("/fail", func(echo.Context) error { return errors.New("db password=hunter2 rejected") })
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, path := range []string{"/boom", "/fail"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		var got ErrorBody
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if err != nil || res.StatusCode != 500 || got != (ErrorBody{500, "Internal Server Error"}) {
			t.Errorf("GET %s = %d %+v (%v), want 500 Internal Server Error", path, res.StatusCode, got, err)
		}
	}
	// The server keeps serving.
	res, err := http.Get(srv.URL + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after panic = %v, %v, want 200", res, err)
	}
	res.Body.Close()
	if !strings.Contains(logs.String(), "secret internal detail") || !strings.Contains(logs.String(), `"stack_trace":"`) {
		t.Errorf("panic and stack not logged: %s", logs.String())
	}
}

func TestRequestLog(t *testing.T) {
	e, logs := newTestServerWith(t, Options{AccessLog: true})
	const (
		clientToken = "Bearer client.jwt.secret"
	)
	gwToken := gatewaytest.InvokerToken(gatewaytest.Account)
	info := userinfo(payload)
	rec := do(e, http.MethodGet, "/whoami?access_token=query.jwt.secret", map[string]string{
		identity.Header:             info,
		"Authorization":             gwToken,
		"X-Forwarded-Authorization": clientToken,
		"X-Cloud-Trace-Context":     "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1",
		"User-Agent":                "test-agent",
	}, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %q", len(lines), logs.String())
	}
	for _, secret := range []string{"client.jwt.secret", strings.TrimPrefix(gwToken, "Bearer "), "query.jwt.secret", info} {
		if strings.Contains(lines[0], secret) {
			t.Errorf("log line contains secret %q: %s", secret, lines[0])
		}
	}
	var entry struct {
		Severity    string         `json:"severity"`
		Message     string         `json:"message"`
		Trace       string         `json:"logging.googleapis.com/trace"`
		RequestID   string         `json:"requestId"`
		HTTPRequest map[string]any `json:"httpRequest"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Severity != "INFO" || entry.Message != "GET /whoami" || entry.Trace != "projects/demo-p/traces/4bf92f3577b34da6a3ce929d0e0e4736" ||
		entry.RequestID == "" || entry.HTTPRequest["status"] != 200.0 || entry.HTTPRequest["userAgent"] != "test-agent" {
		t.Errorf("log entry = %+v, want INFO \"GET /whoami\" with trace, request id, status 200, user agent", entry)
	}

	// The caller's own X-Forwarded-For is not logged as its address.
	if strings.Contains(lines[0], "remoteIp") {
		t.Errorf("log line has a remoteIp the backend cannot trust: %s", lines[0])
	}

	// Errors are logged with the status the client got.
	do(e, http.MethodGet, "/whoami", map[string]string{"X-Forwarded-For": "203.0.113.66, 198.51.100.1"}, "")
	last := strings.Split(strings.TrimSpace(logs.String()), "\n")[1]
	if !strings.Contains(last, `"severity":"WARNING"`) || !strings.Contains(last, `"status":401`) {
		t.Errorf("401 log line = %s, want WARNING with status 401", last)
	}
	if strings.Contains(last, "203.0.113.66") {
		t.Errorf("the client-set X-Forwarded-For entry is logged as the caller's address: %s", last)
	}
}

func TestCORS(t *testing.T) {
	preflight := map[string]string{"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
		"Access-Control-Request-Headers": "authorization"}
	on := mustServer(t, Options{GatewayServiceAccount: gatewaytest.Account, CORSAllowOrigins: []string{"https://app.example.com"}}, testRoutes())
	rec := do(on, http.MethodOptions, "/whoami", preflight, "")
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight with CORS on = %d %v", rec.Code, rec.Header())
	}
	rec = do(on, http.MethodGet, "/whoami", map[string]string{"Origin": "https://app.example.com", identity.Header: userinfo(payload)}, "")
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("GET with CORS on = %d %v", rec.Code, rec.Header())
	}
	rec = do(on, http.MethodOptions, "/whoami", map[string]string{"Origin": "https://evil.example.com", "Access-Control-Request-Method": "GET"}, "")
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("preflight from another origin got Access-Control-Allow-Origin %q", got)
	}
	off := mustServer(t, Options{GatewayServiceAccount: gatewaytest.Account}, testRoutes())
	rec = do(off, http.MethodGet, "/whoami", map[string]string{"Origin": "https://app.example.com", identity.Header: userinfo(payload)}, "")
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS off still sends Access-Control-Allow-Origin %q", got)
	}
}

// The logging policy: Cloud Run logs every request already, so by default a
// success writes nothing; errors and slow requests do, with the trace fields
// that group them under Cloud Run's request entry. ACCESS_LOG=all (the local
// twin) logs every request.
func TestLoggingPolicy(t *testing.T) {
	ok := map[string]string{identity.Header: userinfo(payload), "X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1"}
	for _, tt := range []struct {
		name      string
		opts      Options
		wantLines int // for 1,000 successful requests
	}{
		{"default", Options{}, 0},
		{"access log on", Options{AccessLog: true}, 1000},
		{"every request slow", Options{SlowRequest: time.Nanosecond}, 1000},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, logs := newTestServerWith(t, tt.opts)
			for range 1000 {
				if rec := do(e, http.MethodGet, "/whoami", ok, ""); rec.Code != http.StatusOK {
					t.Fatalf("status %d", rec.Code)
				}
			}
			lines := strings.Count(logs.String(), "\n")
			if lines != tt.wantLines {
				t.Errorf("1,000 OK requests wrote %d lines (%d bytes), want %d", lines, len(logs.String()), tt.wantLines)
			}
			// An error is always logged, with the trace that groups it.
			before := logs.String()
			do(e, http.MethodGet, "/whoami", map[string]string{"X-Cloud-Trace-Context": "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1"}, "")
			last := strings.TrimPrefix(logs.String(), before)
			if !strings.Contains(last, `"severity":"WARNING"`) || !strings.Contains(last, `"logging.googleapis.com/trace":"projects/demo-p/traces/4bf92f3577b34da6a3ce929d0e0e4736"`) {
				t.Errorf("401 line = %q, want WARNING with the trace", last)
			}
		})
	}
}

func TestRequestIDsUnique(t *testing.T) {
	a, b := newRequestIDs(), newRequestIDs()
	seen := map[string]bool{}
	for range 10000 {
		for _, id := range []string{a.next(), b.next()} {
			if seen[id] || id == "" {
				t.Fatalf("request id %q repeated", id)
			}
			seen[id] = true
		}
	}
	e, _ := newTestServer(t)
	r1 := do(e, http.MethodGet, "/healthz", nil, "").Header().Get(echo.HeaderXRequestID)
	r2 := do(e, http.MethodGet, "/healthz", nil, "").Header().Get(echo.HeaderXRequestID)
	if r1 == "" || r1 == r2 {
		t.Errorf("X-Request-Id %q, %q: want two distinct ids", r1, r2)
	}
}
