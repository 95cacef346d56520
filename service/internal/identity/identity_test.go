package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const firebasePayload = `{"iss":"https://securetoken.google.com/demo-gatehouse","aud":"demo-gatehouse","auth_time":1700000000,"user_id":"u123","sub":"u123","iat":1700000000,"exp":1700003600,"email":"ada@example.com","email_verified":true,"firebase":{"identities":{"email":["ada@example.com"]},"sign_in_provider":"password"}}`

func TestDecode(t *testing.T) {
	want := Identity{
		UID:            "u123",
		Email:          "ada@example.com",
		EmailVerified:  true,
		SignInProvider: "password",
		Issuer:         "https://securetoken.google.com/demo-gatehouse",
		Audience:       []string{"demo-gatehouse"},
		IssuedAt:       time.Unix(1700000000, 0).UTC(),
		ExpiresAt:      time.Unix(1700003600, 0).UTC(),
	}
	unpadded := base64.RawURLEncoding.EncodeToString([]byte(firebasePayload))
	padded := base64.URLEncoding.EncodeToString([]byte(firebasePayload))
	if unpadded == padded {
		t.Fatal("test payload must need padding")
	}
	for _, in := range []string{unpadded, padded} {
		got, err := Decode(in)
		if err != nil {
			t.Fatalf("Decode(%q) error: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestDecodeAudienceArrayAndMinimal(t *testing.T) {
	got, err := Decode(enc(`{"sub":"svc","aud":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != "svc" || !reflect.DeepEqual(got.Audience, []string{"a", "b"}) || got.Name() != "svc" {
		t.Errorf("Decode(array aud) = %+v, want uid svc, aud [a b], name svc", got)
	}
	got, err = Decode(enc(`{"sub":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.Audience == nil || len(got.Audience) != 0 || !got.IssuedAt.IsZero() {
		t.Errorf("Decode(minimal) = %+v, want empty non-nil audience and zero times", got)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"missing", "", ErrMissing},
		{"oversized", strings.Repeat("A", MaxHeaderLen+1), ErrTooLarge},
		{"garbage base64", "!!!not*base64!!!", ErrEncoding},
		{"standard alphabet", "+/+/", ErrEncoding},
		{"not json", enc("hello world"), ErrMalformed},
		{"json array", enc(`["sub"]`), ErrMalformed},
		{"json without sub", enc(`{"email":"a@b.c"}`), ErrNoSubject},
		{"empty sub", enc(`{"sub":""}`), ErrNoSubject},
		{"null", enc(`null`), ErrNoSubject},
		{"sub wrong type", enc(`{"sub":42}`), ErrMalformed},
		{"user_id differs", enc(`{"sub":"a","user_id":"b"}`), ErrMalformed},
		{"fractional exp", enc(`{"sub":"a","exp":1.5}`), ErrMalformed},
		{"aud object", enc(`{"sub":"a","aud":{"x":1}}`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode(%.20q) = %+v, %v, want error %v", tt.in, got, err, tt.want)
			}
			if len(tt.in) > 3 && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q quotes the header", err)
			}
		})
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := FromContext(ctx); ok {
		t.Fatal("FromContext(empty) = ok, want not found")
	}
	// A string key with the same text must not collide with the typed key.
	//lint:ignore SA1029 deliberately a string key, to show it does not collide
	ctx = context.WithValue(ctx, "identity.ctxKey", Identity{UID: "forged"}) //nolint:staticcheck
	if _, ok := FromContext(ctx); ok {
		t.Fatal("FromContext found a value stored under a string key")
	}
	ctx = NewContext(ctx, Identity{UID: "u1"})
	if id, ok := FromContext(ctx); !ok || id.UID != "u1" {
		t.Errorf("FromContext = %+v, %v, want u1, true", id, ok)
	}
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestCache(t *testing.T) {
	h := enc(firebasePayload)
	want, _ := Decode(h)
	c := NewCache(2 * size(h, want)) // room for two entries like this one
	for range 2 {
		got, err := c.Decode(h)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Cache.Decode = %+v, %v, want %+v", got, err, want)
		}
	}
	if _, err := c.Decode("!!!"); !errors.Is(err, ErrEncoding) {
		t.Errorf("Cache.Decode(bad) = %v, want ErrEncoding", err)
	}
	if _, err := c.Decode(""); !errors.Is(err, ErrMissing) {
		t.Errorf("Cache.Decode(empty) = %v, want ErrMissing", err)
	}
	for _, s := range []string{"a", "b", "c", "d", "e"} {
		if _, err := c.Decode(enc(`{"sub":"` + s + `"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Bytes() > c.maxBytes || len(c.m) == 0 {
		t.Errorf("cache holds %d bytes in %d entries, want at most %d", c.Bytes(), len(c.m), c.maxBytes)
	}
}

// A flood of distinct, valid, large identities (an aud array filling the
// header) is bounded by bytes: 8,192 headers of ~16 KiB once kept ~290 MiB.
func TestCacheBoundedUnderFlood(t *testing.T) {
	const budget = 1 << 20
	c := NewCache(budget)
	var aud []string
	for i := range maxAudiences {
		aud = append(aud, fmt.Sprintf("%0600d", i)) // 16 audiences of 600 bytes: ~13 KiB encoded, under MaxHeaderLen
	}
	big, _ := json.Marshal(aud)
	small := 0
	for i := range 8192 {
		var payload string
		if i%2 == 0 {
			payload = fmt.Sprintf(`{"sub":"u%d","aud":%s}`, i, big)
		} else {
			payload = fmt.Sprintf(`{"sub":"u%d","aud":"p","email":"u%d@example.com"}`, i, i)
			small++
		}
		if _, err := c.Decode(enc(payload)); err != nil {
			t.Fatal(err)
		}
	}
	if c.Bytes() > budget {
		t.Errorf("cache holds %d bytes after the flood, budget %d", c.Bytes(), budget)
	}
	for k := range c.m {
		if len(k) > MaxCachedHeader {
			t.Fatalf("a %d-byte header was cached", len(k))
		}
	}
	// The negative: the bound is real, the cache is not simply empty.
	if len(c.m) == 0 {
		t.Error("nothing cached at all")
	}
}

// Claims a caller controls are capped, and times beyond what RFC 3339 can
// write (year 9999) are invalid, not a 500 later.
func TestClaimLimits(t *testing.T) {
	many := make([]string, maxAudiences+1)
	for i := range many {
		many[i] = "a"
	}
	tooMany, _ := json.Marshal(many)
	for _, tt := range []struct {
		name, payload string
		ok            bool
	}{
		{"16 audiences", `{"sub":"u","aud":` + string(tooMany[:len(tooMany)-5]) + `]}`, true},
		{"17 audiences", `{"sub":"u","aud":` + string(tooMany) + `}`, false},
		{"long email", `{"sub":"u","email":"` + strings.Repeat("e", maxClaimLen+1) + `"}`, false},
		{"exp in 9999", `{"sub":"u","exp":253402300799}`, true},
		{"exp beyond 9999", `{"sub":"u","exp":253402300800}`, false},
		{"exp far beyond", `{"sub":"u","exp":99999999999999}`, false},
		{"negative iat", `{"sub":"u","iat":-1}`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(enc(tt.payload))
			if (err == nil) != tt.ok {
				t.Errorf("Decode = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v is not ErrMalformed", err)
			}
		})
	}
}
