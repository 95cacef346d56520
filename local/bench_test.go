package local

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"testing"

	"github.com/gatehouse/gatehouse/local/gateway"
	"github.com/gatehouse/gatehouse/service/backend"
	"github.com/gatehouse/gatehouse/service/hello"
	"github.com/gatehouse/gatehouse/service/loadgen"
	"github.com/gatehouse/gatehouse/spec"
)

const (
	benchClients = 32
	benchRounds  = 7
)

// BenchmarkGateway compares GET /v1/hello through the local gateway (RS256
// verification + reverse proxy) with the same request straight to the
// backend, on loopback with concurrent keep-alive clients, in one run.
// b.N requests go to each, in alternating rounds; each side keeps its best
// round. Run with -benchtime=20000x or more.
func BenchmarkGateway(b *testing.B) {
	total := max(b.N, benchClients*benchRounds)
	const gatewayAccount = "gatehouse-gateway@demo-gatehouse.iam.gserviceaccount.com"
	v1, err := hello.New(backend.Options{GatewayServiceAccount: gatewayAccount})
	if err != nil {
		b.Fatal(err)
	}
	backend := httptest.NewServer(v1)
	defer backend.Close()
	is := newIssuer(b)
	hello, err := os.ReadFile("../service/hello/openapi.yaml")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := spec.Render(spec.Params{Backends: []spec.BackendRoute{{Name: "v1", URL: backend.URL, Fragment: hello}},
		Issuers: []spec.Issuer{is.spec}, Options: spec.Options{Local: true}})
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := spec.Parse(doc, spec.Options{Local: true})
	if err != nil {
		b.Fatal(err)
	}
	g, err := gateway.New(parsed, gateway.Options{ServiceAccount: gatewayAccount})
	if err != nil {
		b.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()

	tok := is.sign(b, is.key, "key-1", claims(nil))
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"machine-7","email":"robot@example.com"}`))
	viaGateway := http.Header{"Authorization": {"Bearer " + tok}}
	// Direct calls carry what the gateway adds: the identity and its
	// invoker token (unsigned, as Cloud Run passes it on).
	invoker := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"email":"`+gatewayAccount+`"}`)) + "."
	direct := http.Header{"X-Apigateway-Api-Userinfo": {payload}, "Authorization": {"Bearer " + invoker}}

	for _, s := range []struct {
		url string
		h   http.Header
	}{{gw.URL + "/v1/hello", viaGateway}, {backend.URL + "/v1/hello", direct}} {
		if _, err := loadgen.Run(b.Context(), s.url, s.h, benchClients, 2000); err != nil {
			b.Fatal(err)
		}
	}
	// A do-nothing reverse proxy to the same backend: the cost of the extra
	// HTTP hop alone, the floor under any gateway on these two cores.
	target, _ := url.Parse(backend.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: benchClients} // pooled, as the gateway's
	plain := httptest.NewServer(rp)
	defer plain.Close()
	if _, err := loadgen.Run(b.Context(), plain.URL+"/v1/hello", direct, benchClients, 2000); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	var gwRes, directRes, plainRes loadgen.Result
	var gwRatios, plainRatios []float64
	for range benchRounds {
		d, err := loadgen.Run(b.Context(), backend.URL+"/v1/hello", direct, benchClients, total/benchRounds)
		if err != nil {
			b.Fatal(err)
		}
		p, err := loadgen.Run(b.Context(), plain.URL+"/v1/hello", direct, benchClients, total/benchRounds)
		if err != nil {
			b.Fatal(err)
		}
		g, err := loadgen.Run(b.Context(), gw.URL+"/v1/hello", viaGateway, benchClients, total/benchRounds)
		if err != nil {
			b.Fatal(err)
		}
		gwRatios = append(gwRatios, g.RPS()/d.RPS())
		plainRatios = append(plainRatios, p.RPS()/d.RPS())
		gwRes, directRes, plainRes = g, d, p
	}
	sort.Float64s(gwRatios)
	sort.Float64s(plainRatios)
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
	ratio, floor := gwRatios[len(gwRatios)/2], plainRatios[len(plainRatios)/2]
	added := gwRes.P50 - directRes.P50
	b.ReportMetric(ratio, "median-gateway/direct")
	b.ReportMetric(floor, "median-proxy/direct")
	b.ReportMetric(ratio/floor, "gateway/proxy")
	b.ReportMetric(float64(added.Microseconds()), "added-p50-µs")
	b.ReportMetric(float64((gw1.P50 - direct1.P50).Microseconds()), "added-p50-1client-µs")
	if b.N == 1 {
		return
	}
	fmt.Printf("local gateway: via gateway (last round) %s\n", gwRes)
	fmt.Printf("local gateway: plain proxy (last round) %s\n", plainRes)
	fmt.Printf("local gateway: direct      (last round) %s\n", directRes)
	fmt.Printf("local gateway: throughput vs direct, median of %d alternating rounds: gateway %.2fx (spread %.2f-%.2f), do-nothing reverse proxy %.2fx (spread %.2f-%.2f); the gateway's own overhead above that floor: gateway/proxy = %.2fx\n",
		len(gwRatios), ratio, gwRatios[0], gwRatios[len(gwRatios)-1], floor, plainRatios[0], plainRatios[len(plainRatios)-1], ratio/floor)
	fmt.Printf("local gateway: one client: p50 %v via gateway vs %v direct, added p50 = %v (target <= 0.5ms)\n", gw1.P50, direct1.P50, gw1.P50-direct1.P50)
}
