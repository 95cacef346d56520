// Package loadgen drives an HTTP endpoint with concurrent keep-alive clients
// and reports throughput and latency percentiles. Benchmarks use it to
// compare two servers in one run.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Result summarises one run.
type Result struct {
	Requests int
	Errors   int
	Elapsed  time.Duration
	P50, P99 time.Duration
}

// RPS is the throughput in requests per second.
func (r Result) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

func (r Result) String() string {
	return fmt.Sprintf("%d req in %v: %.0f req/s, p50 %v, p99 %v, %d errors",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS(), r.P50, r.P99, r.Errors)
}

// Run sends total GET requests to url from clients concurrent keep-alive
// connections, with the given headers. A response other than 200 counts as
// an error. It stops early when ctx ends.
func Run(ctx context.Context, url string, header http.Header, clients, total int) (Result, error) {
	if clients < 1 || total < clients {
		return Result{}, fmt.Errorf("loadgen: need 1 <= clients <= total, got %d clients, %d requests", clients, total)
	}
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var next atomic.Int64
	var errs atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := make([]time.Duration, 0, total/clients+1)
			for next.Add(1) <= int64(total) && ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					errs.Add(1)
					continue
				}
				req.Header = header
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mine = append(mine, time.Since(t0))
				if res.StatusCode != http.StatusOK {
					errs.Add(1)
				}
			}
			lat[i] = mine
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := Result{Requests: len(all), Errors: int(errs.Load()), Elapsed: elapsed}
	if len(all) > 0 {
		r.P50 = all[len(all)*50/100]
		r.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	if r.Errors > 0 {
		return r, fmt.Errorf("loadgen: %d of %d requests failed", r.Errors, total)
	}
	return r, ctx.Err()
}
