package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/identity"
	"github.com/gatehouse/gatehouse/service/internal/testproc"
)

// BenchmarkStartup measures, for the stripped production binary, the time
// from exec to the first 200 on /healthz, the binary size and the resident
// memory once idle.
func BenchmarkStartup(b *testing.B) {
	bin := testproc.BuildBinary(b)
	st, err := os.Stat(bin)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var rssKB int
	for b.Loop() {
		port := testproc.FreePort(b)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + strconv.Itoa(port), "GATEWAY_SERVICE_ACCOUNT=" + gatewaytest.Account}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		ready := testproc.FirstOK(b, fmt.Sprintf("127.0.0.1:%d", port))
		total += ready.Sub(start)
		time.Sleep(100 * time.Millisecond) // idle
		rssKB = max(rssKB, testproc.StatusKB(b, cmd.Process.Pid, "VmRSS:"))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	mean := total / time.Duration(b.N)
	b.ReportMetric(float64(mean.Microseconds())/1000, "ms-to-first-200")
	b.ReportMetric(float64(st.Size())/1e6, "binary-MB")
	b.ReportMetric(float64(rssKB)/1024, "idle-RSS-MiB")
	fmt.Printf("hello startup: exec to first 200 %.1f ms (target <= 20 ms), binary %.1f MB (target <= 15 MB), idle RSS %.1f MiB (target <= 20 MB)\n",
		float64(mean.Microseconds())/1000, float64(st.Size())/1e6, float64(rssKB)/1024)
}

// BenchmarkIdentityFlood runs the real backend binary with the memory limit
// of the default Cloud Run instance (512Mi, as GOMEMLIMIT would be derived
// from the cgroup) and sends it 8,192 requests, each with a distinct valid
// ~13 KiB identity (an aud array of 16 x 600 bytes): what a caller whose
// tokens the gateway accepts could send. It reports the backend's peak RSS
// (204 MiB with the cache bounded by entries only; 12.6 MiB bounded by bytes).
func BenchmarkIdentityFlood(b *testing.B) {
	bin := testproc.BuildBinary(b)
	var aud []string
	for i := range 16 {
		aud = append(aud, fmt.Sprintf("%0600d", i))
	}
	audJSON := `["` + strings.Join(aud, `","`) + `"]`
	invoker := gatewaytest.InvokerToken(gatewaytest.Account)
	var peakKB int
	for b.Loop() {
		port := testproc.FreePort(b)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + strconv.Itoa(port), "LISTEN_HOST=127.0.0.1", "GOMEMLIMIT=460MiB", "LOG_LEVEL=error", "GATEWAY_SERVICE_ACCOUNT=" + gatewaytest.Account}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		testproc.FirstOK(b, addr)
		client := &http.Client{Timeout: 10 * time.Second}
		const n, workers = 8192, 4
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				for i := w; i < n; i += workers {
					req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/hello", nil)
					info := fmt.Sprintf(`{"sub":"u%d","aud":%s}`, i, audJSON)
					req.Header.Set(identity.Header, base64.RawURLEncoding.EncodeToString([]byte(info)))
					req.Header.Set("Authorization", invoker)
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
		peakKB = max(peakKB, testproc.StatusKB(b, cmd.Process.Pid, "VmHWM:"))
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	b.ReportMetric(float64(peakKB)/1024, "peak-RSS-MiB")
	fmt.Printf("identity flood: 8192 distinct ~13 KiB identities; backend peak RSS %.1f MiB (default instance: 512 MiB)\n", float64(peakKB)/1024)
}
