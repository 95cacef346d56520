package backend

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
)

// TestRunPassesMemoryLimit: the backend gets the Go memory limit in effect
// (here as GOMEMLIMIT would set it) to size its in-memory state by, and 0
// when there is none.
func TestRunPassesMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(old) })
	for _, tt := range []struct {
		limit, want int64
	}{
		{230 << 20, 230 << 20},
		{math.MaxInt64, 0}, // no limit
	} {
		debug.SetMemoryLimit(tt.limit)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		ctx, cancel := context.WithCancel(t.Context())
		var got int64 = -1
		err = Run(ctx, func(k string) string {
			return map[string]string{"PORT": port, "LISTEN_HOST": "127.0.0.1", "GOMEMLIMIT": "set by the runtime"}[k]
		}, io.Discard, func(o Options) (*echo.Echo, error) {
			got = o.MemoryLimit
			cancel() // stop as soon as it serves
			return echo.New(), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Go memory limit %d: Options.MemoryLimit = %d, want %d", tt.limit, got, tt.want)
		}
	}
}

// TestRunLoopbackHosts: a backend listening on a loopback address (the
// twin's LISTEN_HOST=127.0.0.1) answers only requests whose Host names this
// machine, so a web page that rebinds its own name to 127.0.0.1 cannot
// reach it (its requests carry its own name as Host) and send the
// gateway's stand-in token with a forged identity. Listening on every
// interface (Cloud Run), any Host is served, as before.
func TestRunLoopbackHosts(t *testing.T) {
	tests := []struct {
		listenHost, host string
		want             int
	}{
		{"127.0.0.1", "127.0.0.1", http.StatusOK}, // what the twin's gateway sends (Host without port)
		{"127.0.0.1", "127.0.0.1:PORT", http.StatusOK},
		{"127.0.0.1", "localhost:PORT", http.StatusOK},
		{"127.0.0.1", "LocalHost", http.StatusOK},
		{"127.0.0.1", "[::1]:PORT", http.StatusOK},
		{"127.0.0.1", "rebound.example:PORT", http.StatusMisdirectedRequest},
		{"127.0.0.1", "rebound.example", http.StatusMisdirectedRequest},
		{"127.0.0.1", "127.0.0.1.nip.io:PORT", http.StatusMisdirectedRequest},
		{"127.0.0.1", "localhost.rebound.example", http.StatusMisdirectedRequest},
		{"", "rebound.example", http.StatusOK}, // every interface: Cloud Run's Host is the service's name
		{"", "gatehouse-abc-ew.a.run.app", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.listenHost+"/"+tt.host, func(t *testing.T) {
			port := freePort(t)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, func(k string) string {
					return map[string]string{"PORT": port, "LISTEN_HOST": tt.listenHost, "GATEWAY_SERVICE_ACCOUNT": gatewaytest.Account}[k]
				}, io.Discard, func(o Options) (*echo.Echo, error) { return NewServer(o, testRoutes()) })
			}()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Error(err)
				}
			}()
			url := "http://127.0.0.1:" + port + "/whoami"
			waitServing(t, url)
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Host = strings.ReplaceAll(tt.host, "PORT", port)
			for k, v := range gatewaytest.Headers(`{"sub":"forged","email":"victim@example.com","email_verified":true}`) {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.want {
				t.Fatalf("LISTEN_HOST=%q, Host %q: %d %s, want %d", tt.listenHost, req.Host, res.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusMisdirectedRequest {
				var got ErrorBody
				if err := json.Unmarshal(body, &got); err != nil || got.Code != 421 || !strings.Contains(got.Message, "loopback") {
					t.Errorf("421 body = %s, want a JSON error naming loopback", body)
				}
			}
		})
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// waitServing waits until url accepts connections.
func waitServing(t *testing.T, url string) {
	t.Helper()
	for range 200 {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never answered", url)
}
