package gateway

// The JWT check, as Envoy's jwt_authn filter in ESPv2 does it: where tokens
// are found (extractor.cc), one provider's verification (authenticator.cc)
// and how an operation's alternatives combine (verifier.cc).

import (
	"context"
	"net/http"

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

// authenticate verifies the request against the operation's security
// alternatives as ESPv2's jwt_authn does. One alternative is one provider
// verifier; several make Envoy's RequiresAny verifier (esp-v2
// filtergen/jwt_authn.go makeJwtRequirement; envoy verifier.cc
// AnyVerifierImpl). Its children start in order and complete as they can:
// one that needs no key fetch completes at once, one that fetches keys
// later. The first to complete with success wins. When all fail, the
// status reported does not depend on completion: going through the
// children in their listed order, the last whose failure is neither "Jwt
// is missing" nor "Jwt issuer is not configured" is reported (a token that
// names a provider's issuer but fails there outranks the other providers'
// "not my issuer"); failing that, "Jwt issuer is not configured" if any
// child said it; else "Jwt is missing". It returns the verified payload
// segments to forward.
func (g *Gateway) authenticate(r *http.Request, security [][]string) ([]string, *authFailure) {
	failures := make([]*authFailure, 0, len(security))
	var later []string // an alternative that passed after a key fetch
	passedLater := false
	for _, alt := range security {
		payloads, fail, fetched := g.verifyAll(r, alt)
		switch {
		case fail == nil && !fetched:
			return payloads, nil // completes while the children are started
		case fail == nil:
			if !passedLater {
				later, passedLater = payloads, true
			}
		default:
			failures = append(failures, fail)
		}
	}
	if passedLater {
		return later, nil
	}
	return nil, rankFailures(failures)
}

// rankFailures is AnyVerifierImpl::onComplete's choice among its failed
// children (envoy verifier.cc), in their listed order.
func rankFailures(failures []*authFailure) *authFailure {
	var final *authFailure
	for _, f := range failures {
		if final == nil || (f.msg != msgMissing && f.msg != msgUnknownIssuer) || final.msg == msgMissing {
			final = f
		}
	}
	return final
}

// verifyAll is one alternative: every provider it names must pass. With
// one provider it is that provider's verifier; with several, Envoy's
// RequiresAll (AllVerifierImpl), which completes with the first failure to
// complete: those that need no key fetch complete first, in order.
func (g *Gateway) verifyAll(r *http.Request, alt []string) (payloads []string, fail *authFailure, fetched bool) {
	var later *authFailure
	for _, name := range alt {
		// Each provider reads its own locations (a verifier's extractor
		// is made from its provider alone: verifier.cc
		// ProviderVerifierImpl).
		toks := g.extractors[name].extract(r)
		p, f, fetchedHere := g.verifyProvider(r.Context(), toks, g.doc.Issuers[name])
		fetched = fetched || fetchedHere
		switch {
		case f == nil:
			payloads = append(payloads, p...)
		case !f.fetched:
			return nil, f, false
		case later == nil:
			later = f
		}
	}
	if later != nil {
		return nil, later, true
	}
	return payloads, nil, fetched
}

// verifyProvider is Envoy's authenticator for one provider: every token
// found must verify (authenticator.cc doneWithStatus), each through the
// checks in jwt_verify_lib's order: format, issuer, times, audience, then
// the key set and the signature.
func (g *Gateway) verifyProvider(ctx context.Context, toks []string, is spec.Issuer) ([]string, *authFailure, bool) {
	if len(toks) == 0 {
		return nil, &authFailure{msg: msgMissing}, false
	}
	now := uint64(g.opts.Now().Unix())
	var payloads []string
	fetchedAny := false
	for _, raw := range toks {
		if v, ok := g.cache.get(is.Name, raw); ok {
			// Envoy's JWT cache skips parsing and the signature; the
			// issuer, times and audience are checked again.
			if msg := timeCheck(v.nbf, v.exp, now); msg != "" {
				return nil, &authFailure{msg: msg, fetched: fetchedAny}, fetchedAny
			}
			payloads = append(payloads, payloadSegment(raw))
			continue
		}
		j, msg := parseJWT(raw, g.emulatorIssuer != "" && is.Issuer == g.emulatorIssuer)
		if msg != "" {
			return nil, &authFailure{msg: msg, fetched: fetchedAny}, fetchedAny
		}
		if j.iss != is.Issuer {
			return nil, &authFailure{msg: msgUnknownIssuer, fetched: fetchedAny}, fetchedAny
		}
		if msg := timeCheck(j.nbf, j.exp, now); msg != "" {
			return nil, &authFailure{msg: msg, fetched: fetchedAny}, fetchedAny
		}
		if !audienceAllowed(is.Audiences, j.aud) {
			return nil, &authFailure{msg: msgAudience, fetched: fetchedAny}, fetchedAny
		}
		if !j.unsignedEmulator {
			keys, fetched, err := g.keys.get(ctx, is.JWKSURI)
			fetchedAny = fetchedAny || fetched
			if err != nil {
				return nil, &authFailure{msg: msgJWKSFetch, fetched: fetchedAny, err: err}, fetchedAny
			}
			if msg := verifySignature(j, keys); msg != "" {
				return nil, &authFailure{msg: msg, fetched: fetchedAny}, fetchedAny
			}
		}
		g.cache.put(is.Name, raw, verified{nbf: j.nbf, exp: j.exp})
		payloads = append(payloads, j.payloadB64)
	}
	return payloads, nil, fetchedAny
}
