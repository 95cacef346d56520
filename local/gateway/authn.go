package gateway

// The JWT check, as Envoy's jwt_authn filter in ESPv2 does it: where tokens
// are found (extractor.cc), one provider's verification (authenticator.cc)
// and how an operation's alternatives combine (verifier.cc).

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/spec"
)

// realmOf is Envoy's original URI for WWW-Authenticate: scheme, host and
// path without the query, the path cut at 256 bytes.
func realmOf(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if len(path) > maxRealmPath {
		path = path[:maxRealmPath]
	}
	return scheme + "://" + r.Host + path
}

// authFailure is a failed verification: ESPv2's message, whether it was
// reached only after a key fetch (Envoy then completes it later than the
// checks that needed none), and the underlying error for the log.
type authFailure struct {
	msg     string
	fetched bool
	err     error
}

// code is 403 for a disallowed audience and 401 for everything else
// (Envoy jwt_authn filter.cc onComplete).
func (f *authFailure) code() int {
	if f.msg == msgAudience {
		return http.StatusForbidden
	}
	return http.StatusUnauthorized
}

// tokens finds every JWT in ESPv2's default locations (esp-v2
// src/go/configgenerator/filtergen/jwt_authn.go defaultJwtLocations:
// Authorization with the case-sensitive prefix "Bearer ",
// X-Goog-Iap-Jwt-Assertion, and the access_token query parameter), in the
// order Envoy's authenticator checks them: it takes the last found first.
func tokens(r *http.Request) []string {
	var found []string
	for _, v := range r.Header.Values("Authorization") {
		// Envoy's extractor looks for the prefix anywhere in the value,
		// then takes the token from the first base64url character after it.
		i := strings.Index(v, "Bearer ")
		if i < 0 {
			continue
		}
		rest := v[i+len("Bearer "):]
		if j := strings.IndexFunc(rest, isTokenChar); j >= 0 {
			rest = rest[j:]
		}
		found = append(found, rest)
	}
	found = append(found, r.Header.Values(iapHeader)...)
	q, _ := url.ParseQuery(r.URL.RawQuery) // what parses is used, as Envoy does
	if v := q["access_token"]; len(v) > 0 {
		found = append(found, v[0])
	}
	for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
		found[i], found[j] = found[j], found[i]
	}
	return found
}

func isTokenChar(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// authenticate verifies the request against the operation's security
// alternatives, as Envoy's RequiresAny verifier does: the first alternative
// that passes wins; when all fail, the failure reported is the one that
// completed last (those that needed a key fetch complete after those that
// did not). It returns the verified payload segments to forward.
func (g *Gateway) authenticate(r *http.Request, security [][]string) ([]string, *authFailure) {
	toks := tokens(r)
	var sync, async *authFailure
	for _, alt := range security {
		var payloads []string
		var fail *authFailure
		for _, name := range alt { // every provider of one alternative must pass
			p, f := g.verifyProvider(r.Context(), toks, g.doc.Issuers[name])
			if f != nil {
				fail = f
				break
			}
			payloads = append(payloads, p...)
		}
		if fail == nil {
			return payloads, nil
		}
		if fail.fetched {
			async = fail
		} else {
			sync = fail
		}
	}
	if async != nil {
		return nil, async
	}
	return nil, sync
}

// verifyProvider is Envoy's authenticator for one provider: every token
// found must verify (authenticator.cc doneWithStatus), each through the
// checks in jwt_verify_lib's order: format, issuer, times, audience, then
// the key set and the signature.
func (g *Gateway) verifyProvider(ctx context.Context, toks []string, is spec.Issuer) ([]string, *authFailure) {
	if len(toks) == 0 {
		return nil, &authFailure{msg: msgMissing}
	}
	now := uint64(g.opts.Now().Unix())
	var payloads []string
	fetchedAny := false
	for _, raw := range toks {
		if v, ok := g.cache.get(is.Name, raw); ok {
			// Envoy's JWT cache skips parsing and the signature; the
			// issuer, times and audience are checked again.
			if msg := timeCheck(v.nbf, v.exp, now); msg != "" {
				return nil, &authFailure{msg: msg, fetched: fetchedAny}
			}
			payloads = append(payloads, payloadSegment(raw))
			continue
		}
		j, msg := parseJWT(raw, g.opts.Emulator)
		if msg != "" {
			return nil, &authFailure{msg: msg, fetched: fetchedAny}
		}
		if j.iss != is.Issuer {
			return nil, &authFailure{msg: msgUnknownIssuer, fetched: fetchedAny}
		}
		if msg := timeCheck(j.nbf, j.exp, now); msg != "" {
			return nil, &authFailure{msg: msg, fetched: fetchedAny}
		}
		if !audienceAllowed(is.Audiences, j.aud) {
			return nil, &authFailure{msg: msgAudience, fetched: fetchedAny}
		}
		if !j.unsignedEmulator {
			keys, fetched, err := g.keys.get(ctx, is.JWKSURI)
			fetchedAny = fetchedAny || fetched
			if err != nil {
				return nil, &authFailure{msg: msgJWKSFetch, fetched: fetchedAny, err: err}
			}
			if msg := verifySignature(j, keys); msg != "" {
				return nil, &authFailure{msg: msg, fetched: fetchedAny}
			}
		}
		g.cache.put(is.Name, raw, verified{nbf: j.nbf, exp: j.exp})
		payloads = append(payloads, j.payloadB64)
	}
	return payloads, nil
}
