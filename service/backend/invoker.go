package backend

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
)

// Who invoked the backend. Cloud Run's IAM check lets through every
// principal holding roles/run.invoker on the service, and more hold it than
// the gateway: project Owners and Editors, Cloud Run Admins (a CI deployer)
// and project-level invokers ("By default, services are only callable by
// Project Owners, Project Editors, and Cloud Run Admins and Cloud Run
// Invokers", https://cloud.google.com/run/docs/securing/authenticating).
// Any of them could send a forged X-Apigateway-Api-Userinfo. So on every
// route that reads the caller's identity the backend first checks that the
// request was invoked as the gateway's service account, from the ID token
// Cloud Run itself verified:
//
//   - the token is X-Serverless-Authorization's when that header is
//     present, else Authorization's: when both are present Cloud Run
//     checks X-Serverless-Authorization and passes Authorization through
//     unchecked (https://cloud.google.com/run/docs/authenticating/service-to-service#acquire-token;
//     Cloud Run's team confirmed it in GoogleCloudPlatform/cloud-run-proxy#25).
//     Reading Authorization first would let an invoker put its own token in
//     X-Serverless-Authorization and a forged "gateway" token in
//     Authorization.
//   - its payload is decoded without verifying the signature: Cloud Run
//     verified it before the request reached the container, and "removes
//     the token signature before passing the token to the user container"
//     (same page). Google's own receiving sample reads the caller's email
//     the same way (GoogleCloudPlatform/python-docs-samples,
//     run/service-auth/receive.py: jwt.decode(creds, verify=False)).
//   - its email claim must be GatewayServiceAccount. API Gateway (ESPv2)
//     sends an ID token of its service account from the metadata server
//     (esp-v2 src/go/metadata/metadata_fetcher.go); such tokens carry the
//     account's email.
//
// There is no setting that turns the check off: a backend with identity
// routes does not start without GATEWAY_SERVICE_ACCOUNT. The local twin's
// gateway sends an unsigned stand-in token with the twin's gateway account
// as email, so the same check runs offline.
const (
	// ServerlessAuthorization is the header Cloud Run checks before
	// Authorization.
	ServerlessAuthorization = "X-Serverless-Authorization"
	// GatewayAccountEnv names the gateway's service-account email.
	GatewayAccountEnv = "GATEWAY_SERVICE_ACCOUNT"
)

// Messages of the invoker check's refusals. They never quote a header.
const (
	msgNoInvoker     = "missing gateway identity: no invoker token (only the gateway may call this backend)"
	msgBadInvoker    = "invalid gateway identity: the invoker token is not a JWT"
	msgNotTheGateway = "forbidden: this backend serves only requests the gateway invokes"
)

// maxInvokerToken bounds the token the check decodes: a Google-signed ID
// token is about 1 KiB.
const maxInvokerToken = 8 << 10

// accountRe is a service-account-like email, as Google writes them:
// lowercase (name@project.iam.gserviceaccount.com, and the older
// PROJECT_NUMBER-compute@developer.gserviceaccount.com forms).
var accountRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*@[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$`)

// checkGatewayAccount validates a GATEWAY_SERVICE_ACCOUNT value.
func checkGatewayAccount(v string) error {
	if v == "" {
		return fmt.Errorf("%s is not set: the backend trusts the caller identity only on requests the gateway's service account invoked; set it to that account's email (the stack's gatewayServiceAccount output)", GatewayAccountEnv)
	}
	if !accountRe.MatchString(v) {
		return fmt.Errorf("invalid %s %q: want the gateway's service-account email, such as gatehouse-gateway@my-project.iam.gserviceaccount.com", GatewayAccountEnv, v)
	}
	return nil
}

// invokerCheck accepts requests invoked as one service account. Tokens it
// accepted are remembered (a decode per token, not per request: the
// gateway reuses its token for up to an hour), at most maxAccepted of
// them, so it costs a map lookup on the hot path and bounded memory.
type invokerCheck struct {
	account string

	mu       sync.RWMutex
	accepted map[string]struct{}
}

const maxAccepted = 64

func newInvokerCheck(account string) *invokerCheck {
	return &invokerCheck{account: account, accepted: map[string]struct{}{}}
}

var (
	errNoInvoker      = errors.New("no invoker token")
	errSeveralInvoker = errors.New("several invoker tokens")
	errNotBearer      = errors.New("invoker token is not a Bearer token")
	errNotJWT         = errors.New("invoker token is not a JWT")
)

// check returns nil when the request was invoked as the gateway's account,
// else an *echo.HTTPError: 401 without a usable token, 403 for another
// invoker. The internal error never holds the token.
func (v *invokerCheck) check(h http.Header) error {
	token, err := invokerToken(h)
	if err != nil {
		msg := msgBadInvoker
		if errors.Is(err, errNoInvoker) {
			msg = msgNoInvoker
		}
		return echo.NewHTTPError(http.StatusUnauthorized, msg).WithInternal(err)
	}
	v.mu.RLock()
	_, ok := v.accepted[token]
	v.mu.RUnlock()
	if ok {
		return nil
	}
	email, err := tokenEmail(token)
	if err != nil {
		return echo.NewHTTPError(http.StatusUnauthorized, msgBadInvoker).WithInternal(err)
	}
	if email != v.account {
		// Which account it was is not logged either: an email of the
		// project's is no secret, but the log needs no more than this.
		return echo.NewHTTPError(http.StatusForbidden, msgNotTheGateway).
			WithInternal(errors.New("invoked by an account other than " + GatewayAccountEnv))
	}
	v.mu.Lock()
	if len(v.accepted) >= maxAccepted {
		clear(v.accepted)
	}
	v.accepted[token] = struct{}{}
	v.mu.Unlock()
	return nil
}

// invokerToken is the bearer token Cloud Run verified: X-Serverless-
// Authorization's when present, else Authorization's. Several values of
// the header in use are refused: which one Cloud Run checked cannot be
// told.
func invokerToken(h http.Header) (string, error) {
	values := h.Values(ServerlessAuthorization)
	if len(values) == 0 {
		values = h.Values(echo.HeaderAuthorization)
	}
	switch len(values) {
	case 0:
		return "", errNoInvoker
	case 1:
	default:
		return "", errSeveralInvoker
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errNotBearer
	}
	if len(token) > maxInvokerToken {
		return "", errNotJWT
	}
	return token, nil
}

// tokenEmail decodes a JWT's payload, with or without its signature
// segment, and returns its email claim.
func tokenEmail(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 2 && len(parts) != 3 {
		return "", errNotJWT
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", errNotJWT
	}
	var claims struct {
		Email string `json:"email"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", errNotJWT
	}
	return claims.Email, nil
}
