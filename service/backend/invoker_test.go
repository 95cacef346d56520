package backend

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/service/internal/gatewaytest"
	"github.com/gatehouse/gatehouse/service/internal/identity"
)

// TestInvokerCheck: an identity route serves a request only when Cloud
// Run's verified token (X-Serverless-Authorization, else Authorization)
// belongs to the gateway's service account (#28 item 3). Cloud Run's IAM
// lets other invokers through (project Owners and Editors, Cloud Run
// Admins, project-level invokers); each of them once could send any
// X-Apigateway-Api-Userinfo and act as any user.
func TestInvokerCheck(t *testing.T) {
	gateway := gatewaytest.InvokerToken(gatewaytest.Account)
	editor := gatewaytest.InvokerToken("123456789-compute@developer.gserviceaccount.com")
	deployer := gatewaytest.InvokerToken("gatehouse-deploy@demo-gatehouse.iam.gserviceaccount.com")
	unsigned := strings.TrimSuffix(gateway, ".") // header.payload, no signature segment
	signed := gateway + "c2lnbmF0dXJl"           // header.payload.signature
	upper := gatewaytest.InvokerToken(strings.ToUpper(gatewaytest.Account))
	noEmail := "Bearer " + seg(`{"alg":"RS256"}`) + "." + seg(`{"sub":"100000000000000000001","aud":"x"}`) + "."
	firebaseUser := "Bearer " + seg(`{"alg":"RS256"}`) + "." + seg(`{"iss":"https://securetoken.google.com/p","sub":"victim","email":"`+gatewaytest.Account+`"}`) + ".sig"
	forged := gatewaytest.Userinfo(`{"sub":"victim-uid","email":"victim@example.com","iss":"https://securetoken.google.com/p"}`)

	for _, tt := range []struct {
		name       string
		authz      []string // Authorization values
		serverless []string // X-Serverless-Authorization values
		want       ErrorBody
	}{
		{"the gateway (header.payload. : Cloud Run removed the signature)", []string{gateway}, nil, ErrorBody{Code: 200}},
		{"the gateway, no signature segment", []string{unsigned}, nil, ErrorBody{Code: 200}},
		{"the gateway, signature kept", []string{signed}, nil, ErrorBody{Code: 200}},
		{"the gateway in X-Serverless-Authorization, a user token in Authorization", []string{firebaseUser}, []string{gateway}, ErrorBody{Code: 200}},
		{"the gateway, lowercase bearer", []string{"bearer " + strings.TrimPrefix(gateway, "Bearer ")}, nil, ErrorBody{Code: 200}},

		{"a project Editor (default compute account)", []string{editor}, nil, ErrorBody{403, msgNotTheGateway}},
		{"the CI deployer (Cloud Run Admin)", []string{deployer}, nil, ErrorBody{403, msgNotTheGateway}},
		// Cloud Run verified X-Serverless-Authorization and passed
		// Authorization through unchecked: a forged gateway token there
		// must not count.
		{"another invoker in X-Serverless-Authorization, a forged gateway token in Authorization", []string{gateway}, []string{editor}, ErrorBody{403, msgNotTheGateway}},
		{"the account's email in another case", []string{upper}, nil, ErrorBody{403, msgNotTheGateway}},
		{"a token without email", []string{noEmail}, nil, ErrorBody{403, msgNotTheGateway}},

		{"no token", nil, nil, ErrorBody{401, msgNoInvoker}},
		{"not a bearer token", []string{"Basic Z2F0ZXdheTpwdw=="}, nil, ErrorBody{401, msgBadInvoker}},
		{"bearer without a token", []string{"Bearer "}, nil, ErrorBody{401, msgBadInvoker}},
		{"not a JWT", []string{"Bearer not-a-jwt"}, nil, ErrorBody{401, msgBadInvoker}},
		{"a payload that is not base64url", []string{"Bearer a.%%%.b"}, nil, ErrorBody{401, msgBadInvoker}},
		{"a payload that is not JSON", []string{"Bearer " + seg("{}") + "." + seg("nope") + "."}, nil, ErrorBody{401, msgBadInvoker}},
		{"an oversized token", []string{"Bearer " + seg("{}") + "." + seg(`{"email":"`+gatewaytest.Account+`","pad":"`+strings.Repeat("x", maxInvokerToken)+`"}`) + "."}, nil, ErrorBody{401, msgBadInvoker}},
		{"two Authorization values", []string{gateway, gateway}, nil, ErrorBody{401, msgBadInvoker}},
		{"two X-Serverless-Authorization values", nil, []string{gateway, gateway}, ErrorBody{401, msgBadInvoker}},
		{"an empty X-Serverless-Authorization beside the gateway's Authorization", []string{gateway}, []string{""}, ErrorBody{401, msgBadInvoker}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, logs := newTestServer(t)
			for range 2 { // the second time, from the remembered tokens
				req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
				for _, v := range tt.authz {
					req.Header.Add("Authorization", v)
				}
				for _, v := range tt.serverless {
					req.Header.Add(ServerlessAuthorization, v)
				}
				req.Header.Set(identity.Header, forged)
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if tt.want.Code == 200 {
					if rec.Code != 200 || !strings.Contains(rec.Body.String(), "victim-uid") {
						t.Fatalf("%d %s, want 200 with the forwarded identity", rec.Code, rec.Body.String())
					}
					continue
				}
				var got ErrorBody
				decodeJSON(t, rec, &got)
				if rec.Code != tt.want.Code || got != tt.want {
					t.Fatalf("%d %+v, want %+v", rec.Code, got, tt.want)
				}
			}
			for _, v := range append(tt.authz, tt.serverless...) {
				if tok := strings.TrimPrefix(v, "Bearer "); len(tok) > 8 && strings.Contains(logs.String(), tok) {
					t.Error("a token reached the log")
				}
			}
		})
	}
}

func seg(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestInvokerCheckOnlyOnIdentityRoutes: routes that do not read the
// identity (the health check) answer whoever invoked them.
func TestInvokerCheckOnlyOnIdentityRoutes(t *testing.T) {
	e, _ := newTestServer(t)
	if rec := do(e, http.MethodGet, "/healthz", map[string]string{"Authorization": ""}, ""); rec.Code != 200 {
		t.Errorf("/healthz without an invoker token = %d, want 200", rec.Code)
	}
}

// TestGatewayAccountRequired: a backend with identity routes is not built
// without the gateway's account, nor with a value that is not an email;
// nothing turns the check off. One without identity routes needs none.
func TestGatewayAccountRequired(t *testing.T) {
	for _, tt := range []struct {
		account, want string
	}{
		{"", "GET /whoami reads the caller's identity: GATEWAY_SERVICE_ACCOUNT is not set"},
		{"off", `invalid GATEWAY_SERVICE_ACCOUNT "off"`},
		{"*", `invalid GATEWAY_SERVICE_ACCOUNT "*"`},
		{"Gatehouse-Gateway@p.iam.gserviceaccount.com", "invalid GATEWAY_SERVICE_ACCOUNT"},
		{"gatehouse-gateway@p.iam.gserviceaccount.com, x@y.com", "invalid GATEWAY_SERVICE_ACCOUNT"},
	} {
		_, err := NewServer(Options{GatewayServiceAccount: tt.account}, testRoutes())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewServer with account %q: %v, want an error containing %q", tt.account, err, tt.want)
		}
	}
	if _, err := NewServer(Options{}, []Handler{{Route: Route{Method: http.MethodGet, Path: "/healthz"}, Func: Healthz("")}}); err != nil {
		t.Errorf("a backend without identity routes: %v, want no need of the account", err)
	}
	for _, ok := range []string{gatewaytest.Account, "123456789-compute@developer.gserviceaccount.com"} {
		if _, err := NewServer(Options{GatewayServiceAccount: ok}, testRoutes()); err != nil {
			t.Errorf("account %q: %v", ok, err)
		}
	}
}

// TestInvokerMemoryBounded: accepted tokens are remembered (a decode per
// token, not per request), at most maxAccepted; refused ones never are.
func TestInvokerMemoryBounded(t *testing.T) {
	v := newInvokerCheck(gatewaytest.Account)
	for i := range 3 * maxAccepted {
		tok := "Bearer " + seg(`{"alg":"RS256"}`) + "." + seg(fmt.Sprintf(`{"email":%q,"iat":%d}`, gatewaytest.Account, i)) + "."
		if err := v.check(http.Header{"Authorization": {tok}}); err != nil {
			t.Fatal(err)
		}
		if n := len(v.accepted); n > maxAccepted {
			t.Fatalf("%d tokens remembered, want at most %d", n, maxAccepted)
		}
	}
	other := newInvokerCheck(gatewaytest.Account)
	for range 3 {
		if err := other.check(http.Header{"Authorization": {gatewaytest.InvokerToken("someone@p.iam.gserviceaccount.com")}}); err == nil {
			t.Fatal("another account accepted")
		}
	}
	if len(other.accepted) != 0 {
		t.Errorf("a refused token is remembered")
	}
}
