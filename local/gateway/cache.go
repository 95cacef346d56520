package gateway

import (
	"sync"
)

// tokenCacheSize bounds the verified-token cache. ESPv2 (Envoy's jwt_authn)
// likewise caches verified JWTs so that a client reusing its token does not
// pay for a signature check on every request.
const tokenCacheSize = 10000

// verified is what a successful verification established about a token
// for one provider. The issuer and audience checks depend only on the
// token and the provider, so a cache hit repeats only the time checks
// (Unix seconds), as Envoy's JWT cache does.
type verified struct {
	payload  string // the payload segment, forwarded as userinfo
	nbf, exp int64
}

// tokenCache maps a token's exact bytes to its verification. Only
// successes are stored; when full, an arbitrary entry makes room.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[string]verified
}

func newTokenCache(max int) *tokenCache { return &tokenCache{max: max, m: make(map[string]verified)} }

func (c *tokenCache) get(provider, tok string) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[provider+"\x00"+tok]
	return v, ok
}

// maxCachedToken is the largest token the cache keeps: Firebase ID tokens
// and service-account JWTs are 1-2 KiB, so 10,000 entries stay near 20 MiB;
// an oversized token is verified each time instead of held.
const maxCachedToken = 8 << 10

// MaxHeaderBytes is what the twin's servers accept in request headers:
// ESPv2's (Envoy's) default cap is 60 KiB.
const MaxHeaderBytes = 64 << 10

func (c *tokenCache) put(provider, tok string, v verified) {
	if len(tok) > maxCachedToken {
		return
	}
	tok = provider + "\x00" + tok
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[tok]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[tok] = v
}
