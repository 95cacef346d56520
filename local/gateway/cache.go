package gateway

import (
	"crypto/sha256"
	"sync"
)

// tokenCacheSize bounds the verified-token cache. ESPv2 (Envoy's jwt_authn)
// likewise caches verified JWTs so that a client reusing its token does not
// pay for a signature check on every request (esp-v2
// src/go/options/configgenerator.go JwtCacheSize; envoy jwt_authn
// jwt_cache.cc).
const tokenCacheSize = 10000

// tokenCacheBytes is what the cache may hold on the heap at its limit. An
// entry is a 32-byte hash and two 8-byte times, nothing of the token
// itself, so the bound does not depend on the tokens' size. The map is
// sized for tokenCacheSize up front: a table of 16,384 slots (a map is at
// most 7/8 full, and tables grow in powers of two) of 48 bytes plus a
// control byte each, about 0.9 MiB, and it never grows past that.
// TestTokenCacheMemory measures it with runtime.MemStats.
const tokenCacheBytes = 1 << 20

// MaxHeaderBytes is what the twin's servers accept in request headers:
// ESPv2's (Envoy's) default cap is 60 KiB.
const MaxHeaderBytes = 64 << 10

// verified is what a successful verification established about a token
// for one provider. The issuer and audience checks depend only on the
// token and the provider, so a cache hit repeats only the time checks
// (Unix seconds), as Envoy's JWT cache does. The payload forwarded on a hit
// is read again from the request's own token (payloadSegment), so nothing
// of the token is kept.
type verified struct {
	nbf, exp uint64
}

// cacheKey is SHA-256 of the provider's name and the token: a token is
// found only by its exact bytes, and a hit for one provider says nothing
// about another.
type cacheKey [sha256.Size]byte

func keyOf(provider, tok string) cacheKey {
	h := sha256.New()
	h.Write([]byte(provider))
	h.Write([]byte{0})
	h.Write([]byte(tok))
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// tokenCache maps a verified token to its times. Only successes are
// stored; when full, an arbitrary entry makes room. The map is sized for
// its limit up front, so it never grows past the bound.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[cacheKey]verified
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[cacheKey]verified, max)}
}

func (c *tokenCache) get(provider, tok string) (verified, bool) {
	k := keyOf(provider, tok)
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *tokenCache) put(provider, tok string, v verified) {
	k := keyOf(provider, tok)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}
