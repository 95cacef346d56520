package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
)

// The failures a JWT can meet, with the exact message ESPv2 answers for
// each. They and their order come from google/jwt_verify_lib (src/status.cc,
// src/jwt.cc), which Envoy's jwt_authn filter (and so ESPv2) uses.
const (
	msgMissing            = "Jwt is missing"
	msgNotYetValid        = "Jwt not yet valid"
	msgExpired            = "Jwt is expired"
	msgBadFormat          = "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"
	msgHeaderBadBase64    = "Jwt header is an invalid Base64url encoded"
	msgHeaderBadJSON      = "Jwt header is an invalid JSON"
	msgHeaderBadAlg       = "Jwt header [alg] field is required and must be a string"
	msgHeaderAlgNotImpl   = "Jwt header [alg] is not supported"
	msgHeaderBadKid       = "Jwt header [kid] field is not a string"
	msgPayloadBadBase64   = "Jwt payload is an invalid Base64url encoded"
	msgPayloadBadJSON     = "Jwt payload is an invalid JSON"
	msgIssNotString       = "Jwt payload [iss] field is not a string"
	msgSubNotString       = "Jwt payload [sub] field is not a string"
	msgIatNotInteger      = "Jwt payload [iat] field is not an integer"
	msgIatOutOfRange      = "Jwt payload [iat] field is not a positive 64 bit integer"
	msgNbfNotInteger      = "Jwt payload [nbf] field is not an integer"
	msgNbfOutOfRange      = "Jwt payload [nbf] field is not a positive 64 bit integer"
	msgExpNotInteger      = "Jwt payload [exp] field is not an integer"
	msgExpOutOfRange      = "Jwt payload [exp] field is not a positive 64 bit integer"
	msgJtiNotString       = "Jwt payload [jti] field is not a string"
	msgAudNotString       = "Jwt payload [aud] field is not a string or string list"
	msgSignatureBadBase64 = "Jwt signature is an invalid Base64url encoded"
	msgUnknownIssuer      = "Jwt issuer is not configured"
	msgAudience           = "Audiences in Jwt are not allowed"
	msgVerification       = "Jwt verification fails"
	msgKidAlgMismatch     = "Jwks doesn't have key to match kid or alg from Jwt"
	msgJWKSFetch          = "Jwks remote fetch is failed"
)

// implementedAlgs are the algorithms jwt_verify_lib accepts (src/jwt.cc
// isImplemented). Anything else fails at parse time.
var implementedAlgs = map[string]bool{
	"ES256": true, "ES384": true, "ES512": true, "HS256": true, "HS384": true, "HS512": true,
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true, "EdDSA": true,
}

// parsedJWT is a token split and decoded as jwt_verify_lib's Jwt is.
type parsedJWT struct {
	raw              string
	headerB64        string
	payloadB64       string
	alg, kid         string
	iss              string
	aud              []string
	iat, nbf, exp    uint64
	signature        []byte
	unsignedEmulator bool // alg "none" from the Auth emulator (Options.Emulator only)
}

// parseJWT follows jwt_verify_lib's Jwt::parseFromString step by step, so a
// malformed token gets the message ESPv2 gives for its first defect. The
// token is split on dots with empty sections skipped (absl::StrSplit with
// SkipEmpty): it needs three non-empty sections, so "h.p." is malformed
// while "h.p.s." and "h..p.s" parse (jwt_verify_lib no longer counts the
// dots since its 2022-10-31 change "remove a redundant checking"). Then the
// header: base64url, JSON, alg present and a string, alg implemented, kid;
// then the payload; the signature's base64url last.
//
// allowNone admits the Firebase Auth emulator's unsigned tokens (alg
// "none", the form "h.p." with an empty signature): a listed deviation,
// never for real traffic, and only for the emulator's own issuer (the
// caller decides; see Options.EmulatorProject).
func parseJWT(raw string, allowNone bool) (*parsedJWT, string) {
	parts := sections(raw)
	unsigned := allowNone && len(parts) == 2 && raw == parts[0]+"."+parts[1]+"."
	if len(parts) != 3 && !unsigned {
		return nil, msgBadFormat
	}
	j := &parsedJWT{raw: raw, headerB64: parts[0], payloadB64: parts[1]}

	hb, ok := b64url(parts[0])
	if !ok {
		return nil, msgHeaderBadBase64
	}
	header, ok := jsonObject(hb)
	if !ok {
		return nil, msgHeaderBadJSON
	}
	if j.alg, ok = header["alg"].(string); !ok {
		return nil, msgHeaderBadAlg
	}
	if unsigned {
		if j.alg != "none" {
			return nil, msgBadFormat
		}
		j.unsignedEmulator = true
	} else if !implementedAlgs[j.alg] {
		return nil, msgHeaderAlgNotImpl
	}
	if v, present := header["kid"]; present {
		if j.kid, ok = v.(string); !ok {
			return nil, msgHeaderBadKid
		}
	}

	pb, ok := b64url(parts[1])
	if !ok {
		return nil, msgPayloadBadBase64
	}
	payload, ok := jsonObject(pb)
	if !ok {
		return nil, msgPayloadBadJSON
	}
	for _, c := range []struct {
		name string
		dst  *string
		msg  string
	}{{"iss", &j.iss, msgIssNotString}, {"sub", nil, msgSubNotString}} {
		if v, present := payload[c.name]; present {
			s, ok := v.(string)
			if !ok {
				return nil, c.msg
			}
			if c.dst != nil {
				*c.dst = s
			}
		}
	}
	for _, c := range []struct {
		name            string
		dst             *uint64
		msg, outOfRange string
	}{{"iat", &j.iat, msgIatNotInteger, msgIatOutOfRange}, {"nbf", &j.nbf, msgNbfNotInteger, msgNbfOutOfRange}, {"exp", &j.exp, msgExpNotInteger, msgExpOutOfRange}} {
		if v, present := payload[c.name]; present {
			n, result := unsigned64(v)
			switch result {
			case wrongType:
				return nil, c.msg
			case outOfRange:
				return nil, c.outOfRange
			}
			*c.dst = n
		}
	}
	if v, present := payload["jti"]; present {
		if _, ok := v.(string); !ok {
			return nil, msgJtiNotString
		}
	}
	if v, present := payload["aud"]; present {
		switch a := v.(type) {
		case string:
			j.aud = []string{a}
		case []any:
			for _, e := range a {
				s, ok := e.(string)
				if !ok {
					return nil, msgAudNotString
				}
				j.aud = append(j.aud, s)
			}
		default:
			return nil, msgAudNotString
		}
	}
	if !unsigned {
		if j.signature, ok = b64url(parts[2]); !ok {
			return nil, msgSignatureBadBase64
		}
	}
	return j, ""
}

// sections splits a token on dots, skipping empty sections, as
// absl::StrSplit(jwt, '.', absl::SkipEmpty()) does.
func sections(raw string) []string {
	return strings.FieldsFunc(raw, func(r rune) bool { return r == '.' })
}

// payloadSegment is the payload section of a token that parsed: what the
// gateway forwards as X-Apigateway-Api-Userinfo.
func payloadSegment(raw string) string {
	return sections(raw)[1]
}

// b64url decodes base64url with or without padding, as absl's
// WebSafeBase64Unescape does.
func b64url(s string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	return b, err == nil
}

// jsonObject decodes a JSON object, keeping numbers exact.
func jsonObject(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return nil, false
	}
	return m, true
}

type numberResult int

const (
	numberOK numberResult = iota
	wrongType
	outOfRange
)

// unsigned64 reads a JSON number as jwt_verify_lib's StructUtils::GetUInt64:
// any number (a protobuf double) truncated toward zero; a negative one, or
// one of 2^64 or more, is out of range; anything else is the wrong type.
func unsigned64(v any) (uint64, numberResult) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, wrongType
	}
	f, err := n.Float64()
	if err != nil && !math.IsInf(f, 0) {
		return 0, wrongType
	}
	if f < 0 || f >= math.MaxUint64 || math.IsNaN(f) {
		return 0, outOfRange
	}
	return uint64(f), numberOK
}

// timeCheck is Jwt::verifyTimeConstraint: nbf first, then exp. Both are
// optional; iat is never checked. Times are Unix seconds, unsigned as
// there.
func timeCheck(nbf, exp, now uint64) string {
	skew := uint64(clockSkew.Seconds())
	if now+skew < nbf {
		return msgNotYetValid
	}
	if exp != 0 && now > exp+skew {
		return msgExpired
	}
	return ""
}

// audienceAllowed is jwt_verify_lib's CheckAudience: any one token audience
// must match a configured one, both compared without an http:// or
// https:// prefix and without one trailing slash. No configured audience
// allows every token.
func audienceAllowed(configured, token []string) bool {
	if len(configured) == 0 {
		return true
	}
	for _, a := range token {
		for _, c := range configured {
			if sanitizeAudience(a) == sanitizeAudience(c) {
				return true
			}
		}
	}
	return false
}

func sanitizeAudience(a string) string {
	if a == "" {
		return a
	}
	if s, ok := strings.CutPrefix(a, "http://"); ok {
		a = s
	} else if s, ok := strings.CutPrefix(a, "https://"); ok {
		a = s
	}
	return strings.TrimSuffix(a, "/")
}
