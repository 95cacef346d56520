package gateway

// Routing, as ESPv2's route table does it: the path normalised by the HTTP
// connection manager, then matched against the operations' templates.

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/spec"
)

// normalizePath is what ESPv2's Envoy does to :path before routing
// (esp-v2 src/go/options/configgenerator.go: NormalizePath and
// MergeSlashesInPath default to true; escaped slashes are kept): dot
// segments are resolved as RFC 3986 says, runs of slashes merged, and
// percent-escapes kept as sent. The backend receives the normalised path.
func normalizePath(escaped string) string {
	if escaped == "" {
		return "/"
	}
	in := strings.Split(escaped, "/")
	out := make([]string, 0, len(in))
	for i, s := range in {
		last := i == len(in)-1
		switch strings.ToLower(s) {
		case ".", "%2e":
			if last {
				out = append(out, "")
			}
		case "..", ".%2e", "%2e.", "%2e%2e":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		case "":
			if last && i > 0 {
				out = append(out, "") // a trailing slash stays (merged with any before it)
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// match finds the route for method and a normalised path. A path with no
// route for that method but one for another gets that route's template, for
// the 405. Like ESPv2's routes, a template matches with or without one
// trailing slash, and a {variable} matches one non-empty segment.
func (g *Gateway) match(method, path string) (*route, string) {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	segs := strings.Split(path, "/")
	template := ""
	for i := range g.routes {
		r := &g.routes[i]
		if len(r.segments) != len(segs) {
			continue
		}
		ok := true
		for j, s := range r.segments {
			if isVariable(s) {
				if segs[j] == "" {
					ok = false
					break
				}
			} else if s != segs[j] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		if r.op.Method == method {
			return r, ""
		}
		if template == "" {
			template = r.op.Path
		}
	}
	return nil, template
}

// preflightRoutes are the OPTIONS routes ESPv2 adds under allowCors
// (x-google-endpoints allowCors: esp-v2 src/go/configinfo/service_info.go
// processHttpRule, src/go/configgenerator/routegen/proxy_cors.go
// GenRouteConfig): one for each path template that has an operation other
// than OPTIONS and no OPTIONS operation of its own, with no JWT
// requirement, proxied to the backend (and path translation) of the first
// operation declared on it. Templates that match the same paths count as
// one ("/items/{id}" and "/items/{x}"). They come after the declared
// routes, so a declared OPTIONS operation wins.
func preflightRoutes(declared []route) []route {
	shape := func(segments []string) string {
		s := make([]string, len(segments))
		for i, seg := range segments {
			if isVariable(seg) {
				seg = "*"
			}
			s[i] = seg
		}
		return strings.Join(s, "/")
	}
	hasOptions := map[string]bool{}
	for _, r := range declared {
		if r.op.Method == http.MethodOptions {
			hasOptions[shape(r.segments)] = true
		}
	}
	var out []route
	for _, r := range declared {
		key := shape(r.segments)
		if r.op.Method == http.MethodOptions || hasOptions[key] {
			continue
		}
		hasOptions[key] = true
		p := r
		p.op = spec.Operation{ID: "CORS_" + r.op.ID, Method: http.MethodOptions, Path: r.op.Path}
		out = append(out, p)
	}
	return out
}

func isVariable(seg string) bool {
	return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}")
}

// pathVariables renders a request's {variable} segments as query
// parameters, as CONSTANT_ADDRESS does.
func pathVariables(template []string, escapedPath string) string {
	segs := strings.Split(strings.TrimSuffix(escapedPath, "/"), "/")
	var vars []string
	for i, s := range template {
		if isVariable(s) && i < len(segs) {
			vars = append(vars, url.QueryEscape(strings.Trim(s, "{}"))+"="+segs[i])
		}
	}
	return strings.Join(vars, "&")
}
