package loadgen

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRun(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("X-Test") != "yes" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	r, err := Run(t.Context(), srv.URL, http.Header{"X-Test": {"yes"}}, 4, 200)
	if err != nil || r.Requests != 200 || hits.Load() != 200 || r.P50 <= 0 || r.P99 < r.P50 || r.RPS() <= 0 {
		t.Errorf("Run = %v, %v (hits %d), want 200 ok requests with ordered percentiles", r, err, hits.Load())
	}
	r, err = Run(t.Context(), srv.URL, nil, 2, 10)
	if err == nil || r.Errors != 10 {
		t.Errorf("Run without header = %v, %v, want 10 errors", r, err)
	}
	if _, err := Run(t.Context(), srv.URL, nil, 0, 10); err == nil || !strings.Contains(err.Error(), "clients") {
		t.Errorf("Run(0 clients) error = %v, want usage error", err)
	}
}
