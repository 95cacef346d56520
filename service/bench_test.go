package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/api"
	"github.com/gatehouse/gatehouse/service/internal/cloudlog"
	"github.com/gatehouse/gatehouse/service/internal/identity"
	"github.com/gatehouse/gatehouse/service/loadgen"
)

const (
	benchClients = 32
	benchRounds  = 5
)

// BenchmarkHello compares GET /v1/hello through the full middleware stack
// (request id, JSON request log to io.Discard, recover, body limit, context
// timeout, identity decoding) with a bare net/http handler returning the same
// body, on loopback with concurrent keep-alive clients, in one run.
// b.N requests go to each server, in rounds. Run with -benchtime=50000x or more.
func BenchmarkHello(b *testing.B) {
	total := max(b.N, benchClients)
	info := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"u1","email":"ada@example.com"}`))
	header := http.Header{identity.Header: {info}}

	full := httptest.NewServer(api.New(api.Options{Logger: slog.New(cloudlog.NewHandler(io.Discard, slog.LevelInfo)), ProjectID: "p"}))
	defer full.Close()
	body := []byte(`{"message":"Hello, ada@example.com!"}` + "\n")
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer bare.Close()

	// Warm both up, then alternate rounds between them so that drift in the
	// machine's load hits both alike; keep each server's best round.
	for _, u := range []string{bare.URL, full.URL + "/v1/hello"} {
		if _, err := loadgen.Run(b.Context(), u, header, benchClients, 2000); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var bareRes, fullRes loadgen.Result
	perRound := max(total/benchRounds, benchClients)
	for range benchRounds {
		for _, s := range []struct {
			url  string
			best *loadgen.Result
		}{{bare.URL, &bareRes}, {full.URL + "/v1/hello", &fullRes}} {
			r, err := loadgen.Run(b.Context(), s.url, header, benchClients, perRound)
			if err != nil {
				b.Fatal(err)
			}
			if r.RPS() > s.best.RPS() || s.best.Requests == 0 {
				*s.best = r
			}
		}
	}
	b.StopTimer()
	ratio := fullRes.RPS() / bareRes.RPS()
	b.ReportMetric(fullRes.RPS(), "full-req/s")
	b.ReportMetric(bareRes.RPS(), "bare-req/s")
	b.ReportMetric(ratio, "full/bare")
	b.ReportMetric(float64(fullRes.P50.Microseconds()), "full-p50-µs")
	b.ReportMetric(float64(fullRes.P99.Microseconds()), "full-p99-µs")
	b.ReportMetric(float64(bareRes.P50.Microseconds()), "bare-p50-µs")
	b.ReportMetric(float64(bareRes.P99.Microseconds()), "bare-p99-µs")
	if b.N == 1 {
		return // go test's probe run: too small to report
	}
	fmt.Printf("service hello: full stack %s\n", fullRes)
	fmt.Printf("service hello: bare net/http %s\n", bareRes)
	fmt.Printf("service hello: throughput ratio full/bare = %.2fx (target >= 0.9x, defect below 0.7x)\n", ratio)
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
