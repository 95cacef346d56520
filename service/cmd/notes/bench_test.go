package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/testproc"
	"github.com/gatehouse/gatehouse/service/notes"
)

// Cloud Run's instance for the notes backend in Pulumi.v2.yaml (256Mi), and
// the Go memory limit the kit derives from it (90%).
const (
	instanceMiB = 256
	goLimit     = "230MiB"
)

// BenchmarkNotesFlood runs the real notes binary with the memory limit of
// its 256 MiB instance and floods it: a victim writes notes first, then
// new callers (sign-up is open) each write MaxNotesPerUser notes of
// MaxTextLen bytes, until the store has refused notes for 200 callers in a
// row. It fails if the peak RSS passes the instance's memory (Cloud Run
// would kill it and every note would go) or if the victim lost a note.
// The store once held 10,000 callers by count alone: 1.86 GB.
func BenchmarkNotesFlood(b *testing.B) {
	bin := testproc.BuildBinary(b)
	var peakKB int
	var accepted, callers int64
	for b.Loop() {
		port := testproc.FreePort(b)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		cmd := exec.Command(bin)
		cmd.Env = []string{"PORT=" + strconv.Itoa(port), "LISTEN_HOST=127.0.0.1", "GOMEMLIMIT=" + goLimit, "LOG_LEVEL=error",
			"GATEWAY_SERVICE_ACCOUNT=" + gatewaytest.Account}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		testproc.WaitHealthy(b, base, 5*time.Second)
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
		post := func(sub, text string) (int, error) {
			body, _ := json.Marshal(map[string]string{"text": text})
			req, _ := http.NewRequest(http.MethodPost, base+"/v2/notes", strings.NewReader(string(body)))
			for k, v := range gatewaytest.Headers(`{"iss":"https://securetoken.google.com/demo-gatehouse","sub":"` + sub + `"}`) {
				req.Header.Set(k, v)
			}
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			return res.StatusCode, nil
		}
		for i := range 10 {
			if code, err := post("victim", fmt.Sprintf("victim's note %d", i)); err != nil || code != http.StatusCreated {
				b.Fatalf("victim's note: %d %v", code, err)
			}
		}

		text := strings.Repeat("n", notes.MaxTextLen)
		var next, refusedInARow, ok atomic.Int64
		var overKB atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for refusedInARow.Load() < 200 && overKB.Load() == 0 {
					sub := "flood-" + strconv.FormatInt(next.Add(1), 10)
					refused := false
					for range notes.MaxNotesPerUser {
						code, err := post(sub, text)
						if err != nil {
							errs <- err
							return
						}
						if code == http.StatusInsufficientStorage {
							refused = true
							break
						}
						if code != http.StatusCreated {
							errs <- fmt.Errorf("flood note: status %d", code)
							return
						}
						ok.Add(1)
					}
					if refused {
						refusedInARow.Add(1)
					} else {
						refusedInARow.Store(0)
					}
					if kb := testproc.StatusKB(b, cmd.Process.Pid, "VmRSS:"); kb > instanceMiB<<10 {
						overKB.Store(int64(kb))
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		peakKB = max(peakKB, testproc.StatusKB(b, cmd.Process.Pid, "VmHWM:"))
		accepted, callers = ok.Load(), next.Load()
		// The victim's notes are all there.
		req, _ := http.NewRequest(http.MethodGet, base+"/v2/notes", nil)
		for k, v := range gatewaytest.Headers(`{"iss":"https://securetoken.google.com/demo-gatehouse","sub":"victim"}`) {
			req.Header.Set(k, v)
		}
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var list struct{ Notes []notes.Note }
		err = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if err != nil || len(list.Notes) != 10 {
			b.Fatalf("the victim has %d of 10 notes after the flood (%v)", len(list.Notes), err)
		}
		if kb := overKB.Load(); kb > 0 {
			b.Fatalf("RSS reached %.0f MiB after %d notes: past the %d MiB instance, which Cloud Run would kill", float64(kb)/1024, accepted, instanceMiB)
		}
	}
	peakMiB := float64(peakKB) / 1024
	b.ReportMetric(peakMiB, "peak-RSS-MiB")
	b.ReportMetric(peakMiB/instanceMiB, "peak/instance")
	b.ReportMetric(float64(accepted), "notes-stored")
	fmt.Printf("notes flood: %d callers tried, %d notes of %d bytes stored (%.1f MB of text) before the store refused them (507), store bound %d MiB; "+
		"peak RSS %.1f MiB = %.2fx the %d MiB instance (GOMEMLIMIT=%s); the victim kept all 10 notes\n",
		callers, accepted, notes.MaxTextLen, float64(accepted*notes.MaxTextLen)/1e6, notes.StoreBytes(230<<20)>>20,
		peakMiB, peakMiB/instanceMiB, instanceMiB, goLimit)
}
