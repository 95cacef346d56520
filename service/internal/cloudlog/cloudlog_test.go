package cloudlog

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHandlerFieldNames(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, slog.LevelDebug))
	log.Warn("disk low", slog.Int("free", 3))
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("log line %q is not JSON: %v", buf.String(), err)
	}
	if got["severity"] != "WARNING" || got["message"] != "disk low" || got["free"] != 3.0 {
		t.Errorf("log line = %v, want severity WARNING, message \"disk low\", free 3", got)
	}
	for _, k := range []string{"level", "msg"} {
		if _, ok := got[k]; ok {
			t.Errorf("log line has slog key %q, want it renamed", k)
		}
	}
}

func TestHandlerLevel(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(&buf, slog.LevelWarn))
	log.Info("hidden")
	if buf.Len() != 0 {
		t.Errorf("info logged at warn level: %q", buf.String())
	}
}

func TestSeverity(t *testing.T) {
	for l, want := range map[slog.Level]string{
		slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelWarn: "WARNING",
		slog.LevelError: "ERROR", slog.LevelError + 4: "ERROR", slog.LevelDebug - 4: "DEBUG",
	} {
		if got := Severity(l); got != want {
			t.Errorf("Severity(%v) = %q, want %q", l, got, want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "DEBUG": slog.LevelDebug, "warning": slog.LevelWarn, " error ": slog.LevelError} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) succeeded, want error")
	}
}

func TestTraceAttrs(t *testing.T) {
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name    string
		project string
		headers map[string]string
		want    map[string]any
	}{
		{"traceparent", "p1", map[string]string{"Traceparent": "00-" + tid + "-00f067aa0ba902b7-01"},
			map[string]any{TraceKey: "projects/p1/traces/" + tid, SpanIDKey: "00f067aa0ba902b7", TraceSampledKey: true}},
		{"cloud trace decimal span", "p1", map[string]string{"X-Cloud-Trace-Context": tid + "/255;o=1"},
			map[string]any{TraceKey: "projects/p1/traces/" + tid, SpanIDKey: "00000000000000ff", TraceSampledKey: true}},
		{"cloud trace no span", "p1", map[string]string{"X-Cloud-Trace-Context": tid},
			map[string]any{TraceKey: "projects/p1/traces/" + tid, TraceSampledKey: false}},
		{"traceparent preferred", "p1", map[string]string{"Traceparent": "00-" + tid + "-00f067aa0ba902b7-00", "X-Cloud-Trace-Context": "11111111111111111111111111111111/1;o=1"},
			map[string]any{TraceKey: "projects/p1/traces/" + tid, SpanIDKey: "00f067aa0ba902b7", TraceSampledKey: false}},
		{"bad traceparent falls back", "p1", map[string]string{"Traceparent": "garbage", "X-Cloud-Trace-Context": tid + "/1"},
			map[string]any{TraceKey: "projects/p1/traces/" + tid, SpanIDKey: "0000000000000001", TraceSampledKey: false}},
		{"no project", "", map[string]string{"Traceparent": "00-" + tid + "-00f067aa0ba902b7-01"}, map[string]any{}},
		{"zero trace id", "p1", map[string]string{"X-Cloud-Trace-Context": strings.Repeat("0", 32) + "/1"}, map[string]any{}},
		{"short trace id", "p1", map[string]string{"X-Cloud-Trace-Context": "abc/1"}, map[string]any{}},
		{"non-numeric span", "p1", map[string]string{"X-Cloud-Trace-Context": tid + "/zz"}, map[string]any{}},
		{"none", "p1", nil, map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.headers {
				h.Set(k, v)
			}
			got := map[string]any{}
			for _, a := range TraceAttrs(tt.project, h) {
				got[a.Key] = a.Value.Any()
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TraceAttrs(%q, %v) = %v, want %v", tt.project, tt.headers, got, tt.want)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := map[string]string{
		"/v1/hello":                       "/v1/hello",
		"/v1/hello?x=1":                   "/v1/hello?x=1",
		"/v1/hello?access_token=eyJ.a.b":  "/v1/hello?access_token=REDACTED",
		"/v1/me?Key=abc&page=2":           "/v1/me?Key=REDACTED&page=2",
		"/v1/me?token=a&token=b&id_token": "/v1/me?id_token=REDACTED&token=REDACTED&token=REDACTED",
		"/v1/me?%zz=secret":               "/v1/me?REDACTED",
	}
	for in, want := range tests {
		u, err := url.ParseRequestURI(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := RedactURL(u); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	if got := RedactURL(nil); got != "" {
		t.Errorf("RedactURL(nil) = %q, want empty", got)
	}
}

func TestHTTPRequestAttr(t *testing.T) {
	var buf bytes.Buffer
	u, _ := url.ParseRequestURI("/v1/hello?access_token=secret-token")
	slog.New(NewHandler(&buf, slog.LevelInfo)).LogAttrs(t.Context(), slog.LevelInfo, "req",
		HTTPRequest{Method: "GET", URL: u, Status: 200, Latency: 1500 * time.Millisecond, UserAgent: "ua", RemoteIP: "10.0.0.1", Protocol: "HTTP/1.1", RequestSize: 0, ResponseSize: 42}.Attr())
	if strings.Contains(buf.String(), "secret-token") {
		t.Fatalf("log line leaks the access token: %s", buf.String())
	}
	var got struct {
		HTTPRequest map[string]any `json:"httpRequest"`
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"requestMethod": "GET", "requestUrl": "/v1/hello?access_token=REDACTED", "status": 200.0,
		"latency": "1.500000000s", "userAgent": "ua", "remoteIp": "10.0.0.1", "protocol": "HTTP/1.1", "requestSize": "0", "responseSize": "42"}
	if !reflect.DeepEqual(got.HTTPRequest, want) {
		t.Errorf("httpRequest = %v, want %v", got.HTTPRequest, want)
	}
}
