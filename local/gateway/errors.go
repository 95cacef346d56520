package gateway

// The gateway's own replies: ESPv2's messages and their JSON form.

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// ESPv2's own answers, as the client sees them (local replies are JSON
// {"code":N,"message":"..."}: esp-v2 src/go/configgenerator/filtergen/
// http_connection_manager.go, LocalReplyConfig).
const (
	msgNotDefined    = "The current request is not defined by this API."
	msgUpstreamTime  = "upstream request timeout"
	msgUpstreamReset = "upstream connect error or disconnect/reset before headers. "
	msgBadRequest    = "Bad Request"
)

// msgMethodNotAllowed is the 405 ESPv2 answers for a declared path with an
// undeclared method (esp-v2 src/go/configgenerator/route_generator.go
// makeMethodNotAllowedRoute), naming the path template as declared.
func msgMethodNotAllowed(template string) string {
	return fmt.Sprintf("The current request is matched to the defined url template %q but its http method is not allowed", template)
}

type errorBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// writeError writes one of the gateway's own replies. Like ESPv2's, they
// carry no CORS headers: ESPv2 adds those only through Envoy's CORS policy,
// which --cors_preset configures and API Gateway does not set (allowCors
// instead passes preflights to the backend: esp-v2
// src/go/configgenerator/route_generator.go makeRouteCors). A browser
// therefore cannot read a gateway 401; it sees a CORS failure.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(errorBody{code, msg})
}

// statusRecorder remembers the status for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
