package gateway

// Routing, as ESPv2's route table does it: the path normalised by the HTTP
// connection manager, then matched against the operations' templates.

import (
	"net/url"
	"strings"
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
