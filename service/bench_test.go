package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/api"
	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
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
// recover, body limit, context timeout, identity decoding) with a bare
// net/http handler returning the same body, on loopback with concurrent
// keep-alive clients, in one run. On two shared cores a single round swings
// by +-0.1x, so rounds alternate (bare, full, bare, full, ...) and the
// benchmark reports the median of the per-round ratios with their spread.
// b.N requests go to each server in all. Run with -benchtime=50000x or more.
func BenchmarkHello(b *testing.B) {
	total := max(b.N, benchClients)
	info := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","email":"ada@example.com"}`))
	header := http.Header{identity.Header: {info}}

	logs := &countingWriter{}
	full := httptest.NewServer(api.New(api.Options{Logger: slog.New(cloudlog.NewHandler(logs, slog.LevelInfo)), ProjectID: "p"}))
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

// BenchmarkStartup measures, for the stripped production binary, the time
// from exec to the first 200 on /healthz, the binary size and the resident
// memory once idle.
func BenchmarkStartup(b *testing.B) {
	bin := buildBinary(b)
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var rssKB int
	for b.Loop() {
		port := freePort(b)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + strconv.Itoa(port)}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		ready := firstOK(b, fmt.Sprintf("127.0.0.1:%d", port))
		total += ready.Sub(start)
		time.Sleep(100 * time.Millisecond) // idle
		rssKB = max(rssKB, vmRSS(b, cmd.Process.Pid))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	mean := total / time.Duration(b.N)
	b.ReportMetric(float64(mean.Microseconds())/1000, "ms-to-first-200")
	b.ReportMetric(float64(st.Size())/1e6, "binary-MB")
	b.ReportMetric(float64(rssKB)/1024, "idle-RSS-MiB")
	fmt.Printf("service startup: exec to first 200 %.1f ms (target <= 20 ms), binary %.1f MB (target <= 15 MB), idle RSS %.1f MiB (target <= 20 MB)\n",
		float64(mean.Microseconds())/1000, float64(st.Size())/1e6, float64(rssKB)/1024)
}

// firstOK polls /healthz as fast as it can and returns when it answers 200.
func firstOK(b *testing.B, addr string) time.Time {
	b.Helper()
	deadline := time.Now().Add(5 * time.Second)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			res, err := client.Get("http://" + addr + "/healthz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return time.Now()
				}
			}
		}
		time.Sleep(200 * time.Microsecond)
	}
	b.Fatalf("%s never answered 200", addr)
	return time.Time{}
}

func vmRSS(b *testing.B, pid int) int { return procStatusKB(b, pid, "VmRSS:") }

// procStatusKB reads a kB field (VmRSS:, VmHWM:) of /proc/PID/status.
func procStatusKB(b *testing.B, pid int, field string) int {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return kb
		}
	}
	b.Fatal("no " + field)
	return 0
}

// BenchmarkIdentityFlood runs the real backend binary with the memory limit
// of the default Cloud Run instance (512Mi, as GOMEMLIMIT would be derived
// from the cgroup) and sends it 8,192 requests, each with a distinct valid
// ~13 KiB identity (an aud array of 16 x 600 bytes): what a caller whose
// tokens the gateway accepts could send. It reports the backend's peak RSS
// (204 MiB with the cache bounded by entries only; 12.6 MiB bounded by bytes).
func BenchmarkIdentityFlood(b *testing.B) {
	bin := buildBinary(b)
	var aud []string
	for i := range 16 {
		aud = append(aud, fmt.Sprintf("%0600d", i))
	}
	audJSON := `["` + strings.Join(aud, `","`) + `"]`
	var peakKB int
	for b.Loop() {
		port := freePort(b)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + strconv.Itoa(port), "LISTEN_HOST=127.0.0.1", "GOMEMLIMIT=460MiB", "LOG_LEVEL=error"}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		firstOK(b, addr)
		client := &http.Client{Timeout: 10 * time.Second}
		const n, workers = 8192, 4
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				for i := w; i < n; i += workers {
					req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/hello", nil)
					info := fmt.Sprintf(`{"sub":"u%d","aud":%s}`, i, audJSON)
					req.Header.Set(identity.Header, base64.RawURLEncoding.EncodeToString([]byte(info)))
					res, err := client.Do(req)
					if err != nil {
						errs <- err
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						errs <- fmt.Errorf("status %d", res.StatusCode)
						return
					}
				}
				errs <- nil
			}()
		}
		for range workers {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		peakKB = max(peakKB, procStatusKB(b, cmd.Process.Pid, "VmHWM:"))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MiB")
	fmt.Printf("identity flood: 8192 distinct ~13 KiB identities; backend peak RSS %.1f MiB (default instance: 512 MiB)\n", float64(peakKB)/1024)
}
