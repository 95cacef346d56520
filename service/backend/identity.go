package backend

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/service/internal/identity"
)

// CallerIdentity is the verified caller of a route registered with
// Identity.
func CallerIdentity(c echo.Context) (identity.Identity, error) {
	id, ok := identity.FromContext(c.Request().Context())
	if !ok {
		// Only reachable if a route is registered without gatewayIdentity.
		return identity.Identity{}, echo.NewHTTPError(http.StatusUnauthorized, "missing gateway identity")
	}
	return id, nil
}

// identityCacheBytes bounds the decoded-identity cache: about 4,000 callers'
// identities (~1 KiB each), a small part of the smallest instance's memory.
const identityCacheBytes = 4 << 20

// EmailNotVerified is the message of the 403 a caller without a verified
// email gets when Options.RequireEmailVerified is set.
const EmailNotVerified = "a verified email address is required: verify your email, then sign in again for a fresh token"

// gatewayIdentity requires a request the gateway invoked (invoker) and the
// identity API Gateway forwards, and puts the identity in the request
// context; with verifiedEmail, it also requires a verified email. See
// package identity and invoker.go for why the header is trusted.
func gatewayIdentity(invoker *invokerCheck, cache *identity.Cache, verifiedEmail bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if err := invoker.check(req.Header); err != nil {
				return err
			}
			values := req.Header.Values(identity.Header)
			if len(values) > 1 {
				// The gateway sets one value; which of several it set cannot
				// be told, so none is trusted.
				return echo.NewHTTPError(http.StatusUnauthorized, "invalid gateway identity: several identities in one request").
					WithInternal(errSeveralIdentities)
			}
			var header string
			if len(values) == 1 {
				header = values[0]
			}
			id, err := cache.Decode(header)
			if err != nil {
				// The message comes from a fixed set of errors and never quotes the header.
				return echo.NewHTTPError(http.StatusUnauthorized, unauthorizedMessage(err)).WithInternal(err)
			}
			if verifiedEmail && !(id.EmailVerified && id.Email != "") {
				return echo.NewHTTPError(http.StatusForbidden, EmailNotVerified)
			}
			c.SetRequest(req.WithContext(identity.NewContext(req.Context(), id)))
			return next(c)
		}
	}
}

var errSeveralIdentities = errors.New("several X-Apigateway-Api-Userinfo values")

func unauthorizedMessage(err error) string {
	switch {
	case errors.Is(err, identity.ErrMissing):
		return "missing gateway identity"
	case errors.Is(err, identity.ErrRoles):
		return "invalid gateway identity: the token's roles claim must be an array of strings"
	default:
		return "invalid gateway identity"
	}
}
