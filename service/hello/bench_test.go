package hello

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/identity"
	"github.com/gatehouse/gatehouse/service/loadgen"
)

const (
	benchClients = 32
	benchRounds  = 9
)

// countingWriter counts what a logger writes: lines and bytes.
type countingWriter struct{ lines, bytes atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	w.lines.Add(int64(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}

// BenchmarkHello compares GET /v1/hello through the full middleware stack
// (request id, logging policy with a real Cloud Logging JSON handler,
// recover, body limit, context timeout, the invoker check, identity
// decoding) with a bare
// net/http handler returning the same body, on loopback with concurrent
// keep-alive clients, in one run. On two shared cores a single round swings
// by +-0.1x, so rounds alternate (bare, full, bare, full, ...) and the
// benchmark reports the median of the per-round ratios with their spread.
// b.N requests go to each server in all. Run with -benchtime=50000x or more.
func BenchmarkHello(b *testing.B) {
	total := max(b.N, benchClients)
	info := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","email":"ada@example.com"}`))
	header := http.Header{identity.Header: {info}, "Authorization": {gatewaytest.InvokerToken(gatewaytest.Account)}}

	logs := &countingWriter{}
	hello, err := New(backend.Options{GatewayServiceAccount: gatewaytest.Account, Logger: slog.New(cloudlog.NewHandler(logs, slog.LevelInfo)), ProjectID: "p"})
	if err != nil {
		b.Fatal(err)
	}
	full := httptest.NewServer(hello)
	defer full.Close()
	body := []byte(`{"message":"Hello, ada@example.com!"}` + "\n")
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer bare.Close()

	for _, u := range []string{bare.URL, full.URL + "/v1/hello"} { // warm up
		if _, err := loadgen.Run(b.Context(), u, header, benchClients, 2000); err != nil {
			b.Fatal(err)
		}
	}
	logs.lines.Store(0)
	logs.bytes.Store(0)
	b.ResetTimer()
	var ratios []float64
	var fullOK int64
	var lastFull, lastBare loadgen.Result
	perRound := max(total/benchRounds, benchClients)
	for round := range benchRounds {
		// A B, B A, A B, ...: neither side always runs right after the other.
		var br, fr loadgen.Result
		var err error
		runs := []func(){
			func() { br, err = loadgen.Run(b.Context(), bare.URL, header, benchClients, perRound) },
			func() { fr, err = loadgen.Run(b.Context(), full.URL+"/v1/hello", header, benchClients, perRound) },
		}
		if round%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		for _, run := range runs {
			if run(); err != nil {
				b.Fatal(err)
			}
		}
		ratios = append(ratios, fr.RPS()/br.RPS())
		fullOK += int64(fr.Requests)
		lastFull, lastBare = fr, br
	}
	b.StopTimer()
	sort.Float64s(ratios)
	median := ratios[len(ratios)/2]
	perK := func(n int64) float64 { return float64(n) * 1000 / float64(fullOK) }
	b.ReportMetric(median, "median-full/bare")
	b.ReportMetric(ratios[0], "min-full/bare")
	b.ReportMetric(ratios[len(ratios)-1], "max-full/bare")
	b.ReportMetric(perK(logs.lines.Load()), "log-lines/1k-OK")
	b.ReportMetric(perK(logs.bytes.Load()), "log-bytes/1k-OK")
	if b.N == 1 {
		return // go test's probe run: too small to report
	}
	fmt.Printf("service hello: full stack (last round) %s\n", lastFull)
	fmt.Printf("service hello: bare net/http (last round) %s\n", lastBare)
	fmt.Printf("service hello: throughput full/bare median %.2fx over %d alternating rounds, spread %.2f-%.2fx (target >= 0.9x)\n",
		median, len(ratios), ratios[0], ratios[len(ratios)-1])
	fmt.Printf("service hello: logs per 1,000 OK requests: %.0f lines, %.0f bytes (default policy; target 0)\n", perK(logs.lines.Load()), perK(logs.bytes.Load()))
}
