package gateway

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/spec"
)

// TestStandInTokenEmail: the stand-in backend token carries the gateway's
// service account as email (the backends check it, contract C2) and the
// backend's audience; without an account, no email, so backends refuse it.
func TestStandInTokenEmail(t *testing.T) {
	const account = "gatehouse-gateway@demo-gatehouse.iam.gserviceaccount.com"
	for _, tt := range []struct{ email, want string }{{account, account}, {"", ""}} {
		tok := standInToken(spec.Backend{Address: "http://127.0.0.1:8081/base"}, tt.email)
		parts := strings.Split(strings.TrimPrefix(tok, "Bearer "), ".")
		if len(parts) != 3 || parts[2] != "" {
			t.Fatalf("stand-in %q: want an unsigned JWT", tok)
		}
		raw, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var claims map[string]string
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		if claims["email"] != tt.want || claims["aud"] != "http://127.0.0.1:8081" {
			t.Errorf("stand-in claims %v, want email %q and aud http://127.0.0.1:8081", claims, tt.want)
		}
	}
}
