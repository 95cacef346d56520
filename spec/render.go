// Package spec owns gatehouse's API contract: the Swagger 2.0 frame, its
// rendering with each backend's fragment and the deployment's live values,
// validation of documents (as Swagger 2.0 and against API Gateway's rules,
// for any document, not only gatehouse's), parsing for the local gateway,
// and the content-hash API config id.
package spec

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	oaspec "github.com/go-openapi/spec"
)

// template is the document's frame: info, schemes, produces and the shared
// Error definition. Every operation comes from a backend's fragment.
//
//go:embed openapi.yaml
var template []byte

const header = "# Rendered by gatehouse from spec/openapi.yaml and each backend's fragment: do not edit by hand.\n"

// Render fills the frame with p and returns the validated document as
// YAML. The same params always give the same bytes.
func Render(p Params) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("render spec: invalid params: %w", err)
	}
	doc, err := build(p)
	if err != nil {
		return nil, fmt.Errorf("render spec: %w", err)
	}
	if err := Validate(doc, p.Options); err != nil {
		return nil, fmt.Errorf("render spec: rendered document is invalid: %w", err)
	}
	return doc, nil
}

// build fills the frame with already validated params.
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
		sd.AddExtension("x-google-jwt-locations", jwtLocations)
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
			// The preflight goes where the path's operations go.
			item.Options.AddExtension("x-google-backend", pathRoutes[path])
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
