package gateway

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// keySets fetches and caches the public keys behind each jwks_uri. It reads
// both formats Google uses: a JWK Set ({"keys":[...]}) and a map of key id
// to x509 certificate in PEM (Firebase's and service accounts' x509 URLs).
// Keys are refetched when they are older than ttl, or when a token names an
// unknown kid, at most once per minRefetch, so a flood of forged kids cannot
// turn the gateway into a load generator.
type keySets struct {
	client     *http.Client
	ttl        time.Duration
	minRefetch time.Duration
	now        func() time.Time

	mu   sync.Mutex
	sets map[string]*keySet
}

type keySet struct {
	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	fetchedAt time.Time
	lastDone  time.Time     // when the last fetch attempt completed
	lastErr   error         // its error, if it failed
	inflight  chan struct{} // closed when the running fetch completes
}

var errUnknownKey = errors.New("no key with that kid")

// fetchTimeout bounds one key fetch, which runs on its own context: a
// client that disconnects must not abort the fetch every other request
// is waiting for.
const fetchTimeout = 10 * time.Second

func newKeySets(client *http.Client, now func() time.Time) *keySets {
	return &keySets{client: client, ttl: 5 * time.Minute, minRefetch: 30 * time.Second, now: now, sets: map[string]*keySet{}}
}

// key returns the RSA key with id kid from uri. Concurrent requests share
// one fetch; the refetch throttle counts from when an attempt completed.
func (k *keySets) key(ctx context.Context, uri, kid string) (*rsa.PublicKey, error) {
	k.mu.Lock()
	ks, ok := k.sets[uri]
	if !ok {
		ks = &keySet{}
		k.sets[uri] = ks
	}
	k.mu.Unlock()

	ks.mu.Lock()
	now := k.now()
	stale := ks.keys == nil || now.Sub(ks.fetchedAt) > k.ttl
	_, known := ks.keys[kid]
	if (stale || !known) && (ks.inflight != nil || ks.lastDone.IsZero() || now.Sub(ks.lastDone) >= k.minRefetch) {
		if ks.inflight == nil {
			ks.inflight = make(chan struct{})
			go k.refresh(ks, uri)
		}
		wait := ks.inflight
		ks.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		ks.mu.Lock()
	}
	defer ks.mu.Unlock()
	if ks.keys == nil && ks.lastErr != nil {
		return nil, ks.lastErr
	}
	if key, ok := ks.keys[kid]; ok {
		return key, nil
	}
	if kid == "" && len(ks.keys) == 1 {
		for _, key := range ks.keys {
			return key, nil
		}
	}
	return nil, errUnknownKey
}

// refresh fetches uri's keys on its own context and records the outcome. A
// failure keeps the keys already held.
func (k *keySets) refresh(ks *keySet, uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	keys, err := k.fetch(ctx, uri)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	now := k.now()
	if err == nil {
		ks.keys, ks.fetchedAt = keys, now
	}
	ks.lastDone, ks.lastErr = now, err
	close(ks.inflight)
	ks.inflight = nil
}

func (k *keySets) fetch(ctx context.Context, uri string) (map[string]*rsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	res, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch keys from %s: %w", uri, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch keys from %s: %s", uri, res.Status)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch keys from %s: %w", uri, err)
	}
	return parseKeys(body)
}

// parseKeys reads a JWK Set or an x509 certificate map.
func parseKeys(body []byte) (map[string]*rsa.PublicKey, error) {
	keys := map[string]*rsa.PublicKey{}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	if _, ok := probe["keys"]; ok {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil {
			return nil, fmt.Errorf("bad JWK Set: %w", err)
		}
		for _, k := range set.Keys {
			if pub, ok := k.Key.(*rsa.PublicKey); ok && (k.Use == "" || k.Use == "sig") {
				keys[k.KeyID] = pub
			}
		}
		return keys, nil
	}
	for kid, raw := range probe {
		var certPEM string
		if err := json.Unmarshal(raw, &certPEM); err != nil {
			return nil, fmt.Errorf("x509 key map: %s is not a string", kid)
		}
		block, _ := pem.Decode([]byte(certPEM))
		if block == nil {
			return nil, fmt.Errorf("x509 key map: %s is not PEM", kid)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("x509 key map: %s: %w", kid, err)
		}
		if pub, ok := cert.PublicKey.(*rsa.PublicKey); ok {
			keys[kid] = pub
		}
	}
	return keys, nil
}
