package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/loads"
	oaspec "github.com/go-openapi/spec"
	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/validate"
)

// Document is the part of a rendered document that a gateway acts on.
type Document struct {
	Title, Version string
	Backend        Backend
	Issuers        map[string]Issuer // by securityDefinition name
	Operations     []Operation       // sorted by path, then method
	CORS           bool              // x-google-endpoints allowCors
}

// Backend is an x-google-backend block.
type Backend struct {
	Address         string
	PathTranslation string // AppendPathToAddress or ConstantAddress
	JWTAudience     string
	Deadline        time.Duration // zero: the gateway's default
	// DisableAuth turns off the gateway's own ID token to the backend
	// (x-google-backend disable_auth): the caller's Authorization then
	// reaches the backend unchanged.
	DisableAuth bool
}

// Operation is one method on one path.
type Operation struct {
	ID, Method, Path string
	// Security lists the alternatives: each inner list names the
	// securityDefinitions that must all be satisfied. Empty: no auth.
	Security [][]string
	// Backend overrides the document's backend when the operation has its
	// own x-google-backend.
	Backend *Backend
}

// Options for Validate.
type Options struct {
	// Local accepts loopback plain-http backend and JWKS URLs (the local twin).
	Local bool
}

// Parse validates doc (see Validate) and returns its model.
func Parse(doc []byte, o Options) (*Document, error) {
	sw, err := validated(doc, o)
	if err != nil {
		return nil, err
	}
	return model(sw)
}

// Validate checks doc as Swagger 2.0 with go-openapi's validator, then
// against the rules API Gateway enforces or that bite users. It reports
// every violation it finds.
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

// templatePaths is the set of paths the template declares.
var templatePaths = sync.OnceValues(func() (map[string]bool, error) {
	sw, err := loadSwagger(template)
	if err != nil {
		return nil, err
	}
	paths := map[string]bool{}
	for p := range sw.Paths.Paths {
		paths[p] = true
	}
	return paths, nil
})

func gatewayRules(sw *oaspec.Swagger, o Options) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	cors := corsEnabled(sw)
	declared, err := templatePaths()
	if err != nil {
		return []error{fmt.Errorf("template: %w", err)}
	}
	seenIDs := map[string]string{}
	for _, path := range sortedPaths(sw) {
		// A path outside the template must be a backend fragment's: every
		// operation on it then has its own x-google-backend.
		if !declared[path] {
			for m, op := range itemOps(sw.Paths.Paths[path]) {
				if _, ok := op.Extensions["x-google-backend"]; !ok {
					bad("%s %s: not declared in the template (spec/openapi.yaml) and routed to no backend of its own", m, path)
				}
			}
		}
		for _, m := range httpMethods {
			op := itemOps(sw.Paths.Paths[path])[m]
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
			if b, ok := op.Extensions["x-google-backend"]; ok {
				if err := checkBackend(b, o); err != nil {
					bad("%s: x-google-backend: %v", where, err)
				}
			}
		}
	}

	b, ok := sw.Extensions["x-google-backend"]
	if !ok {
		bad("x-google-backend: missing at the top level")
	} else if err := checkBackend(b, o); err != nil {
		bad("x-google-backend: %v", err)
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

// parseBackend reads an x-google-backend block. topLevel tells where it
// stands, which decides the default path_translation: "When
// x-google-backend is set at the top level of the OpenAPI specification,
// path_translation defaults to APPEND_PATH_TO_ADDRESS, and when
// x-google-backend is set at the operation level [...] CONSTANT_ADDRESS"
// (https://cloud.google.com/api-gateway/docs/openapi-extensions#x-google-backend).
func parseBackend(v any, topLevel bool) (Backend, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Backend{}, errors.New("must be an object")
	}
	var b Backend
	b.Address, _ = m["address"].(string)
	if b.Address == "" {
		return Backend{}, errors.New("address is required")
	}
	b.PathTranslation, _ = m["path_translation"].(string)
	switch b.PathTranslation {
	case "":
		b.PathTranslation = ConstantAddress
		if topLevel {
			b.PathTranslation = AppendPathToAddress
		}
	case AppendPathToAddress, ConstantAddress:
	default:
		return Backend{}, fmt.Errorf("path_translation %q is neither %s nor %s", b.PathTranslation, AppendPathToAddress, ConstantAddress)
	}
	b.JWTAudience, _ = m["jwt_audience"].(string)
	if v, ok := m["disable_auth"]; ok {
		if b.DisableAuth, ok = v.(bool); !ok {
			return Backend{}, fmt.Errorf("disable_auth must be true or false, got %v", v)
		}
	}
	if d, ok := m["deadline"]; ok {
		secs, ok := d.(float64)
		if !ok || secs <= 0 {
			return Backend{}, fmt.Errorf("deadline must be a positive number of seconds, got %v", d)
		}
		b.Deadline = time.Duration(secs * float64(time.Second))
	}
	return b, nil
}

// checkBackend parses an x-google-backend block and checks its address.
func checkBackend(v any, o Options) error {
	b, err := parseBackend(v, false)
	if err != nil {
		return err
	}
	if err := checkURL(b.Address, o.Local); err != nil {
		return fmt.Errorf("address: %w", err)
	}
	return nil
}

func model(sw *oaspec.Swagger) (*Document, error) {
	d := &Document{Issuers: map[string]Issuer{}, CORS: corsEnabled(sw)}
	if sw.Info != nil {
		d.Title, d.Version = sw.Info.Title, sw.Info.Version
	}
	b, err := parseBackend(sw.Extensions["x-google-backend"], true)
	if err != nil {
		return nil, fmt.Errorf("x-google-backend: %w", err)
	}
	d.Backend = b
	for name, sd := range sw.SecurityDefinitions {
		iss, ok := sd.Extensions.GetString("x-google-issuer")
		if !ok {
			continue
		}
		jwks, _ := sd.Extensions.GetString("x-google-jwks_uri")
		aud, _ := sd.Extensions.GetString("x-google-audiences")
		var auds []string
		for _, a := range strings.Split(aud, ",") {
			if a = strings.TrimSpace(a); a != "" {
				auds = append(auds, a)
			}
		}
		d.Issuers[name] = Issuer{Name: name, Issuer: iss, JWKSURI: jwks, Audiences: auds}
	}
	for _, path := range sortedPaths(sw) {
		ops := itemOps(sw.Paths.Paths[path])
		for _, m := range httpMethods {
			op, ok := ops[m]
			if !ok {
				continue
			}
			o := Operation{ID: op.ID, Method: m, Path: path}
			for _, alt := range op.Security {
				o.Security = append(o.Security, sortedKeys(alt))
			}
			if v, ok := op.Extensions["x-google-backend"]; ok {
				ob, err := parseBackend(v, false)
				if err != nil {
					return nil, fmt.Errorf("%s %s: x-google-backend: %w", m, path, err)
				}
				o.Backend = &ob
			}
			d.Operations = append(d.Operations, o)
		}
	}
	return d, nil
}

// ConfigID derives an API Gateway config id from everything that forces an
// ApiConfig to be replaced: the document's content and the gateway's backend
// service account (gatewayConfig, also replace-only). It is "cfg-" and the
// first 16 hex digits of a SHA-256. The same inputs always get the same id
// and any change gets a new one, so a changed spec or account creates a new
// ApiConfig (before the old one is deleted) instead of colliding with the old
// id ("already exists"), and nothing changed changes nothing. An empty
// account hashes the document alone.
func ConfigID(doc []byte, gatewayServiceAccount string) string {
	h := sha256.New()
	h.Write(doc)
	if gatewayServiceAccount != "" {
		h.Write([]byte{0})
		h.Write([]byte(gatewayServiceAccount))
	}
	return "cfg-" + hex.EncodeToString(h.Sum(nil)[:8])
}
