package local

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/local/gateway"
	"github.com/gatehouse/gatehouse/service/api"
	"github.com/gatehouse/gatehouse/service/loadgen"
	"github.com/gatehouse/gatehouse/spec"
)

const (
	benchClients = 32
	benchRounds  = 5
)

// BenchmarkGateway compares GET /v1/hello through the local gateway (RS256
// verification + reverse proxy) with the same request straight to the
// backend, on loopback with concurrent keep-alive clients, in one run.
// b.N requests go to each, in alternating rounds; each side keeps its best
// round. Run with -benchtime=20000x or more.
func BenchmarkGateway(b *testing.B) {
	total := max(b.N, benchClients*benchRounds)
	backend := httptest.NewServer(api.New(api.Options{}))
	defer backend.Close()
	is := newIssuer(b)
	doc, err := spec.Render(spec.Params{BackendURL: backend.URL, Issuers: []spec.Issuer{is.spec}, Local: true})
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := spec.Parse(doc, spec.Options{Local: true})
	if err != nil {
		b.Fatal(err)
	}
	g, err := gateway.New(parsed, gateway.Options{})
	if err != nil {
		b.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()

	tok := is.sign(b, is.key, "key-1", claims(nil))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"machine-7","email":"robot@example.com"}`))
	viaGateway := http.Header{"Authorization": {"Bearer " + tok}}
	direct := http.Header{"X-Apigateway-Api-Userinfo": {payload}}

	for _, s := range []struct {
		url string
		h   http.Header
	}{{gw.URL + "/v1/hello", viaGateway}, {backend.URL + "/v1/hello", direct}} {
		if _, err := loadgen.Run(b.Context(), s.url, s.h, benchClients, 2000); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var gwRes, directRes loadgen.Result
	for range benchRounds {
		for _, s := range []struct {
			url  string
			h    http.Header
			best *loadgen.Result
		}{{backend.URL + "/v1/hello", direct, &directRes}, {gw.URL + "/v1/hello", viaGateway, &gwRes}} {
			r, err := loadgen.Run(b.Context(), s.url, s.h, benchClients, total/benchRounds)
			if err != nil {
				b.Fatal(err)
			}
			if s.best.Requests == 0 || r.RPS() > s.best.RPS() {
				*s.best = r
			}
		}
	}
	// Latency without queueing: one client at a time.
	var gw1, direct1 loadgen.Result
	for _, s := range []struct {
		url  string
		h    http.Header
		into *loadgen.Result
	}{{backend.URL + "/v1/hello", direct, &direct1}, {gw.URL + "/v1/hello", viaGateway, &gw1}} {
		r, err := loadgen.Run(b.Context(), s.url, s.h, 1, max(total/10, 100))
		if err != nil {
			b.Fatal(err)
		}
		*s.into = r
	}
	b.StopTimer()
	ratio := gwRes.RPS() / directRes.RPS()
	added := gwRes.P50 - directRes.P50
	b.ReportMetric(ratio, "gateway/direct")
	b.ReportMetric(float64(added.Microseconds()), "added-p50-µs")
	b.ReportMetric(float64((gw1.P50 - direct1.P50).Microseconds()), "added-p50-1client-µs")
	b.ReportMetric(gwRes.RPS(), "gateway-req/s")
	b.ReportMetric(directRes.RPS(), "direct-req/s")
	if b.N == 1 {
		return
	}
	fmt.Printf("local gateway: via gateway %s\n", gwRes)
	fmt.Printf("local gateway: direct      %s\n", directRes)
	fmt.Printf("local gateway: throughput ratio gateway/direct = %.2fx (target >= 0.5x), added p50 under %d clients = %v\n", ratio, benchClients, added)
	fmt.Printf("local gateway: one client: p50 %v via gateway vs %v direct, added p50 = %v (target <= 0.5ms)\n", gw1.P50, direct1.P50, gw1.P50-direct1.P50)
}
