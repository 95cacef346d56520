package gateway

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
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

func TestParseKeys(t *testing.T) {
	k1, k2 := rsaKey(t), rsaKey(t)
	// Google's x509 format (Firebase ID tokens, service accounts).
	x509Map, _ := json.Marshal(map[string]string{"a": certPEM(t, k1), "b": certPEM(t, k2)})
	keys, err := parseKeys(x509Map)
	if err != nil || len(keys) != 2 || !keys["a"].Equal(&k1.PublicKey) || !keys["b"].Equal(&k2.PublicKey) {
		t.Errorf("parseKeys(x509 map) = %v, %v", keys, err)
	}
	// A JWK Set; encryption keys are left out.
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k1.PublicKey, KeyID: "sig", Use: "sig", Algorithm: "RS256"},
		{Key: &k2.PublicKey, KeyID: "enc", Use: "enc", Algorithm: "RSA-OAEP"},
	}})
	keys, err = parseKeys(set)
	if err != nil || len(keys) != 1 || !keys["sig"].Equal(&k1.PublicKey) {
		t.Errorf("parseKeys(JWKS) = %v, %v", keys, err)
	}
	for _, bad := range []string{`not json`, `{"a":"not pem"}`, `{"a":42}`, `{"keys":"nope"}`,
		`{"a":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`} {
		if _, err := parseKeys([]byte(bad)); err == nil {
			t.Errorf("parseKeys(%s) succeeded", bad)
		}
	}
}

func TestKeyRefetchIsBounded(t *testing.T) {
	k := rsaKey(t)
	var fetches atomic.Int64
	body, _ := json.Marshal(map[string]string{"known": certPEM(t, k)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	now := time.Unix(1e9, 0)
	ks := newKeySets(srv.Client(), func() time.Time { return now })

	if key, err := ks.key(t.Context(), srv.URL, "known"); err != nil || !key.Equal(&k.PublicKey) {
		t.Fatalf("key(known) = %v, %v", key, err)
	}
	for range 50 {
		if _, err := ks.key(t.Context(), srv.URL, "unknown"); err != errUnknownKey {
			t.Fatalf("key(unknown) = %v, want errUnknownKey", err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for 1 known + 50 unknown kids within the refetch interval, want 1", n)
	}
	now = now.Add(ks.minRefetch)
	_, _ = ks.key(t.Context(), srv.URL, "unknown")
	if n := fetches.Load(); n != 2 {
		t.Errorf("after the refetch interval: %d fetches, want 2", n)
	}
	now = now.Add(ks.ttl + time.Second)
	_, _ = ks.key(t.Context(), srv.URL, "known")
	if n := fetches.Load(); n != 3 {
		t.Errorf("after the TTL: %d fetches, want 3 (stale keys are refreshed)", n)
	}
	// A failing refresh keeps serving the keys it has.
	srv.Close()
	now = now.Add(ks.ttl + time.Second)
	if _, err := ks.key(t.Context(), srv.URL, "known"); err != nil {
		t.Errorf("key(known) with the JWKS down = %v, want the cached key", err)
	}
}

// A client that disconnects during the cold key fetch does not make every
// valid token fail for the refetch interval: the fetch runs on its own
// context, and the throttle starts only when an attempt completes.
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
	go func() { _, err := ks.key(ctx, srv.URL, "known"); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel() // the client goes away mid-fetch
	if err := <-done; err == nil {
		t.Log("the aborted request still got its key")
	}
	close(release)
	// The very next request, well within the refetch interval, verifies.
	deadline := time.Now().Add(5 * time.Second)
	for {
		key, err := ks.key(t.Context(), srv.URL, "known")
		if err == nil && key.Equal(&k.PublicKey) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key(known) after an aborted fetch = %v (blocked for the refetch interval)", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
