package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/spec"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func heapAlloc() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTokenCacheMemory fills the verified-token cache to its limit through
// the gateway itself, with the largest tokens it ever cached (just under
// 8 KiB, emulator tokens so that no signing is needed), and measures what
// the cache then holds on the heap: it must stay under tokenCacheBytes, the
// bound the cache's comment promises, whatever the tokens' size.
func TestTokenCacheMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("fills the cache with 10,000 tokens")
	}
	doc := &spec.Document{
		Backend:    spec.Backend{Address: "http://backend.test", PathTranslation: spec.AppendPathToAddress},
		Issuers:    map[string]spec.Issuer{"firebase": {Name: "firebase", Issuer: fbIssuer, JWKSURI: "http://keys.test", Audiences: []string{fbAudience}}},
		Operations: []spec.Operation{{ID: "hello", Method: "GET", Path: "/v1/hello", Security: [][]string{{"firebase"}}}},
	}
	ok := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	})
	before := heapAlloc() // the cache's map is sized when the gateway is made
	g, err := New(doc, Options{EmulatorProject: fbAudience, Transport: ok, Now: func() time.Time { return time.Unix(conformNow, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	header := seg(`{"alg":"none","typ":"JWT"}`)
	// Tokens of about 8 KiB (the largest the cache once kept), and every
	// tenth near the 60 KiB a request header may hold.
	small, large := strings.Repeat("x", 6000), strings.Repeat("x", 45000)
	sizes := map[int]int{}
	for i := range tokenCacheSize {
		pad := small
		if i%10 == 0 {
			pad = large
		}
		payload := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"user-%d","exp":%d,"pad":%q}`, fbIssuer, fbAudience, i, conformNow+3600, pad)
		tok := header + "." + seg(payload) + "."
		sizes[len(tok)>>10]++
		req := httptest.NewRequest("GET", "/v1/hello", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	held := int64(heapAlloc()) - int64(before)
	runtime.KeepAlive(g)
	if len(g.cache.m) != tokenCacheSize {
		t.Fatalf("the cache holds %d tokens, want %d", len(g.cache.m), tokenCacheSize)
	}
	t.Logf("verified-token cache at its limit (%d tokens, KiB:count %v): %.2f MiB on the heap (%d bytes a token); bound %.2f MiB",
		tokenCacheSize, sizes, float64(held)/(1<<20), held/tokenCacheSize, float64(tokenCacheBytes)/(1<<20))
	if held > tokenCacheBytes {
		t.Errorf("the cache holds %d bytes, over its bound of %d", held, tokenCacheBytes)
	}
}
