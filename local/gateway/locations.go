package gateway

// Where a provider's tokens are looked for: a securityDefinition's
// x-google-jwt-locations when the document has it, ESPv2's defaults
// otherwise, read the way Envoy's jwt_authn extractor reads them.

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// JWTLocation is one entry of a securityDefinition's x-google-jwt-locations
// (https://cloud.google.com/api-gateway/docs/openapi-extensions
// #x-google-jwt-locations; google.api.JwtLocation): a header, with an
// optional value prefix such as "Bearer ", or a query parameter. Cookie
// locations exist in google.api.JwtLocation, but ESPv2 skips them (esp-v2
// src/go/configgenerator/filtergen/jwt_authn.go processJwtLocations), and
// so does the local gateway.
type JWTLocation struct {
	Header      string `yaml:"header"`
	ValuePrefix string `yaml:"value_prefix"`
	Query       string `yaml:"query"`
	Cookie      string `yaml:"cookie"`
}

// JWTLocations reads x-google-jwt-locations from every securityDefinition
// of a rendered document (YAML or JSON) that has it, by definition name.
// A definition without it is absent: ESPv2's default locations apply. An
// entry must name exactly one of header, query and cookie, and only a
// header may have a value_prefix, as google.api.JwtLocation's oneof and
// its documentation say.
func JWTLocations(doc []byte) (map[string][]JWTLocation, error) {
	var d struct {
		SecurityDefinitions map[string]struct {
			Locations *[]JWTLocation `yaml:"x-google-jwt-locations"`
		} `yaml:"securityDefinitions"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("read x-google-jwt-locations: %w", err)
	}
	out := map[string][]JWTLocation{}
	for name, sd := range d.SecurityDefinitions {
		if sd.Locations == nil {
			continue
		}
		for i, l := range *sd.Locations {
			n := 0
			for _, s := range []string{l.Header, l.Query, l.Cookie} {
				if s != "" {
					n++
				}
			}
			if n != 1 {
				return nil, fmt.Errorf("securityDefinitions.%s.x-google-jwt-locations[%d]: name exactly one of header, query and cookie", name, i)
			}
			if l.ValuePrefix != "" && l.Header == "" {
				return nil, fmt.Errorf("securityDefinitions.%s.x-google-jwt-locations[%d]: value_prefix applies to a header only", name, i)
			}
		}
		out[name] = append([]JWTLocation{}, *sd.Locations...)
	}
	return out, nil
}

// headerLocation is a header and the prefix its value must hold ("" for
// the whole value).
type headerLocation struct{ name, prefix string }

// extractor is Envoy's ExtractorImpl for one provider (envoy
// source/extensions/filters/http/jwt_authn/extractor.cc).
type extractor struct {
	headers []headerLocation // in the order of Envoy's std::map: lower-case name + prefix
	params  []string         // likewise, in name order
}

// newExtractor builds a provider's extractor. Without x-google-jwt-locations
// ESPv2 configures its defaults (jwt_authn.go defaultJwtLocations):
// Authorization with the prefix "Bearer ", X-Goog-Iap-Jwt-Assertion, and
// the access_token query parameter. With it, its header and query entries;
// if none remains (only cookies), the provider has no location and Envoy
// falls back to its own defaults (ExtractorImpl::addProvider):
// Authorization with "Bearer " and access_token.
func newExtractor(locs []JWTLocation, present bool) extractor {
	if !present || len(locs) == 0 {
		locs = []JWTLocation{{Header: "Authorization", ValuePrefix: "Bearer "}, {Header: iapHeader}, {Query: "access_token"}}
	}
	var e extractor
	seenH, seenP := map[string]bool{}, map[string]bool{}
	for _, l := range locs {
		switch {
		case l.Header != "":
			key := strings.ToLower(l.Header) + l.ValuePrefix
			if !seenH[key] {
				seenH[key] = true
				e.headers = append(e.headers, headerLocation{textproto.CanonicalMIMEHeaderKey(l.Header), l.ValuePrefix})
			}
		case l.Query != "":
			if !seenP[l.Query] {
				seenP[l.Query] = true
				e.params = append(e.params, l.Query)
			}
		}
	}
	if len(e.headers) == 0 && len(e.params) == 0 {
		e.headers = []headerLocation{{"Authorization", "Bearer "}}
		e.params = []string{"access_token"}
	}
	sort.SliceStable(e.headers, func(i, j int) bool {
		return strings.ToLower(e.headers[i].name)+e.headers[i].prefix < strings.ToLower(e.headers[j].name)+e.headers[j].prefix
	})
	sort.Strings(e.params)
	return e
}

// extract finds every token in the provider's locations (ExtractorImpl::
// extract: each value of each header, then the first value of each query
// parameter), in the order Envoy's authenticator checks them: it takes the
// last found first.
func (e extractor) extract(r *http.Request) []string {
	var found []string
	for _, h := range e.headers {
		for _, v := range r.Header.Values(h.name) {
			if h.prefix == "" {
				found = append(found, v)
				continue
			}
			// The prefix may stand anywhere in the value; the token starts
			// at the first base64url character (or dot) after it, and
			// without one the whole value is taken (extractJWT).
			i := strings.Index(v, h.prefix)
			if i < 0 {
				continue
			}
			if j := strings.IndexFunc(v[i+len(h.prefix):], isTokenChar); j >= 0 {
				v = v[i+len(h.prefix)+j:]
			}
			found = append(found, v)
		}
	}
	if len(e.params) > 0 {
		q, _ := url.ParseQuery(r.URL.RawQuery) // what parses is used, as Envoy does
		for _, p := range e.params {
			if v := q[p]; len(v) > 0 {
				found = append(found, v[0])
			}
		}
	}
	for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
		found[i], found[j] = found[j], found[i]
	}
	return found
}

func isTokenChar(c rune) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}
