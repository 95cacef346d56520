package identity

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, that it accepts exactly the
// inputs with a non-empty subject, and that errors never quote the input.
// `go test` runs the seeds; `go test -fuzz FuzzDecode` explores further.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"",
		enc(firebasePayload),
		base64.URLEncoding.EncodeToString([]byte(firebasePayload)),
		enc(`{"sub":"x"}`),
		enc(`{"sub":"x","aud":["a"],"iat":1,"exp":2}`),
		enc(`{"sub":"a","user_id":"b"}`),
		enc(`{"sub":1}`),
		enc(`{"sub":"x","roles":["admin"],"plan":"pro"}`),
		enc(`{"sub":"x","roles":"admin"}`),
		enc(`not json`),
		"====",
		"%%%",
		strings.Repeat("A", 100),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, err := Decode(in)
		if err != nil {
			if len(in) >= 8 && strings.Contains(err.Error(), in) {
				t.Fatalf("error quotes input: %v", err)
			}
			return
		}
		if id.UID == "" {
			t.Fatalf("Decode(%q) accepted an identity without a subject", in)
		}
		if id.Roles == nil {
			t.Fatalf("Decode(%q) returned nil roles, want empty", in)
		}
		if _, err := json.Marshal(id); err != nil {
			t.Fatalf("decoded identity does not marshal: %v", err)
		}
	})
}
