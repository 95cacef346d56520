package stack

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Fields reads the keys of one config namespace, collecting an error that
// names the key for each value it cannot take. Both Pulumi programs
// (infra and infra/bootstrap) read their config with it.
type Fields struct {
	src  Source
	ns   string
	errs []error
}

// NewFields reads namespace ns from src.
func NewFields(src Source, ns string) *Fields { return &Fields{src: src, ns: ns} }

// Bad records a problem with key (a full key such as gcp:project).
func (f *Fields) Bad(key, format string, args ...any) {
	f.errs = append(f.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

// Err joins the problems recorded, or is nil.
func (f *Fields) Err() error { return errors.Join(f.errs...) }

// Str is key's value, or def when unset.
func (f *Fields) Str(key, def string) string {
	if v := strings.TrimSpace(f.src.Get(key)); v != "" {
		return v
	}
	return def
}

// Int is key's integer value, or def when unset.
func (f *Fields) Int(key string, def int) int {
	v := strings.TrimSpace(f.src.Get(key))
	if v == "" {
		return def
	}
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || fmt.Sprint(n) != v {
		f.Bad(f.ns+":"+key, "%q is not an integer", v)
		return def
	}
	return n
}

// Bool is key's boolean value, or def when unset.
func (f *Fields) Bool(key string, def bool) bool {
	switch v := strings.TrimSpace(f.src.Get(key)); v {
	case "":
		return def
	case "true":
		return true
	case "false":
		return false
	default:
		f.Bad(f.ns+":"+key, "%q is not true or false", v)
		return def
	}
}

// OptBool is key's boolean value, or nil when unset (a key whose absence
// means something of its own).
func (f *Fields) OptBool(key string) *bool {
	if strings.TrimSpace(f.src.Get(key)) == "" {
		return nil
	}
	v := f.Bool(key, false)
	return &v
}

// Duration is key's duration value, or def parsed.
func (f *Fields) Duration(key, def string) time.Duration {
	v := f.Str(key, def)
	d, err := time.ParseDuration(v)
	if err != nil {
		f.Bad(f.ns+":"+key, "%q is not a duration such as 30s", v)
	}
	return d
}

// List is key's array value: a JSON array of strings, as `pulumi config
// set --path 'ns:key[0]' ...` stores it, or a comma-separated string.
func (f *Fields) List(key string) []string { return list(f.src.Get(key)) }
