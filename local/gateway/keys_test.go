package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func certPEM(t *testing.T, k *rsa.PrivateKey) string {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func keyByID(keys []jwk, kid string) any {
	for _, k := range keys {
		if k.kid == kid {
			return k.key
		}
	}
	return nil
}

func TestParseKeys(t *testing.T) {
	k1, k2 := rsaKey(t), rsaKey(t)
	// Google's x509 format (Firebase ID tokens, service accounts).
	x509Map, _ := json.Marshal(map[string]string{"a": certPEM(t, k1), "b": certPEM(t, k2)})
	keys, err := parseKeys(x509Map)
	if err != nil || len(keys) != 2 || !k1.PublicKey.Equal(keyByID(keys, "a")) || !k2.PublicKey.Equal(keyByID(keys, "b")) {
		t.Errorf("parseKeys(x509 map) = %v, %v", keys, err)
	}
	// A JWK Set; encryption keys are left out.
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k1.PublicKey, KeyID: "sig", Use: "sig", Algorithm: "RS256"},
		{Key: &k2.PublicKey, KeyID: "enc", Use: "enc", Algorithm: "RSA-OAEP"},
	}})
	keys, err = parseKeys(set)
	if err != nil || len(keys) != 1 || !k1.PublicKey.Equal(keyByID(keys, "sig")) || keys[0].alg != "RS256" {
		t.Errorf("parseKeys(JWKS) = %v, %v", keys, err)
	}
	for _, bad := range []string{`not json`, `{"a":"not pem"}`, `{"a":42}`, `{"keys":"nope"}`, `{"keys":[]}`,
		`{"a":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`} {
		if _, err := parseKeys([]byte(bad)); err == nil {
			t.Errorf("parseKeys(%s) succeeded", bad)
		}
	}
}

// TestKeyCache: keys are held for ESPv2's 300 s whatever tokens arrive (an
// unknown kid does not refetch, so a flood of forged kids costs nothing),
// refetched after that, a failed fetch is retried at most once a second,
// and a failing refresh keeps serving the keys held.
func TestKeyCache(t *testing.T) {
	k := rsaKey(t)
	var fetches atomic.Int64
	var down atomic.Bool
	body, _ := json.Marshal(map[string]string{"known": certPEM(t, k)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	now := time.Unix(1e9, 0)
	ks := newKeySets(srv.Client(), func() time.Time { return now })

	keys, fetched, err := ks.get(t.Context(), srv.URL)
	if err != nil || !fetched || !k.PublicKey.Equal(keyByID(keys, "known")) {
		t.Fatalf("get = %v, %v, %v", keys, fetched, err)
	}
	for range 50 {
		if _, fetched, err := ks.get(t.Context(), srv.URL); err != nil || fetched {
			t.Fatalf("cached get = %v, fetched %v", err, fetched)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches within the cache duration, want 1", n)
	}
	now = now.Add(jwksCacheDuration)
	if _, fetched, _ := ks.get(t.Context(), srv.URL); !fetched || fetches.Load() != 2 {
		t.Errorf("after %v: fetched %v, %d fetches; want a refetch", jwksCacheDuration, fetched, fetches.Load())
	}
	down.Store(true)
	now = now.Add(jwksCacheDuration)
	if keys, _, err := ks.get(t.Context(), srv.URL); err != nil || keyByID(keys, "known") == nil {
		t.Errorf("get with the JWKS down = %v, %v; want the keys held", keys, err)
	}
	for range 5 {
		_, _, _ = ks.get(t.Context(), srv.URL)
	}
	if n := fetches.Load(); n != 3 {
		t.Errorf("%d fetches, want 3: a failed fetch is retried at most once per %v", n, jwksFailedRefetch)
	}
	now = now.Add(jwksFailedRefetch)
	_, _, _ = ks.get(t.Context(), srv.URL)
	if n := fetches.Load(); n != 4 {
		t.Errorf("%d fetches after %v, want 4", n, jwksFailedRefetch)
	}

	// Without keys held, a failed fetch is the error ESPv2 reports.
	empty := newKeySets(srv.Client(), func() time.Time { return now })
	if _, _, err := empty.get(t.Context(), srv.URL); !errors.Is(err, errFetch) {
		t.Errorf("get from a failing JWKS = %v, want %v", err, errFetch)
	}
}

// A client that disconnects during the cold key fetch does not make every
// valid token fail: the fetch runs on its own context.
func TestAbortedRequestDoesNotBlockKeys(t *testing.T) {
	k := rsaKey(t)
	body, _ := json.Marshal(map[string]string{"known": certPEM(t, k)})
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // a slow key server
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	ks := newKeySets(srv.Client(), time.Now)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, _, err := ks.get(ctx, srv.URL); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel() // the client goes away mid-fetch
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("aborted get = %v, want context.Canceled", err)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		keys, _, err := ks.get(t.Context(), srv.URL)
		if err == nil && k.PublicKey.Equal(keyByID(keys, "known")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("get after an aborted fetch = %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
