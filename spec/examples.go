package spec

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	oaspec "github.com/go-openapi/spec"
)

// Call is an example call of one operation of a backend's fragment: what
// the twin's banner and the README show, derived from the fragment so that
// a new backend's calls are printed without anyone writing them.
type Call struct {
	Method string // GET, POST, ...
	Path   string // the path, with path parameters filled in
	// Body is an example JSON body, for an operation that takes one (an
	// in: body parameter), built from its schema: each property's example,
	// enum or default, else a value of its type. Empty: no body.
	Body string
	// Roles are the operation's x-gatehouse-roles: a caller needs one of
	// them (none: any signed-in caller).
	Roles []string
}

// methodOrder is the order of a path's example calls.
var methodOrder = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// ExampleCalls lists an example call of every operation of a backend's
// Swagger 2.0 fragment (HEAD and OPTIONS left out), by path, then GET,
// POST, PUT, PATCH, DELETE.
func ExampleCalls(fragment []byte) ([]Call, error) {
	frag, err := loadSwagger(fragment)
	if err != nil {
		return nil, err
	}
	var calls []Call
	for _, path := range sortedPaths(frag) {
		item := frag.Paths.Paths[path]
		ops := itemOps(item)
		for _, m := range methodOrder {
			op := ops[m]
			if op == nil {
				continue
			}
			c := Call{Method: m, Path: fillPath(path, append(append([]oaspec.Parameter{}, item.Parameters...), op.Parameters...))}
			roles, err := operationRoles(op)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, path, err)
			}
			c.Roles = roles
			for _, p := range op.Parameters {
				if p.In == "body" && p.Schema != nil {
					b, err := json.Marshal(exampleValue(p.Schema, frag.Definitions, 0))
					if err != nil {
						return nil, fmt.Errorf("%s %s: example body: %w", m, path, err)
					}
					c.Body = string(b)
				}
			}
			calls = append(calls, c)
		}
	}
	return calls, nil
}

// ExampleLines are the commands that show a backend's operations, as the
// twin's banner and the README print them: each call as a gatehouse
// command, and a call with a body also as curl to gatewayURL (showing the
// Content-Type a JSON operation needs); a call that needs a role says so.
func ExampleLines(fragment []byte, gatewayURL string) ([]string, error) {
	calls, err := ExampleCalls(fragment)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, c := range calls {
		cli := c.CLI()
		if len(c.Roles) > 0 {
			cli += "   # 403 without the role " + strings.Join(c.Roles, " or ")
		}
		lines = append(lines, cli)
		if c.Body != "" {
			lines = append(lines, c.Curl(gatewayURL))
		}
	}
	return lines, nil
}

// fillPath puts each path parameter's default (or its name) in its place.
func fillPath(path string, params []oaspec.Parameter) string {
	for _, p := range params {
		if p.In != "path" {
			continue
		}
		v := p.Name
		if p.Default != nil {
			v = fmt.Sprint(p.Default)
		}
		path = strings.ReplaceAll(path, "{"+p.Name+"}", v)
	}
	return path
}

// exampleValue is an example of schema s: its example, first enum value or
// default, else for an object its required properties (all of them when
// none is required), for an array one item, else a value of its type.
func exampleValue(s *oaspec.Schema, defs oaspec.Definitions, depth int) any {
	if depth > 8 {
		return nil
	}
	if ref := s.Ref.String(); ref != "" {
		m := refRe.FindStringSubmatch(ref)
		if m == nil {
			return nil
		}
		def, ok := defs[m[1]]
		if !ok {
			return nil
		}
		return exampleValue(&def, defs, depth+1)
	}
	switch {
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Default != nil:
		return s.Default
	}
	switch {
	case s.Type.Contains("object") || len(s.Properties) > 0:
		names := s.Required
		if len(names) == 0 {
			for n := range s.Properties {
				names = append(names, n)
			}
			sort.Strings(names)
		}
		out := map[string]any{}
		for _, n := range names {
			if p, ok := s.Properties[n]; ok {
				out[n] = exampleValue(&p, defs, depth+1)
			}
		}
		return out
	case s.Type.Contains("array"):
		if s.Items != nil && s.Items.Schema != nil {
			return []any{exampleValue(s.Items.Schema, defs, depth+1)}
		}
		return []any{}
	case s.Type.Contains("integer"), s.Type.Contains("number"):
		if s.Minimum != nil {
			return *s.Minimum
		}
		return 1
	case s.Type.Contains("boolean"):
		return true
	case s.Format == "date-time":
		return "2026-01-01T00:00:00Z"
	default:
		return "example"
	}
}

// CLI is the call as a gatehouse command: `gatehouse call /v2/notes`, or
// `gatehouse call POST /v2/notes -d '{"text":"…"}'` (the CLI sends a body
// as application/json).
func (c Call) CLI() string {
	s := "gatehouse call "
	if c.Method != http.MethodGet {
		s += c.Method + " "
	}
	s += ShellQuote(c.Path)
	if c.Body != "" {
		s += " -d " + ShellQuote(c.Body)
	}
	return s
}

// Curl is the call as a curl command to the gateway at gatewayURL, with the
// CLI's ID token, and for a body the Content-Type a JSON operation requires
// (without it, curl -d sends a form and the backend answers 415).
func (c Call) Curl(gatewayURL string) string {
	s := `curl -H "Authorization: Bearer $(gatehouse token)"`
	switch {
	case c.Body != "" && c.Method != http.MethodPost:
		s += " -X " + c.Method
	case c.Body == "" && c.Method != http.MethodGet:
		s += " -X " + c.Method
	}
	if c.Body != "" {
		s += " -H 'Content-Type: application/json' -d " + ShellQuote(c.Body)
	}
	return s + " " + ShellQuote(strings.TrimRight(gatewayURL, "/")+c.Path)
}

// ShellQuote quotes s for a POSIX shell: as it is when it holds only
// characters no shell treats specially, else in single quotes.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
