package spec

import (
	"errors"
	"fmt"
	"sort"
)

// jwtLocations is where the gateway may find a caller's token, rendered into
// every issuer's securityDefinition as x-google-jwt-locations: the
// Authorization header only, after its "Bearer " prefix.
//
// Without the extension API Gateway (ESPv2) reads three places: "If not
// specified, default to use following 3 locations: 1) Authorization: Bearer
// 2) x-goog-iap-jwt-assertion 3) access_token query parameter"
// (google.api.AuthProvider.jwt_locations, googleapis/google/api/auth.proto).
// A token in the access_token query parameter is part of the URL, and URLs
// are written to Cloud Run's and API Gateway's request logs: a bearer
// credential in a log is a leaked credential. So the document names the
// header alone, and a token anywhere else is "Jwt is missing".
//
// The extension's shape, a list of {header, value_prefix} or {query}
// entries inside a securityDefinition:
// https://cloud.google.com/api-gateway/docs/openapi-extensions#x-google-jwt-locations
// ("value_prefix ... only applies to header": the AuthProvider proto).
var jwtLocations = []any{map[string]any{"header": "Authorization", "value_prefix": "Bearer "}}

// checkJWTLocations checks an x-google-jwt-locations value: a non-empty
// list, each entry naming one header (with an optional value_prefix) or one
// query parameter.
func checkJWTLocations(v any) error {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return errors.New("must be a non-empty list of locations")
	}
	var errs []error
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("[%d]: must be an object with header or query", i))
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		header, hasHeader := m["header"].(string)
		query, hasQuery := m["query"].(string)
		switch {
		case hasHeader == hasQuery:
			errs = append(errs, fmt.Errorf("[%d]: must name exactly one header or query parameter, got %v", i, keys))
		case hasHeader && header == "", hasQuery && query == "":
			errs = append(errs, fmt.Errorf("[%d]: the header or query parameter name is empty", i))
		}
		for _, k := range keys {
			switch k {
			case "header", "query":
			case "value_prefix":
				if _, ok := m[k].(string); !ok || !hasHeader {
					errs = append(errs, fmt.Errorf("[%d]: value_prefix must be a string and applies to a header only", i))
				}
			default:
				errs = append(errs, fmt.Errorf("[%d]: unknown field %q", i, k))
			}
		}
	}
	return errors.Join(errs...)
}
