// Package discovery reads Google's API discovery documents, pinned at the
// revision the Google provider is built with, and uses them for the two
// things the local cloud must do exactly as Google does: find the method a
// request names (httpMethod + flatPath), and check its body and query
// against the method's request schema (unknown field, wrong type, bad enum).
//
// The documents are copied byte for byte from google.golang.org/api v0.191.0,
// the version pulumi-resource-gcp v7.38.0 links (pulumi/pulumi-gcp@v7.38.0
// provider/go.mod); SOURCE.md lists each file with its sha256, and a test
// checks them.
package discovery

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

//go:embed *.json
var files embed.FS

// Doc is one discovery document, the parts the local cloud reads.
type Doc struct {
	Name        string             `json:"name"`
	Version     string             `json:"version"`
	Revision    string             `json:"revision"`
	ServicePath string             `json:"servicePath"`
	Resources   map[string]*rsrc   `json:"resources"`
	Schemas     map[string]*Schema `json:"schemas"`
	Parameters  map[string]*Param  `json:"parameters"` // the standard query parameters

	methods map[string]*Method
	routes  []*route
}

type rsrc struct {
	Methods   map[string]*Method `json:"methods"`
	Resources map[string]*rsrc   `json:"resources"`
}

// Method is one API method.
type Method struct {
	ID         string            `json:"id"`
	Path       string            `json:"path"`
	FlatPath   string            `json:"flatPath"`
	HTTPMethod string            `json:"httpMethod"`
	Parameters map[string]*Param `json:"parameters"`
	Request    *Schema           `json:"request"`
	Response   *Schema           `json:"response"`
}

// Param is a path or query parameter.
type Param struct {
	Type     string   `json:"type"`
	Location string   `json:"location"`
	Required bool     `json:"required"`
	Enum     []string `json:"enum"`
	Repeated bool     `json:"repeated"`
}

// Schema is a discovery schema (a JSON-Schema-like dialect).
type Schema struct {
	ID                   string             `json:"id"`
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Properties           map[string]*Schema `json:"properties"`
	Items                *Schema            `json:"items"`
	AdditionalProperties *Schema            `json:"additionalProperties"`
	Enum                 []string           `json:"enum"`
	ReadOnly             bool               `json:"readOnly"`
}

// Load parses the pinned document file (for example "run-api.json").
func Load(file string) (*Doc, error) {
	b, err := files.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return Parse(b)
}

// Parse parses a discovery document and indexes its methods.
func Parse(b []byte) (*Doc, error) {
	var d Doc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	d.methods = map[string]*Method{}
	var walk func(map[string]*rsrc)
	walk = func(rs map[string]*rsrc) {
		for _, r := range rs {
			for _, m := range r.Methods {
				d.methods[m.ID] = m
				tmpl := m.FlatPath
				if tmpl == "" {
					tmpl = m.Path
				}
				d.routes = append(d.routes, &route{method: m, segs: parseTemplate(d.ServicePath + tmpl)})
			}
			walk(r.Resources)
		}
	}
	walk(d.Resources)
	// Literal segments win over variables, so `services:batchEnable` is not
	// read as the service named "services"; then longer templates first.
	sort.SliceStable(d.routes, func(i, j int) bool { return d.routes[i].less(d.routes[j]) })
	return &d, nil
}

// Method returns the method with the discovery id, or nil.
func (d *Doc) Method(id string) *Method { return d.methods[id] }

// Match finds the method for an HTTP method and a path relative to the
// document's root URL (such as "v2/projects/p/locations/l/services"). It
// returns the path variables by name. ok is false when no method matches.
func (d *Doc) Match(httpMethod, path string) (m *Method, vars map[string]string, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range d.routes {
		if r.method.HTTPMethod != httpMethod {
			continue
		}
		if v, ok := r.match(segs); ok {
			return r.method, v, true
		}
	}
	return nil, nil, false
}

// A route is a method's path template, split in segments.
type route struct {
	method *Method
	segs   []seg
}

// seg is one template segment: a literal, or a variable with an optional
// literal prefix and suffix ("{servicesId}:enable"); rest variables
// ({+name}) take every remaining segment.
type seg struct {
	literal        string
	variable       string
	prefix, suffix string
	rest           bool
	isVar          bool
}

func parseTemplate(t string) []seg {
	var out []seg
	for _, part := range strings.Split(strings.Trim(t, "/"), "/") {
		open := strings.Index(part, "{")
		if open < 0 {
			out = append(out, seg{literal: part})
			continue
		}
		end := strings.Index(part, "}")
		if end < open {
			out = append(out, seg{literal: part})
			continue
		}
		name := part[open+1 : end]
		s := seg{isVar: true, prefix: part[:open], suffix: part[end+1:]}
		if strings.HasPrefix(name, "+") {
			s.rest, name = true, name[1:]
		}
		s.variable = name
		out = append(out, s)
	}
	return out
}

func (r *route) less(o *route) bool {
	// more literal segments first, then fewer rest variables, then longer
	lits := func(x *route) (n, rest int) {
		for _, s := range x.segs {
			if !s.isVar {
				n++
			}
			if s.suffix != "" {
				n++
			}
			if s.rest {
				rest++
			}
		}
		return
	}
	a, ar := lits(r)
	b, br := lits(o)
	if a != b {
		return a > b
	}
	if ar != br {
		return ar < br
	}
	return len(r.segs) > len(o.segs)
}

func (r *route) match(segs []string) (map[string]string, bool) {
	vars := map[string]string{}
	i := 0
	for k, s := range r.segs {
		if i >= len(segs) {
			return nil, false
		}
		switch {
		case !s.isVar:
			if segs[i] != s.literal {
				return nil, false
			}
			i++
		case s.rest:
			// The rest variable takes all but what the template's later
			// segments need; its last segment carries the suffix.
			need := len(r.segs) - k - 1
			last := len(segs) - need - 1
			if last < i {
				return nil, false
			}
			joined := strings.Join(segs[i:last+1], "/")
			if !strings.HasPrefix(joined, s.prefix) || !strings.HasSuffix(joined, s.suffix) {
				return nil, false
			}
			v := strings.TrimSuffix(strings.TrimPrefix(joined, s.prefix), s.suffix)
			if v == "" {
				return nil, false
			}
			vars[s.variable] = v
			i = last + 1
		default:
			p := segs[i]
			if !strings.HasPrefix(p, s.prefix) || !strings.HasSuffix(p, s.suffix) {
				return nil, false
			}
			v := strings.TrimSuffix(strings.TrimPrefix(p, s.prefix), s.suffix)
			// Ids may hold ':' (Firebase app ids "1:NUMBER:web:HEX"); a
			// custom verb is told apart by route order: templates with a
			// ":verb" suffix are tried first.
			if v == "" {
				return nil, false
			}
			vars[s.variable] = v
			i++
		}
	}
	if i != len(segs) {
		return nil, false
	}
	return vars, true
}
