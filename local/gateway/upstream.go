package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
)

// retryOnce retries a request once when the backend could not be reached
// or reset the connection before answering: ESPv2's route retry policy
// (esp-v2 src/go/options/configgenerator.go: BackendRetryNum 1,
// BackendRetryOns "reset,connect-failure,refused-stream").
type retryOnce struct{ next http.RoundTripper }

// retryError is a backend failure, and whether it came after a retry, for the
// message ("retried and the latest reset reason").
type retryError struct {
	err     error
	retried bool
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func (t retryOnce) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err == nil || req.Context().Err() != nil {
		return res, err
	}
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return nil, &retryError{err: err} // a streamed body cannot be sent twice
		}
		body, gerr := req.GetBody()
		if gerr != nil {
			return nil, &retryError{err: err}
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	res, err = t.next.RoundTrip(req)
	if err != nil {
		return nil, &retryError{err: err, retried: true}
	}
	return res, nil
}

// bufferForRetry keeps a request body of up to maxRetryBody in memory so
// that a retry can send it again, as Envoy buffers it; a larger body is
// streamed and not retried.
func bufferForRetry(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, maxRetryBody+1))
	if err != nil {
		return err
	}
	if len(head) > maxRetryBody {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		r.GetBody = nil
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(head))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(head)), nil }
	return nil
}

// resetReason words a backend failure as Envoy's router does
// ("upstream connect error or disconnect/reset before headers. [retried
// and the latest ]reset reason: ..."). The transport detail is the one
// Envoy gives for a refused connection on Linux; other details vary with
// the Envoy version (see Deviations).
func resetReason(err error) string {
	prefix := "reset reason: "
	var re *retryError
	if errors.As(err, &re) && re.retried {
		prefix = "retried and the latest reset reason: "
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return prefix + "remote connection failure, transport failure reason: delayed connect error: 111"
		}
		return prefix + "remote connection failure"
	}
	return prefix + "connection termination"
}
