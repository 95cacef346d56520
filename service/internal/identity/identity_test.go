package identity

import (
	"context"
	"encoding/base64"
	"errors"
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
	c := NewCache(2)
	h := enc(firebasePayload)
	want, _ := Decode(h)
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
	for _, s := range []string{"a", "b", "c"} {
		if _, err := c.Decode(enc(`{"sub":"` + s + `"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.m) != 2 {
		t.Errorf("cache holds %d entries, want at most 2 (errors are not cached)", len(c.m))
	}
}
