package stack

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is a Pulumi stack file (Pulumi.<stack>.yaml) as the program would
// read its config: plain values as they are, structured ones (lists,
// objects) as JSON. Secure values cannot be read without the stack's
// secrets provider: they are left out, and listed by Secure.
type File struct {
	Path   string
	values map[string]string // "ns:key" -> value
	secure []string
}

// ReadFile reads a stack file. A missing file is an error that names it:
// a misspelt stack must not run as an empty one.
func ReadFile(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("stack file: %w", err)
	}
	var doc struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("stack file %s: %w", path, err)
	}
	f := &File{Path: path, values: map[string]string{}}
	for k, v := range doc.Config {
		if m, ok := v.(map[string]any); ok && len(m) == 1 && m["secure"] != nil {
			f.secure = append(f.secure, k)
			continue
		}
		switch t := v.(type) {
		case string:
			f.values[k] = t
		case []any, map[string]any:
			js, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("stack file %s: %s: %w", path, k, err)
			}
			f.values[k] = string(js)
		default: // numbers and booleans, as Pulumi passes them
			f.values[k] = fmt.Sprint(v)
		}
	}
	sort.Strings(f.secure)
	return f, nil
}

// Namespace is the file's config under ns ("gcp", Namespace), as a Source.
func (f *File) Namespace(ns string) Source { return fileSource{f, ns} }

// Secure lists the keys whose values are encrypted (left out).
func (f *File) Secure() []string { return f.secure }

type fileSource struct {
	f  *File
	ns string
}

func (s fileSource) Get(key string) string { return s.f.values[s.ns+":"+key] }

// LoadFile reads a stack file and loads it as the program would (Load),
// with the repository at repo.
func LoadFile(path, repo string) (Config, error) {
	f, err := ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := Load(f.Namespace("gcp"), f.Namespace(Namespace), repo)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// String names the file and what it leaves out.
func (f *File) String() string {
	if len(f.secure) == 0 {
		return f.Path
	}
	return fmt.Sprintf("%s (without its secure values: %s)", f.Path, strings.Join(f.secure, ", "))
}

// Unset is a Source with nothing set.
type Unset struct{}

func (Unset) Get(string) string { return "" }

// localGCP stands in for gcp:project and gcp:region where nothing deploys
// (the local twin without a stack file): an emulator's demo- project.
var localGCP = values{"project": "demo-gatehouse", "region": "europe-west1"}

// values is a Source of fixed values.
type values map[string]string

func (v values) Get(k string) string { return v[k] }

// Defaults is the config of a stack that sets nothing (its backends are
// DefaultBackends), with the repository at repo: what the local twin runs
// without a stack file.
func Defaults(repo string) (Config, error) { return Load(localGCP, Unset{}, repo) }
