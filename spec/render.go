// Package spec owns gatehouse's API contract: the Swagger 2.0 template, its
// rendering with live deployment values, validation of rendered documents
// (as Swagger 2.0 and against API Gateway's rules), parsing for the local
// gateway, and the content-hash API config id.
package spec

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	oaspec "github.com/go-openapi/spec"
	"gopkg.in/yaml.v3"
)

//go:embed openapi.yaml
var template []byte

// PathTranslation values of x-google-backend.
const (
	AppendPathToAddress = "APPEND_PATH_TO_ADDRESS"
	ConstantAddress     = "CONSTANT_ADDRESS"
)

const header = "# Rendered by gatehouse from spec/openapi.yaml: do not edit by hand.\n"

// Render fills the template with p and returns the validated document as
// YAML. The same params always give the same bytes.
func Render(p Params) ([]byte, error) {
	// A trailing slash would give "//v1/hello" under APPEND_PATH_TO_ADDRESS
	// (the address and the request path are concatenated).
	p.BackendURL = strings.TrimRight(p.BackendURL, "/")
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("render spec: invalid params: %w", err)
	}
	doc, err := build(p)
	if err != nil {
		return nil, fmt.Errorf("render spec: %w", err)
	}
	if err := Validate(doc, Options{Local: p.Local}); err != nil {
		return nil, fmt.Errorf("render spec: rendered document is invalid: %w", err)
	}
	return doc, nil
}

// build fills the template with already validated params.
func build(p Params) ([]byte, error) {
	sw, err := loadSwagger(template)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if p.Title != "" {
		sw.Info.Title = p.Title
	}
	if p.Version != "" {
		sw.Info.Version = p.Version
	}

	backend := map[string]any{
		"address":          p.BackendURL,
		"path_translation": AppendPathToAddress,
		"jwt_audience":     p.BackendURL,
	}
	if p.JWTAudience != "" {
		backend["jwt_audience"] = p.JWTAudience
	}
	if p.Deadline > 0 {
		backend["deadline"] = p.Deadline.Seconds()
	}
	sw.AddExtension("x-google-backend", backend)

	pathRoutes, err := mergeFragments(sw, p)
	if err != nil {
		return nil, err
	}

	sw.SecurityDefinitions = oaspec.SecurityDefinitions{}
	var security []map[string][]string
	for _, is := range p.allIssuers() {
		// Google's documented form: an oauth2 implicit flow with an empty
		// authorizationUrl, carrying the JWT settings as extensions.
		sd := oaspec.OAuth2Implicit("")
		sd.AddExtension("x-google-issuer", is.Issuer)
		sd.AddExtension("x-google-jwks_uri", is.JWKSURI)
		sd.AddExtension("x-google-audiences", strings.Join(is.Audiences, ","))
		sw.SecurityDefinitions[is.Name] = sd
		// Alternatives: a token from any one issuer is enough.
		security = append(security, map[string][]string{is.Name: {}})
	}

	for _, path := range sortedPaths(sw) {
		item := sw.Paths.Paths[path]
		for _, op := range operations(&item) {
			op.Security = security
		}
		if p.CORS {
			item.Options = corsPreflight(path)
			if route, ok := pathRoutes[path]; ok {
				item.Options.AddExtension("x-google-backend", route) // the preflight goes where the path's operations go
			}
		}
		sw.Paths.Paths[path] = item
	}
	if p.CORS {
		sw.AddExtension("x-google-endpoints", []any{map[string]any{"name": p.EndpointsName, "allowCors": true}})
	}

	js, err := json.Marshal(sw)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	doc, err := jsonToYAML(js)
	if err != nil {
		return nil, err
	}
	return append([]byte(header), doc...), nil
}

// corsPreflight is the unauthenticated OPTIONS operation that lets the
// gateway pass a browser's preflight to the backend.
func corsPreflight(path string) *oaspec.Operation {
	op := oaspec.NewOperation("cors_" + opIDPart(path))
	op.Summary = "CORS preflight"
	op.Responses = &oaspec.Responses{ResponsesProps: oaspec.ResponsesProps{
		StatusCodeResponses: map[int]oaspec.Response{204: *oaspec.NewResponse().WithDescription("Preflight answered by the backend.")},
	}}
	return op
}

func opIDPart(path string) string {
	return strings.Trim(strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(path), "_")
}

func sortedPaths(sw *oaspec.Swagger) []string {
	if sw.Paths == nil {
		return nil
	}
	paths := make([]string, 0, len(sw.Paths.Paths))
	for p := range sw.Paths.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// operations returns the item's operations other than OPTIONS.
func operations(item *oaspec.PathItem) []*oaspec.Operation {
	var ops []*oaspec.Operation
	for _, op := range []*oaspec.Operation{item.Get, item.Put, item.Post, item.Delete, item.Head, item.Patch} {
		if op != nil {
			ops = append(ops, op)
		}
	}
	return ops
}

// loadSwagger parses a YAML or JSON document into go-openapi's model.
func loadSwagger(doc []byte) (*oaspec.Swagger, error) {
	js, err := yamlToJSON(doc)
	if err != nil {
		return nil, err
	}
	var sw oaspec.Swagger
	if err := json.Unmarshal(js, &sw); err != nil {
		return nil, fmt.Errorf("parse document: %w", err)
	}
	return &sw, nil
}

// yamlToJSON converts a YAML (or JSON) document to JSON.
func yamlToJSON(doc []byte) ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("parse YAML: %w", err)
	}
	v, err := stringKeys(v)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("convert YAML to JSON: %w", err)
	}
	return js, nil
}

// stringKeys turns YAML's map[any]any (from keys such as 200) into JSON's
// map[string]any.
func stringKeys(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			t[k] = c
		}
		return t, nil
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			switch k.(type) {
			case string, int, int64, uint64, bool:
			default:
				return nil, fmt.Errorf("unsupported YAML key %v of type %T", k, k)
			}
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			m[fmt.Sprint(k)] = c
		}
		return m, nil
	case []any:
		for i, e := range t {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			t[i] = c
		}
		return t, nil
	default:
		return v, nil
	}
}

// jsonToYAML re-encodes a JSON document as block-style YAML, keeping the
// key order.
func jsonToYAML(js []byte) ([]byte, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(js, &node); err != nil {
		return nil, fmt.Errorf("convert JSON to YAML: %w", err)
	}
	var clear func(*yaml.Node)
	clear = func(n *yaml.Node) {
		n.Style = 0
		for _, c := range n.Content {
			clear(c)
		}
	}
	clear(&node)
	orderTopLevel(&node)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode YAML: %w", err)
	}
	return buf.Bytes(), nil
}

// topLevelOrder is the order a person expects the top-level keys in; any
// others follow in their existing (sorted) order.
var topLevelOrder = []string{"swagger", "info", "schemes", "produces", "x-google-backend", "x-google-endpoints", "securityDefinitions", "paths", "definitions"}

func orderTopLevel(doc *yaml.Node) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return
	}
	m := doc.Content[0]
	rank := func(key string) int {
		for i, k := range topLevelOrder {
			if k == key {
				return i
			}
		}
		return len(topLevelOrder)
	}
	pairs := make([][2]*yaml.Node, 0, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		pairs = append(pairs, [2]*yaml.Node{m.Content[i], m.Content[i+1]})
	}
	sort.SliceStable(pairs, func(i, j int) bool { return rank(pairs[i][0].Value) < rank(pairs[j][0].Value) })
	m.Content = m.Content[:0]
	for _, p := range pairs {
		m.Content = append(m.Content, p[0], p[1])
	}
}
