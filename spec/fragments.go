package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	oaspec "github.com/go-openapi/spec"
)

// Backend routes: every operation of the document comes from a backend's
// Swagger 2.0 fragment (paths and definitions, next to its code). Render
// merges the fragments into the frame and routes each fragment's
// operations to its backend with a per-operation x-google-backend. The
// merge refuses a method and path claimed twice, a definition defined two
// ways and a reference to a definition nowhere defined.

// BackendRoute is a backend and the operations it serves.
type BackendRoute struct {
	Name string // the backend's name, for errors (the stack checks its form)
	URL  string // its Cloud Run URL (a trailing slash is dropped)
	// JWTAudience is the audience of the gateway's ID token to the backend;
	// the URL when empty.
	JWTAudience string
	Deadline    time.Duration // its deadline; Params.Deadline when zero
	Fragment    []byte        // Swagger 2.0 document with its paths (and definitions)
}

var refRe = regexp.MustCompile(`^#/definitions/([^/]+)$`)

func (b BackendRoute) validate(i int, local bool) []error {
	var errs []error
	f := fmt.Sprintf("Backends[%d]", i)
	if strings.TrimSpace(b.Name) == "" || strings.ContainsAny(b.Name, " \t\r\n") {
		errs = append(errs, fmt.Errorf("%s.Name: %q must be a non-empty name", f, b.Name))
	}
	if err := checkURL(strings.TrimRight(b.URL, "/"), local); err != nil {
		errs = append(errs, fmt.Errorf("%s.URL: %v", f, err))
	}
	if b.JWTAudience != "" && (len(b.JWTAudience) > audienceMaxLn || strings.ContainsAny(b.JWTAudience, " \t\r\n")) {
		errs = append(errs, fmt.Errorf("%s.JWTAudience: must be a single token of at most %d characters", f, audienceMaxLn))
	}
	if b.Deadline < 0 || b.Deadline > maxDeadline {
		errs = append(errs, fmt.Errorf("%s.Deadline: must be positive and at most %v", f, maxDeadline))
	}
	if len(b.Fragment) == 0 {
		errs = append(errs, fmt.Errorf("%s.Fragment: is empty", f))
	}
	return errs
}

// mergeFragments adds each backend's operations to sw. It returns, for each
// path a backend serves, that backend's x-google-backend (for the path's
// CORS preflight).
func mergeFragments(sw *oaspec.Swagger, p Params) (map[string]map[string]any, error) {
	pathRoutes := map[string]map[string]any{}
	owners := map[string]string{} // "GET /v1/hello" -> "backend NAME"
	if sw.Paths == nil {
		sw.Paths = &oaspec.Paths{}
	}
	if sw.Paths.Paths == nil {
		sw.Paths.Paths = map[string]oaspec.PathItem{}
	}
	var errs []error
	for _, b := range p.Backends {
		who := "backend " + b.Name
		js, err := yamlToJSON(b.Fragment)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: fragment: %w", who, err))
			continue
		}
		frag := &oaspec.Swagger{}
		if err := json.Unmarshal(js, frag); err != nil {
			errs = append(errs, fmt.Errorf("%s: fragment: %w", who, err))
			continue
		}
		if frag.Swagger != "2.0" {
			errs = append(errs, fmt.Errorf("%s: fragment: swagger must be \"2.0\", got %q", who, frag.Swagger))
			continue
		}
		if len(frag.Parameters) > 0 || len(frag.Responses) > 0 || len(frag.SecurityDefinitions) > 0 || frag.Extensions["x-google-backend"] != nil {
			errs = append(errs, fmt.Errorf("%s: fragment: may hold only paths and definitions (security and routing are rendered)", who))
			continue
		}
		if frag.Paths == nil || len(frag.Paths.Paths) == 0 {
			errs = append(errs, fmt.Errorf("%s: fragment declares no paths", who))
			continue
		}
		if err := checkRefs(js, frag); err != nil {
			errs = append(errs, fmt.Errorf("%s: fragment: %w", who, err))
			continue
		}
		if err := noGatehouseExtension(frag.Extensions, "the fragment's top level"); err != nil {
			errs = append(errs, fmt.Errorf("%s: fragment: %w", who, err))
			continue
		}
		for name, def := range frag.Definitions {
			if have, ok := sw.Definitions[name]; ok {
				if !reflect.DeepEqual(mustJSON(have), mustJSON(def)) {
					errs = append(errs, fmt.Errorf("%s: definition %q differs from the one already in the document", who, name))
				}
				continue
			}
			if sw.Definitions == nil {
				sw.Definitions = oaspec.Definitions{}
			}
			sw.Definitions[name] = def
		}
		// Explicit APPEND_PATH_TO_ADDRESS: at the operation level the default
		// would be CONSTANT_ADDRESS (see parseBackend).
		address := strings.TrimRight(b.URL, "/")
		route := map[string]any{"address": address, "path_translation": AppendPathToAddress, "jwt_audience": address}
		if b.JWTAudience != "" {
			route["jwt_audience"] = b.JWTAudience
		}
		if d := b.Deadline; d > 0 {
			route["deadline"] = d.Seconds()
		} else if p.Deadline > 0 {
			route["deadline"] = p.Deadline.Seconds()
		}
		for _, path := range sortedPaths(frag) {
			if !strings.HasPrefix(path, "/") || strings.Contains(path, "//") || strings.Contains(path+"/", "/./") || strings.Contains(path+"/", "/../") {
				errs = append(errs, fmt.Errorf("%s: path %q is not a normalised absolute path (the gateway would never route to it)", who, path))
				continue
			}
			fitem := frag.Paths.Paths[path]
			item := sw.Paths.Paths[path]
			if err := noGatehouseExtension(fitem.Extensions, "path "+path); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", who, err))
				continue
			}
			ops := itemOps(fitem)
			if len(ops) == 0 {
				errs = append(errs, fmt.Errorf("%s: path %s has no operation", who, path))
				continue
			}
			methods := make([]string, 0, len(ops))
			for m := range ops {
				methods = append(methods, m)
			}
			sort.Strings(methods)
			for _, m := range methods {
				if m == http.MethodOptions {
					errs = append(errs, fmt.Errorf("%s: %s %s: OPTIONS operations are rendered (CORS), not declared", who, m, path))
					continue
				}
				key := m + " " + path
				if prev, ok := owners[key]; ok {
					errs = append(errs, fmt.Errorf("%s: %s is also declared by %s", who, key, prev))
					continue
				}
				owners[key] = who
				op := ops[m]
				// Roles are checked here and enforced by the backend; the
				// gateway's document does not carry them (RolesExtension).
				if _, err := operationRoles(op); err != nil {
					errs = append(errs, fmt.Errorf("%s: %s: %w", who, key, err))
					continue
				}
				stripGatehouseExtensions(op)
				op.AddExtension("x-google-backend", route)
				setOp(&item, m, op)
			}
			if _, ok := pathRoutes[path]; !ok {
				pathRoutes[path] = route
			}
			sw.Paths.Paths[path] = item
		}
	}
	return pathRoutes, errors.Join(errs...)
}

// FragmentPaths lists the paths a backend's fragment declares, sorted.
func FragmentPaths(fragment []byte) ([]string, error) {
	frag, err := loadSwagger(fragment)
	if err != nil {
		return nil, err
	}
	return sortedPaths(frag), nil
}

// checkRefs fails on a $ref in the fragment (as JSON) that does not name
// one of its own definitions (a fragment must stand alone, so it validates
// by itself).
func checkRefs(js []byte, frag *oaspec.Swagger) error {
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		return err
	}
	var errs []error
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["$ref"].(string); ok {
				m := refRe.FindStringSubmatch(ref)
				if m == nil {
					errs = append(errs, fmt.Errorf("reference %q: only #/definitions/NAME is supported", ref))
				} else if _, ok := frag.Definitions[m[1]]; !ok {
					errs = append(errs, fmt.Errorf("reference %q: no such definition in the fragment", ref))
				}
			}
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return errors.Join(errs...)
}

func mustJSON(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func setOp(item *oaspec.PathItem, method string, op *oaspec.Operation) {
	switch method {
	case http.MethodGet:
		item.Get = op
	case http.MethodPut:
		item.Put = op
	case http.MethodPost:
		item.Post = op
	case http.MethodDelete:
		item.Delete = op
	case http.MethodHead:
		item.Head = op
	case http.MethodPatch:
		item.Patch = op
	case http.MethodOptions:
		item.Options = op
	}
}
