package backend

import (
	"context"
	"io"
	"math"
	"net"
	"runtime/debug"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
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
