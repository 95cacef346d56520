package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/go-openapi/loads"
	oaspec "github.com/go-openapi/spec"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/validate"
)

// Options for Validate.
type Options struct {
	// Local accepts loopback plain-http backend and JWKS URLs (the local twin).
	Local bool
}

// Validate checks doc as Swagger 2.0 with go-openapi's validator, then
// against the rules API Gateway enforces or that bite users. It reports
// every violation it finds. It knows nothing of gatehouse's own template:
// any document API Gateway would take is checked by the same rules.
func Validate(doc []byte, o Options) error {
	_, err := validated(doc, o)
	return err
}

// validated is Validate, returning the parsed document for Parse.
func validated(doc []byte, o Options) (*oaspec.Swagger, error) {
	js, err := yamlToJSON(doc)
	if err != nil {
		return nil, fmt.Errorf("validate spec: %w", err)
	}
	var sw oaspec.Swagger
	if err := json.Unmarshal(js, &sw); err != nil {
		return nil, fmt.Errorf("validate spec: parse document: %w", err)
	}
	if sw.Swagger != "2.0" {
		return nil, fmt.Errorf("validate spec: swagger must be \"2.0\" (API Gateway takes Swagger 2.0), got %q", sw.Swagger)
	}
	var errs []error
	if err := schemaValidate(js); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, gatewayRules(&sw, o)...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("validate spec: %w", errors.Join(errs...))
	}
	return &sw, nil
}

// schemaValidate runs the Swagger 2.0 schema and semantic validation.
//
// Google's documented securityDefinition for JWT issuers is an oauth2
// implicit flow with `authorizationUrl: ""`, which the Swagger 2.0 schema
// rejects (it must be a URI). API Gateway expects that form, so exactly that
// check is relaxed: for validation only, an empty authorizationUrl in an
// oauth2 implicit definition that carries x-google-issuer is replaced by a
// placeholder URI. Anything else about the definition is still checked.
func schemaValidate(js []byte) error {
	relaxed, err := relaxGoogleAuthorizationURL(js)
	if err != nil {
		return err
	}
	d, err := loads.Analyzed(relaxed, "2.0")
	if err != nil {
		return fmt.Errorf("swagger 2.0: %w", err)
	}
	res, _ := validate.NewSpecValidator(d.Schema(), strfmt.Default).Validate(d)
	if res != nil && !res.IsValid() {
		msgs := make([]string, 0, len(res.Errors))
		for _, e := range res.Errors {
			msgs = append(msgs, e.Error())
		}
		sort.Strings(msgs)
		return fmt.Errorf("swagger 2.0 schema: %s", strings.Join(msgs, "; "))
	}
	return nil
}

const placeholderAuthorizationURL = "https://authorization-url.invalid/"

func relaxGoogleAuthorizationURL(js []byte) ([]byte, error) {
	var sw oaspec.Swagger
	if err := sw.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	changed := false
	for name, sd := range sw.SecurityDefinitions {
		if _, google := sd.Extensions.GetString("x-google-issuer"); google &&
			sd.Type == "oauth2" && sd.Flow == "implicit" && sd.AuthorizationURL == "" {
			c := *sd
			c.AuthorizationURL = placeholderAuthorizationURL
			sw.SecurityDefinitions[name] = &c
			changed = true
		}
	}
	if !changed {
		return js, nil
	}
	return sw.MarshalJSON()
}

var httpMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodOptions, http.MethodHead, http.MethodPatch}

func itemOps(item oaspec.PathItem) map[string]*oaspec.Operation {
	all := map[string]*oaspec.Operation{
		http.MethodGet: item.Get, http.MethodPut: item.Put, http.MethodPost: item.Post, http.MethodDelete: item.Delete,
		http.MethodOptions: item.Options, http.MethodHead: item.Head, http.MethodPatch: item.Patch,
	}
	for m, op := range all {
		if op == nil {
			delete(all, m)
		}
	}
	return all
}

func gatewayRules(sw *oaspec.Swagger, o Options) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	cors := corsEnabled(sw)
	top, hasTop := sw.Extensions["x-google-backend"]
	if hasTop {
		if err := checkBackend(top, o); err != nil {
			bad("x-google-backend: %v", err)
		}
	}
	seenIDs := map[string]string{}
	for _, path := range sortedPaths(sw) {
		ops := itemOps(sw.Paths.Paths[path])
		for _, m := range httpMethods {
			op := ops[m]
			if op == nil {
				continue
			}
			where := m + " " + path
			switch {
			case op.ID == "":
				bad("%s: operationId is required", where)
			case seenIDs[op.ID] != "":
				bad("%s: operationId %q is also used by %s", where, op.ID, seenIDs[op.ID])
			default:
				seenIDs[op.ID] = where
			}
			if len(op.Security) == 0 {
				if m != http.MethodOptions || !cors {
					bad("%s: no security requirement (only CORS preflight OPTIONS operations, with allowCors, may be unauthenticated)", where)
				}
			}
			for _, alt := range op.Security {
				if len(alt) == 0 {
					bad("%s: empty security requirement", where)
				}
				for name := range alt {
					if _, ok := sw.SecurityDefinitions[name]; !ok {
						bad("%s: security requirement %q has no securityDefinition", where, name)
					}
				}
			}
			// Every operation is routed: by its own x-google-backend or by
			// the document's.
			if b, ok := op.Extensions["x-google-backend"]; ok {
				if err := checkBackend(b, o); err != nil {
					bad("%s: x-google-backend: %v", where, err)
				}
			} else if !hasTop {
				bad("%s: routed to no backend (no x-google-backend on the operation or at the top level)", where)
			}
		}
	}

	for _, name := range sortedKeys(sw.SecurityDefinitions) {
		sd := sw.SecurityDefinitions[name]
		iss, hasIss := sd.Extensions.GetString("x-google-issuer")
		if !hasIss {
			continue
		}
		if iss == "" {
			bad("securityDefinition %s: x-google-issuer is empty", name)
		}
		jwks, _ := sd.Extensions.GetString("x-google-jwks_uri")
		if jwks == "" {
			bad("securityDefinition %s: x-google-issuer without x-google-jwks_uri", name)
		} else if err := checkURL(jwks, o.Local); err != nil {
			bad("securityDefinition %s: x-google-jwks_uri: %v", name, err)
		}
		if aud, _ := sd.Extensions.GetString("x-google-audiences"); strings.TrimSpace(aud) == "" {
			bad("securityDefinition %s: x-google-issuer without x-google-audiences", name)
		}
		if locs, ok := sd.Extensions["x-google-jwt-locations"]; ok {
			if err := checkJWTLocations(locs); err != nil {
				bad("securityDefinition %s: x-google-jwt-locations: %v", name, err)
			}
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func corsEnabled(sw *oaspec.Swagger) bool {
	eps, ok := sw.Extensions["x-google-endpoints"].([]any)
	if !ok {
		return false
	}
	for _, e := range eps {
		if m, ok := e.(map[string]any); ok && m["allowCors"] == true {
			return true
		}
	}
	return false
}
