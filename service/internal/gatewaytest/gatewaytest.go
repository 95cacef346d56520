// Package gatewaytest builds, for tests, what API Gateway sends a backend:
// the forwarded identity (X-Apigateway-Api-Userinfo) and the invoker token
// of the gateway's service account that Cloud Run verified (Authorization,
// its signature already removed by Cloud Run). Only tests import it, so no
// image's build context holds it.
package gatewaytest

import (
	"encoding/base64"
	"encoding/json"
)

// Account is the gateway's service account in tests (the twin's default,
// <serviceName>-gateway@<project>.iam.gserviceaccount.com).
const Account = "gatehouse-gateway@demo-gatehouse.iam.gserviceaccount.com"

// InvokerToken is an Authorization value carrying an ID token of email, as
// the container receives it: header.payload. with the signature removed.
func InvokerToken(email string) string {
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	payload, _ := json.Marshal(map[string]any{
		"iss": "https://accounts.google.com", "aud": "https://backend.a.run.app", "email": email,
		"email_verified": true, "sub": "100000000000000000001", "iat": 1700000000, "exp": 1700003600,
	})
	return "Bearer " + header + "." + base64.RawURLEncoding.EncodeToString(payload) + "."
}

// Userinfo is the X-Apigateway-Api-Userinfo value for a token's claims
// (JSON).
func Userinfo(claims string) string { return base64.RawURLEncoding.EncodeToString([]byte(claims)) }

// Headers are a request's headers as the gateway sends them, for a caller
// with claims (JSON): invoked as Account, with the caller's identity.
func Headers(claims string) map[string]string {
	return map[string]string{"Authorization": InvokerToken(Account), "X-Apigateway-Api-Userinfo": Userinfo(claims)}
}
