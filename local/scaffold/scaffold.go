// Package scaffold adds a backend to a gatehouse checkout, as `make
// new-backend NAME=greet PREFIX=/v3/` does: a minimal Go backend on the kit
// (service/NAME), its test, its Swagger fragment, its main
// (service/cmd/NAME), its copy of the one Dockerfile and an ignore file
// admitting exactly what `go list -deps` says the command needs, its entry
// in a stack file, and its line in the drift test's table
// (local/drift/routes_test.go). Everything is checked first; if the result does
// not load as a stack, nothing is left changed.
package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/format"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse/gatehouse/stack"
)

// Options say what to add.
type Options struct {
	Root   string // the checkout
	Name   string // the backend's name: its Go package, its command and its stack entry
	Prefix string // the path prefix it serves, such as /v3/
	// StackFile is the stack file (relative to Root) that gets the entry;
	// when it does not exist it is created from Pulumi.v2.yaml (both example
	// backends and the new one).
	StackFile string
}

var (
	// A Go package name that is also a backend name (stack.ValidBackendName
	// allows hyphens, a package name does not).
	nameRe      = regexp.MustCompile(`^[a-z][a-z0-9]{0,14}$`)
	prefixRe    = regexp.MustCompile(`^(/[a-z0-9][a-z0-9._-]*)+/$`)
	stackFileRe = regexp.MustCompile(`^Pulumi\.[A-Za-z0-9][A-Za-z0-9_.-]*\.yaml$`)
)

// templateStack is the stack file a new one is made from.
const templateStack = "Pulumi.v2.yaml"

// routesFile holds the drift test's table of every backend's routes.
const routesFile = "local/drift/routes_test.go"

// check refuses what cannot become a backend, before anything is written.
func (o Options) check() error {
	var problems []string
	if !nameRe.MatchString(o.Name) || !stack.ValidBackendName(o.Name) || token.IsKeyword(o.Name) || slices.Contains([]string{"backend", "internal", "cmd", "main"}, o.Name) {
		problems = append(problems, fmt.Sprintf("NAME %q must be 1-15 lowercase letters or digits, starting with a letter (it names a Go package, a command and a stack entry), and not a Go keyword or backend, internal, cmd or main", o.Name))
	}
	if !prefixRe.MatchString(o.Prefix) || strings.Contains(o.Prefix, "/./") || strings.Contains(o.Prefix, "/../") {
		problems = append(problems, fmt.Sprintf("PREFIX %q must be a path prefix such as /v3/ (lowercase, starting and ending with /)", o.Prefix))
	}
	if !stackFileRe.MatchString(o.StackFile) {
		problems = append(problems, fmt.Sprintf("the stack file %q must be a Pulumi.<stack>.yaml at the checkout's root (make local, plan and image-test read it there)", o.StackFile))
	}
	if len(problems) == 0 {
		for _, dir := range []string{"service/" + o.Name, "service/cmd/" + o.Name} {
			if _, err := os.Stat(filepath.Join(o.Root, dir)); err == nil {
				problems = append(problems, dir+" exists already: choose another NAME")
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// Write adds the backend and returns the files it wrote or changed,
// relative to Root.
func Write(o Options) (_ []string, err error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	stackPath := filepath.Join(o.Root, o.StackFile)
	stackDoc, created, err := o.stackFile(stackPath)
	if err != nil {
		return nil, err
	}
	routesPath := filepath.Join(o.Root, routesFile)
	routes, err := os.ReadFile(routesPath)
	if err != nil {
		return nil, err
	}
	newRoutes, err := addRoute(routes, o.Name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", routesFile, err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(o.Root, "service/cmd/hello/Dockerfile"))
	if err != nil {
		return nil, err
	}

	// From here on, a failure takes back everything written.
	var written []string
	restore := map[string][]byte{routesPath: routes}
	if !created {
		old, err := os.ReadFile(stackPath)
		if err != nil {
			return nil, err
		}
		restore[stackPath] = old
	}
	defer func() {
		if err == nil {
			return
		}
		os.RemoveAll(filepath.Join(o.Root, "service", o.Name))
		os.RemoveAll(filepath.Join(o.Root, "service", "cmd", o.Name))
		if created {
			os.Remove(stackPath)
		}
		for p, b := range restore {
			_ = os.WriteFile(p, b, 0o644)
		}
	}()
	write := func(rel string, b []byte) error {
		p := filepath.Join(o.Root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		written = append(written, rel)
		return os.WriteFile(p, b, 0o644)
	}
	data := map[string]string{"Name": o.Name, "Prefix": o.Prefix, "Path": o.Prefix + o.Name, "Title": strings.ToUpper(o.Name[:1]) + o.Name[1:]}
	for rel, tmpl := range map[string]string{
		"service/" + o.Name + "/" + o.Name + ".go":      backendGo,
		"service/" + o.Name + "/" + o.Name + "_test.go": backendTest,
		"service/" + o.Name + "/openapi.yaml":           fragment,
		"service/cmd/" + o.Name + "/main.go":            mainGo,
	} {
		b, err := render(tmpl, data, strings.HasSuffix(rel, ".go"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		if err := write(rel, b); err != nil {
			return nil, err
		}
	}
	if err := write("service/cmd/"+o.Name+"/Dockerfile", dockerfile); err != nil {
		return nil, err
	}
	ignore, err := ignoreFile(filepath.Join(o.Root, "service"), o.Name)
	if err != nil {
		return nil, err
	}
	if err := write("service/cmd/"+o.Name+"/Dockerfile.dockerignore", ignore); err != nil {
		return nil, err
	}
	if err := write(routesFile, newRoutes); err != nil {
		return nil, err
	}
	if err := write(o.StackFile, stackDoc); err != nil {
		return nil, err
	}
	// The result must be a stack a deployment accepts.
	cfg, err := stack.LoadFile(stackPath, o.Root)
	if err != nil {
		return nil, fmt.Errorf("the new entry does not load: %w", err)
	}
	if !slices.Contains(cfg.BackendNames(), o.Name) {
		return nil, fmt.Errorf("%s has no backend %s after the change", o.StackFile, o.Name)
	}
	slices.Sort(written)
	return written, nil
}

func render(tmpl string, data any, goSource bool) ([]byte, error) {
	var buf bytes.Buffer
	if err := template.Must(template.New("").Parse(tmpl)).Execute(&buf, data); err != nil {
		return nil, err
	}
	if goSource {
		return format.Source(buf.Bytes())
	}
	return buf.Bytes(), nil
}

// stackFile returns the stack file with the backend's entry added, and
// whether the file is new (made from Pulumi.v2.yaml). A file without
// gatehouse:backends gets /v1's entry first: a list without it would retire
// /v1.
func (o Options) stackFile(p string) ([]byte, bool, error) {
	src, err := os.ReadFile(p)
	created := errors.Is(err, fs.ErrNotExist)
	if created {
		src, err = os.ReadFile(filepath.Join(o.Root, templateStack))
	}
	if err != nil {
		return nil, false, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, false, fmt.Errorf("%s: %w", o.StackFile, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("%s is not a stack file (a mapping with config)", o.StackFile)
	}
	if created {
		doc.HeadComment = fmt.Sprintf("# A stack with the %[1]s backend (service/%[1]s, under %[2]s), made by `make new-backend`\n"+
			"# from %[3]s: /v1 and the notes backend beside it. Replace the project id before deploying.\n"+
			"#   make local STACK=%[4]s       runs its backends behind the local gateway\n"+
			"#   make plan STACK=%[4]s        previews it offline\n"+
			"#   make image-test STACK=%[4]s  builds every backend's image", o.Name, o.Prefix, templateStack, stackName(o.StackFile))
		// The template's own head comment (yaml.v3 keeps it on the mapping
		// or its first key).
		doc.Content[0].HeadComment = ""
		if len(doc.Content[0].Content) > 0 {
			doc.Content[0].Content[0].HeadComment = ""
		}
	}
	config := mapValue(doc.Content[0], "config")
	if config == nil {
		config = &yaml.Node{Kind: yaml.MappingNode}
		doc.Content[0].Content = append(doc.Content[0].Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "config"}, config)
	}
	backends := mapValue(config, stack.Namespace+":backends")
	if backends == nil {
		var def []stack.Backend
		if err := json.Unmarshal([]byte(stack.DefaultBackends), &def); err != nil {
			return nil, false, err
		}
		backends = &yaml.Node{Kind: yaml.SequenceNode}
		for _, e := range def {
			if len(e.Paths) != 1 {
				return nil, false, fmt.Errorf("the default backend %s has %d paths, want one", e.Name, len(e.Paths))
			}
			backends.Content = append(backends.Content, entryNode(e.Name, e.Command, e.Spec, e.Paths[0]))
		}
		backends.Content[0].HeadComment = "/v1's entry (the default list): a list without it would retire /v1"
		config.Content = append(config.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: stack.Namespace + ":backends"}, backends)
	}
	if backends.Kind != yaml.SequenceNode {
		return nil, false, fmt.Errorf("%s: %s:backends is not a list", o.StackFile, stack.Namespace)
	}
	for _, e := range backends.Content {
		if n := mapValue(e, "name"); n != nil && n.Value == o.Name {
			return nil, false, fmt.Errorf("%s has a backend named %s already", o.StackFile, o.Name)
		}
	}
	entry := entryNode(o.Name, "./cmd/"+o.Name, "service/"+o.Name+"/openapi.yaml", o.Prefix)
	entry.HeadComment = "made by make new-backend: its code is service/" + o.Name + ", its image service/cmd/" + o.Name + "/Dockerfile"
	backends.Content = append(backends.Content, entry)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), created, nil
}

// stackName is STACK of Pulumi.STACK.yaml.
func stackName(file string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "Pulumi."), ".yaml")
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func entryNode(name, command, spec, prefix string) *yaml.Node {
	s := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
	paths := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{s(prefix)}}
	return &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		s("name"), s(name), s("command"), s(command), s("spec"), s(spec), s("paths"), paths,
	}}
}

// addRoute adds the backend's line to the drift test's table and its
// package to the file's imports.
func addRoute(src []byte, name string) ([]byte, error) {
	s := string(src)
	const kit = `"github.com/gatehouse/gatehouse/service/backend"`
	const table = "var routesOf = map[string]func() []backend.Route{\n"
	i, j := strings.Index(s, kit), strings.Index(s, table)
	if i < 0 || j < 0 {
		return nil, errors.New("has no routesOf table importing the kit")
	}
	end := j + strings.Index(s[j:], "\n}\n")
	s = s[:end] + fmt.Sprintf("\n\t%q: %s.Routes,", name, name) + s[end:]
	s = s[:i+len(kit)] + "\n\t\"github.com/gatehouse/gatehouse/service/" + name + "\"" + s[i+len(kit):]
	return format.Source([]byte(s))
}

// ignoreFile is the command's Dockerfile.dockerignore: everything out, then
// exactly the directories of the module's packages `go list -deps
// ./cmd/NAME` names (local/image's TestIgnoreFilesAdmitExactlyTheDeps
// checks the same), without tests. The file is named after the Dockerfile
// because BuildKit, which pulumi-docker v4 builds with, reads
// <Dockerfile>.dockerignore before the context's .dockerignore
// (https://docs.docker.com/build/concepts/context/#dockerignore-files, "Filename and location"):
// a copied backend cannot inherit service/.dockerignore by mistake.
func ignoreFile(serviceDir, name string) ([]byte, error) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if .Main}}{{$.Dir}}{{end}}{{end}}", "./cmd/"+name)
	cmd.Dir = serviceDir
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("go list -deps ./cmd/%s: %v\n%s", name, err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list -deps ./cmd/%s: %w", name, err)
	}
	abs, err := filepath.Abs(serviceDir)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, d := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(abs, d)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		dirs = append(dirs, "!"+path.Clean(filepath.ToSlash(rel))+"/")
	}
	slices.Sort(dirs)
	var b strings.Builder
	fmt.Fprintf(&b, "# The %s backend's build context, written by `make new-backend`: exactly the\n"+
		"# packages `go list -deps ./cmd/%[1]s` names in this module (the kit, its internal\n"+
		"# packages, %[1]s and this main), so a change to another backend's code neither\n"+
		"# rebuilds nor redeploys this one. When %[1]s imports another package of the\n"+
		"# module, add it here: local/image's TestIgnoreFilesAdmitExactlyTheDeps checks\n"+
		"# this file against go list, and `make image-test STACK=...` builds the image.\n"+
		"*\n!go.mod\n!go.sum\n%s\n**/*_test.go\n**/testdata\n", name, strings.Join(dirs, "\n"))
	return []byte(b.String()), nil
}
