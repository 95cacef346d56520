// Package cloudlog writes slog records in the JSON shape Cloud Logging parses
// from a Cloud Run container's stdout: severity, message, httpRequest and the
// logging.googleapis.com/* trace fields.
package cloudlog

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cloud Logging's special field names.
const (
	TraceKey        = "logging.googleapis.com/trace"
	SpanIDKey       = "logging.googleapis.com/spanId"
	TraceSampledKey = "logging.googleapis.com/trace_sampled"
)

// NewHandler returns a JSON handler writing to w at the given minimum level,
// with slog's keys renamed to Cloud Logging's (level → severity,
// msg → message) and levels named as Cloud Logging names them.
func NewHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.LevelKey:
				return slog.String("severity", Severity(a.Value.Any().(slog.Level)))
			case slog.MessageKey:
				a.Key = "message"
			}
			return a
		},
	})
}

// Severity maps a slog level to a Cloud Logging severity.
func Severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// ParseLevel reads a LOG_LEVEL value; empty means info.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warning or error)", s)
}

// TraceAttrs returns the trace fields for a request, read from the W3C
// traceparent header or, failing that, Google's X-Cloud-Trace-Context.
// Without a project id Cloud Logging cannot link the trace, so none is
// returned.
func TraceAttrs(projectID string, h http.Header) []slog.Attr {
	if projectID == "" {
		return nil
	}
	traceID, spanID, sampled, ok := parseTraceparent(h.Get("Traceparent"))
	if !ok {
		traceID, spanID, sampled, ok = parseCloudTrace(h.Get("X-Cloud-Trace-Context"))
	}
	if !ok {
		return nil
	}
	attrs := []slog.Attr{slog.String(TraceKey, "projects/"+projectID+"/traces/"+traceID)}
	if spanID != "" {
		attrs = append(attrs, slog.String(SpanIDKey, spanID))
	}
	return append(attrs, slog.Bool(TraceSampledKey, sampled))
}

// parseTraceparent reads "00-<32 hex trace>-<16 hex span>-<2 hex flags>".
func parseTraceparent(v string) (trace, span string, sampled, ok bool) {
	parts := strings.Split(v, "-")
	if len(parts) != 4 || len(parts[0]) != 2 || parts[0] == "ff" ||
		!isHexID(parts[1], 32) || !isHexID(parts[2], 16) || !isHex(parts[3], 2) {
		return "", "", false, false
	}
	flags, _ := strconv.ParseUint(parts[3], 16, 8) // validated as hex above
	return parts[1], parts[2], flags&1 == 1, true
}

// parseCloudTrace reads "TRACE_ID[/SPAN_ID][;o=OPTIONS]" where SPAN_ID is a
// decimal uint64. Cloud Logging wants the span as 16 hex digits.
func parseCloudTrace(v string) (trace, span string, sampled, ok bool) {
	v, opts, _ := strings.Cut(v, ";")
	trace, spanDec, hasSpan := strings.Cut(v, "/")
	if !isHexID(trace, 32) {
		return "", "", false, false
	}
	if hasSpan {
		n, err := strconv.ParseUint(spanDec, 10, 64)
		if err != nil || n == 0 {
			return "", "", false, false
		}
		span = fmt.Sprintf("%016x", n)
	}
	return strings.ToLower(trace), span, opts == "o=1", true
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// isHexID is isHex for ids, which must not be all zeros.
func isHexID(s string, n int) bool {
	return isHex(s, n) && strings.Trim(s, "0") != ""
}

// HTTPRequest is the httpRequest field of a request log entry.
type HTTPRequest struct {
	Method       string
	URL          *url.URL
	Status       int
	Latency      time.Duration
	UserAgent    string
	RemoteIP     string
	Protocol     string
	RequestSize  int64
	ResponseSize int64
}

// secretParams are query parameters that carry credentials; ESPv2 accepts a
// JWT in access_token, so a URL may hold one.
var secretParams = []string{"access_token", "key", "api_key", "token", "id_token"}

// Attr returns the httpRequest group, with credential query parameters
// redacted from the URL.
// remoteIp appears only when set: an address that cannot be trusted is
// better left out than logged as the caller's.
func (r HTTPRequest) Attr() slog.Attr {
	attrs := []slog.Attr{
		slog.String("requestMethod", r.Method),
		slog.String("requestUrl", RedactURL(r.URL)),
		slog.Int("status", r.Status),
		slog.String("latency", strconv.FormatFloat(r.Latency.Seconds(), 'f', 9, 64)+"s"),
		slog.String("userAgent", r.UserAgent),
	}
	if r.RemoteIP != "" {
		attrs = append(attrs, slog.String("remoteIp", r.RemoteIP))
	}
	attrs = append(attrs,
		slog.String("protocol", r.Protocol),
		slog.String("requestSize", strconv.FormatInt(r.RequestSize, 10)),
		slog.String("responseSize", strconv.FormatInt(r.ResponseSize, 10)),
	)
	return slog.Attr{Key: "httpRequest", Value: slog.GroupValue(attrs...)}
}

// RedactURL returns the request URI with the values of credential-bearing
// query parameters replaced by REDACTED.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.RawQuery == "" {
		return u.RequestURI()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		c := *u
		c.RawQuery = "REDACTED"
		return c.RequestURI()
	}
	changed := false
	for _, p := range secretParams {
		for k := range q {
			if strings.EqualFold(k, p) {
				for i := range q[k] {
					q[k][i] = "REDACTED"
				}
				changed = true
			}
		}
	}
	if !changed {
		return u.RequestURI()
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.RequestURI()
}
