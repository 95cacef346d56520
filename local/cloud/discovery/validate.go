package discovery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// FieldError is a request that Google would reject with 400
// INVALID_ARGUMENT: Field is the field's path in the body (or the query
// parameter's name), Message is Google's wording for the fault.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Message }

// maxDepth bounds the walk: discovery schemas are recursive (Status.details,
// JSON values) and a request may nest deeply.
const maxDepth = 64

// ValidateBody checks a request body against the method's request schema.
// The messages follow Google's for proto-JSON bodies ("Invalid JSON payload
// received. Unknown name ..."; "Invalid value at ..."), which ESF answers
// with 400 INVALID_ARGUMENT. An empty body is valid for a method with a
// request schema (Google reads it as the empty message).
func (d *Doc) ValidateBody(m *Method, body []byte) error {
	body = bytes.TrimSpace(body)
	if m.Request == nil {
		if len(body) == 0 || string(body) == "{}" {
			return nil
		}
		// Methods without a request body ignore one in Google's front end;
		// only its JSON syntax is checked.
		if !json.Valid(body) {
			return &FieldError{Message: "Invalid JSON payload received. Unexpected token."}
		}
		return nil
	}
	if len(body) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return &FieldError{Message: "Invalid JSON payload received. " + jsonSyntax(err)}
	}
	if dec.More() {
		return &FieldError{Message: "Invalid JSON payload received. Unexpected token after the value."}
	}
	return d.check(d.resolve(m.Request), v, "", 0)
}

func jsonSyntax(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return "Unexpected token: " + s
}

// resolve follows $ref.
func (d *Doc) resolve(s *Schema) *Schema {
	for i := 0; s != nil && s.Ref != "" && i < 8; i++ {
		s = d.Schemas[s.Ref]
	}
	return s
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

func (d *Doc) check(s *Schema, v any, path string, depth int) error {
	if s == nil || v == nil { // null is the field's default in proto JSON
		return nil
	}
	if depth > maxDepth {
		return &FieldError{Field: path, Message: fmt.Sprintf("Invalid JSON payload received. Too deeply nested at '%s'.", path)}
	}
	invalid := func(what string) error {
		return &FieldError{Field: path, Message: fmt.Sprintf("Invalid value at '%s' (%s), %s", path, what, short(v))}
	}
	switch s.Type {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return &FieldError{Field: path, Message: fmt.Sprintf("Invalid JSON payload received. Expected an object at '%s', got %s.", path, short(v))}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			var fs *Schema
			if p, ok := s.Properties[k]; ok {
				fs = d.resolve(p)
			} else if s.AdditionalProperties != nil {
				fs = d.resolve(s.AdditionalProperties)
			} else if len(s.Properties) == 0 && s.ID == "" {
				continue // a free-form object
			} else {
				where := ""
				if path != "" {
					where = fmt.Sprintf(" at '%s'", path)
				}
				return &FieldError{Field: join(path, k), Message: fmt.Sprintf("Invalid JSON payload received. Unknown name %q%s: Cannot find field.", k, where)}
			}
			if err := d.check(fs, obj[k], join(path, k), depth+1); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return &FieldError{Field: path, Message: fmt.Sprintf("Invalid JSON payload received. Expected an array at '%s', got %s.", path, short(v))}
		}
		for i, e := range arr {
			if err := d.check(d.resolve(s.Items), e, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
				return err
			}
		}
	case "string":
		str, isStr := v.(string)
		num, isNum := v.(json.Number)
		switch s.Format {
		case "int64", "uint64":
			// Proto JSON takes 64-bit integers as strings or numbers.
			if isStr {
				if _, err := strconv.ParseInt(str, 10, 64); err != nil {
					if _, err := strconv.ParseUint(str, 10, 64); err != nil {
						return invalid("TYPE_INT64")
					}
				}
				return nil
			}
			if isNum {
				if _, err := num.Int64(); err != nil {
					return invalid("TYPE_INT64")
				}
				return nil
			}
			return invalid("TYPE_INT64")
		}
		if !isStr {
			return invalid("TYPE_STRING")
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			return invalid("TYPE_ENUM")
		}
		if s.Format == "byte" {
			if !validBase64(str) {
				return invalid("TYPE_BYTES")
			}
		}
	case "integer":
		switch x := v.(type) {
		case json.Number:
			if _, err := x.Int64(); err != nil {
				return invalid("TYPE_INT32")
			}
			if n, _ := x.Int64(); n > math.MaxInt32 && s.Format == "int32" || n < math.MinInt32 && s.Format == "int32" {
				return invalid("TYPE_INT32")
			}
		case string:
			if _, err := strconv.ParseInt(x, 10, 32); err != nil {
				return invalid("TYPE_INT32")
			}
		default:
			return invalid("TYPE_INT32")
		}
	case "number":
		switch x := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil && x != "NaN" && x != "Infinity" && x != "-Infinity" {
				return invalid("TYPE_DOUBLE")
			}
		default:
			return invalid("TYPE_DOUBLE")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return invalid("TYPE_BOOL")
		}
	case "any", "":
		// google.protobuf.Value / Any: anything goes
	}
	return nil
}

func validBase64(s string) bool {
	// Proto JSON accepts standard and URL-safe alphabets, padded or not.
	for _, c := range s {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '-', c == '_', c == '=':
		default:
			return false
		}
	}
	return true
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 60 {
		b = append(b[:57], "..."...)
	}
	return string(b)
}

// ValidateQuery checks the query parameters: every one must be the
// method's or one of the standard parameters, and enums must hold.
// Google answers an unknown one with 400 INVALID_ARGUMENT
// ("Invalid JSON payload received. Unknown name ...: Cannot bind query
// parameter.").
func (d *Doc) ValidateQuery(m *Method, q url.Values) error {
	names := make([]string, 0, len(q))
	for k := range q {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := m.Parameters[k]
		if p == nil {
			// Google binds a query parameter by its proto (snake_case)
			// name as well as its JSON name ("repository_id").
			p = m.Parameters[lowerCamel(k)]
		}
		if p == nil {
			p = d.Parameters[k]
		}
		if p == nil {
			if standardQuery(k) || strings.Contains(k, ".") && m.Parameters[strings.ReplaceAll(k, ".", "")] != nil {
				continue
			}
			if sub := nestedParam(m, k); sub {
				continue
			}
			return &FieldError{Field: k, Message: fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter. Field '%s' could not be found in request message.", k, k)}
		}
		if p.Location == "path" {
			return &FieldError{Field: k, Message: fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot bind query parameter.", k)}
		}
		for _, val := range q[k] {
			if len(p.Enum) > 0 && !slices.Contains(p.Enum, val) {
				return &FieldError{Field: k, Message: fmt.Sprintf("Invalid value at '%s' (TYPE_ENUM), %q", k, val)}
			}
			if p.Type == "boolean" && val != "true" && val != "false" {
				return &FieldError{Field: k, Message: fmt.Sprintf("Invalid value at '%s' (TYPE_BOOL), %q", k, val)}
			}
			if p.Type == "integer" {
				if _, err := strconv.ParseInt(val, 10, 64); err != nil {
					return &FieldError{Field: k, Message: fmt.Sprintf("Invalid value at '%s' (TYPE_INT32), %q", k, val)}
				}
			}
		}
	}
	return nil
}

// standardQuery are the system parameters every Google API takes
// (https://cloud.google.com/apis/docs/system-parameters), which some
// documents do not list.
func standardQuery(k string) bool {
	switch k {
	case "$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
		"prettyPrint", "quotaUser", "upload_protocol", "uploadType", "userIp", "$alt":
		return true
	}
	return false
}

// nestedParam accepts "options.requestedPolicyVersion"-style names, which
// bind to a nested request field the document lists under that dotted name.
func nestedParam(m *Method, k string) bool {
	for name := range m.Parameters {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// lowerCamel turns a proto field name (snake_case) into its JSON name.
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, r := range s {
		if r == '_' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}
