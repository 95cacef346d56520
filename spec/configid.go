package spec

import (
	"crypto/sha256"
	"encoding/hex"
)

// ConfigID derives an API Gateway config id from everything that forces an
// ApiConfig to be replaced: the document's content and the gateway's backend
// service account (gatewayConfig, also replace-only). It is "cfg-" and the
// first 16 hex digits of a SHA-256. The same inputs always get the same id
// and any change gets a new one, so a changed spec or account creates a new
// ApiConfig (before the old one is deleted) instead of colliding with the old
// id ("already exists"), and nothing changed changes nothing. An empty
// account hashes the document alone.
func ConfigID(doc []byte, gatewayServiceAccount string) string {
	h := sha256.New()
	h.Write(doc)
	if gatewayServiceAccount != "" {
		h.Write([]byte{0})
		h.Write([]byte(gatewayServiceAccount))
	}
	return "cfg-" + hex.EncodeToString(h.Sum(nil)[:8])
}
