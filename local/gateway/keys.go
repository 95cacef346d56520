package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// JWKS caching as ESPv2 configures Envoy's jwt_authn remote_jwks
// (GoogleCloudPlatform/esp-v2 src/go/options/configgenerator.go:
// JwksCacheDurationInS 300; Envoy's JwksAsyncFetch failed_refetch_duration
// defaults to 1 s). Keys are used for the cache duration whatever tokens
// arrive: Envoy does not refetch on an unknown kid (see the TODO in
// envoy source/extensions/filters/http/jwt_authn/authenticator.cc), so a
// key published after the last fetch is unknown until the cache expires.
const (
	jwksCacheDuration   = 300 * time.Second
	jwksFailedRefetch   = time.Second
	jwksFetchTimeout    = 10 * time.Second
	jwksMaxResponseSize = 1 << 20
)

// jwk is one usable public key of a set.
type jwk struct {
	kid, alg, kty string
	key           any // *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey or []byte (oct)
}

// keySets fetches and caches the keys behind each jwks_uri. It reads both
// formats Google uses: a JWK Set ({"keys":[...]}) and a map of key id to
// x509 certificate in PEM (Firebase's and service accounts' x509 URLs), as
// jwt_verify_lib's Jwks does.
type keySets struct {
	client *http.Client
	now    func() time.Time

	mu   sync.Mutex
	sets map[string]*keySet
}

type keySet struct {
	mu        sync.Mutex
	keys      []jwk
	fetchedAt time.Time
	failedAt  time.Time     // when the last fetch failed
	inflight  chan struct{} // closed when the running fetch completes
}

var errFetch = errors.New("jwks remote fetch failed")

func newKeySets(client *http.Client, now func() time.Time) *keySets {
	return &keySets{client: client, now: now, sets: map[string]*keySet{}}
}

// get returns uri's keys, fetching them when none are cached or the cache
// has expired. fetched reports that this call waited for a fetch (in Envoy
// the verification then completes asynchronously, after the checks that
// did not need one). Concurrent callers share one fetch, which runs on its
// own context: a client that disconnects does not abort it for the others.
// A failing refresh keeps serving the keys already held.
func (k *keySets) get(ctx context.Context, uri string) (keys []jwk, fetched bool, err error) {
	k.mu.Lock()
	ks, ok := k.sets[uri]
	if !ok {
		ks = &keySet{}
		k.sets[uri] = ks
	}
	k.mu.Unlock()

	ks.mu.Lock()
	now := k.now()
	fresh := ks.keys != nil && now.Sub(ks.fetchedAt) < jwksCacheDuration
	if !fresh && (ks.inflight != nil || ks.failedAt.IsZero() || now.Sub(ks.failedAt) >= jwksFailedRefetch) {
		if ks.inflight == nil {
			ks.inflight = make(chan struct{})
			go k.refresh(ks, uri)
		}
		wait := ks.inflight
		ks.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
		ks.mu.Lock()
		fetched = true
	}
	defer ks.mu.Unlock()
	if ks.keys == nil {
		return nil, fetched, errFetch
	}
	return ks.keys, fetched, nil
}

// refresh fetches uri's keys and records the outcome.
func (k *keySets) refresh(ks *keySet, uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer cancel()
	keys, err := k.fetch(ctx, uri)
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if err == nil {
		ks.keys, ks.fetchedAt, ks.failedAt = keys, k.now(), time.Time{}
	} else {
		ks.failedAt = k.now()
	}
	close(ks.inflight)
	ks.inflight = nil
}

func (k *keySets) fetch(ctx context.Context, uri string) ([]jwk, error) {
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
	body, err := io.ReadAll(io.LimitReader(res.Body, jwksMaxResponseSize))
	if err != nil {
		return nil, fmt.Errorf("fetch keys from %s: %w", uri, err)
	}
	return parseKeys(body)
}

// parseKeys reads a JWK Set or an x509 certificate map. Keys it cannot use
// are skipped; a set without one usable key is an error, which Envoy's
// fetcher reports as a failed fetch.
func parseKeys(body []byte) ([]jwk, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	var keys []jwk
	if rawKeys, ok := probe["keys"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(rawKeys, &list); err != nil {
			return nil, fmt.Errorf("[keys] in Jwks is not an array")
		}
		for _, raw := range list {
			var k jose.JSONWebKey
			if err := k.UnmarshalJSON(raw); err != nil || (k.Use != "" && k.Use != "sig") {
				continue
			}
			if j, ok := usableKey(k.KeyID, k.Algorithm, k.Key); ok {
				keys = append(keys, j)
			}
		}
	} else {
		for kid, raw := range probe {
			var certPEM string
			if err := json.Unmarshal(raw, &certPEM); err != nil {
				continue
			}
			block, _ := pem.Decode([]byte(certPEM))
			if block == nil {
				continue
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				continue
			}
			if j, ok := usableKey(kid, "", cert.PublicKey); ok {
				keys = append(keys, j)
			}
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable public key in the key set")
	}
	return keys, nil
}

// usableKey classifies a public key the way jwt_verify_lib's Jwks does: an
// RSA key's alg (if any) starts with RS or PS, an EC key's with ES, an
// oct key's with HS, and an OKP key is Ed25519 with alg EdDSA.
func usableKey(kid, alg string, key any) (jwk, bool) {
	j := jwk{kid: kid, alg: alg, key: key}
	switch key.(type) {
	case *rsa.PublicKey:
		j.kty = "RSA"
		return j, alg == "" || strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		j.kty = "EC"
		return j, alg == "" || strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		j.kty = "OKP"
		return j, alg == "" || alg == "EdDSA"
	case []byte:
		j.kty = "oct"
		return j, alg == "" || strings.HasPrefix(alg, "HS")
	}
	return jwk{}, false
}

// verifySignature is jwt_verify_lib's verifyJwtWithoutTimeChecking: a key
// is tried when its kid matches the token's (or either has none) and its
// alg, if set, is the token's; no such key is a kid/alg mismatch, and keys
// that were tried but did not verify are a verification failure. A token
// without a kid is tried against every key.
func verifySignature(j *parsedJWT, keys []jwk) string {
	signed := j.headerB64 + "." + j.payloadB64
	method := jwt.GetSigningMethod(j.alg)
	matched := false
	for _, k := range keys {
		if j.kid != "" && k.kid != "" && k.kid != j.kid {
			continue
		}
		if k.alg != "" && k.alg != j.alg {
			continue
		}
		matched = true
		if method != nil && keyFitsAlg(k.kty, j.alg) && method.Verify(signed, j.signature, k.key) == nil {
			return ""
		}
	}
	if matched {
		return msgVerification
	}
	return msgKidAlgMismatch
}

func keyFitsAlg(kty, alg string) bool {
	switch kty {
	case "RSA":
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case "EC":
		return strings.HasPrefix(alg, "ES")
	case "oct":
		return strings.HasPrefix(alg, "HS")
	case "OKP":
		return alg == "EdDSA"
	}
	return false
}
