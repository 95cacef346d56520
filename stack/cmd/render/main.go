// Command render prints a stack's rendered, validated OpenAPI document, as
// the gateway component renders it, so that it can be inspected or deployed
// by hand, and the config id gatehouse gives it:
//
//	go run ./stack/cmd/render --stack-file Pulumi.v2.yaml \
//	    --backend-url v1=https://gatehouse-abc-ew.a.run.app --backend-url notes=https://gatehouse-notes-abc-ew.a.run.app
//	gcloud api-gateway api-configs create CONFIG_ID --api=API --openapi-spec=openapi.yaml ...
//
// The stack file is read and checked by package stack, as the program does;
// its backends' fragments are read from the stack file's folder (the
// repository's root). With every backend's deployed URL (pulumi stack
// output backendUrls) and, with CORS, the API's managed service name, the
// document and the config id printed to stderr are the deployed ones (the
// id covers the gateway's account: the stack's own by default).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// backendURLs collects repeated --backend-url NAME=URL flags.
type backendURLs map[string]string

func (b backendURLs) String() string { return fmt.Sprint(map[string]string(b)) }

func (b backendURLs) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return errors.New("want NAME=URL, such as v1=https://gatehouse-abc-ew.a.run.app")
	}
	b[name] = strings.TrimRight(url, "/")
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	urls := backendURLs{}
	stackFile := fs.String("stack-file", "Pulumi.dev.yaml", "the stack file whose document to render; its folder is the repository's root")
	fs.Var(urls, "backend-url", "a backend's deployed Cloud Run URL, as NAME=URL (repeatable; pulumi stack output backendUrls); a placeholder for each backend without one")
	endpoints := fs.String("endpoints-name", "", "the API's managed service name, which a stack with corsOrigins renders (a placeholder without it)")
	gatewaySA := fs.String("gateway-service-account", "", "the gateway's backend service account, which the config id also covers (default: the stack's gateway account)")
	out := fs.String("o", "", "write the document to this file instead of stdout")
	usage := func() {
		fmt.Fprintln(stderr, "usage: render [--stack-file Pulumi.STACK.yaml] [--backend-url NAME=URL ...] [flags]")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return 0
		}
		fmt.Fprintf(stderr, "render: %v (see --help)\n", oneLine(err))
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	cfg, err := stack.LoadFile(*stackFile, filepath.Dir(*stackFile))
	if err != nil {
		fmt.Fprintf(stderr, "render: %s\n", oneLine(err))
		return 2
	}
	contract := cfg.Contract()
	placeholders, placeholderEndpoints := contract.Placeholders()
	var notes []string
	for name := range urls {
		if _, ok := cfg.Backend(name); !ok {
			fmt.Fprintf(stderr, "render: --backend-url: the stack has no backend %q (it has %s)\n", name, strings.Join(cfg.BackendNames(), ", "))
			return 2
		}
	}
	for _, name := range cfg.BackendNames() {
		if urls[name] == "" {
			urls[name] = placeholders[name]
			notes = append(notes, fmt.Sprintf("backend %s: placeholder URL (--backend-url %s=URL for the deployed document)", name, name))
		}
	}
	if contract.CORS && *endpoints == "" {
		*endpoints = placeholderEndpoints
		notes = append(notes, "CORS: placeholder managed service name (--endpoints-name for the deployed document)")
	}
	if err := contract.Params(urls, *endpoints).Validate(); err != nil {
		fmt.Fprintf(stderr, "render: %s (see --help)\n", flagNames(err, cfg.BackendNames()))
		return 2
	}
	doc, err := contract.Render(urls, *endpoints)
	if err != nil {
		fmt.Fprintf(stderr, "render: %s\n", oneLine(err))
		return 1
	}
	if *out != "" {
		if err := os.WriteFile(*out, doc, 0o644); err != nil {
			fmt.Fprintf(stderr, "render: %v\n", err)
			return 1
		}
	} else if _, err := stdout.Write(doc); err != nil {
		fmt.Fprintf(stderr, "render: %v\n", err)
		return 1
	}
	if *gatewaySA == "" {
		names := cfg.Names()
		*gatewaySA = names.Email(names.GatewayAccount().ID)
	}
	sort.Strings(notes)
	for _, n := range notes {
		fmt.Fprintf(stderr, "note: %s\n", n)
	}
	fmt.Fprintf(stderr, "config id: %s\n", spec.ConfigID(doc, *gatewaySA))
	return 0
}

// flagNames turns Validate's "Backends[i].URL: problem" lines into one
// line naming the flag a user typed.
func flagNames(err error, backends []string) string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		var i int
		if _, scanErr := fmt.Sscanf(line, "Backends[%d].URL:", &i); scanErr == nil && i < len(backends) {
			_, msg, _ := strings.Cut(line, ": ")
			line = "--backend-url " + backends[i] + ": " + msg
		} else if strings.HasPrefix(line, "EndpointsName:") {
			line = "--endpoints-name" + strings.TrimPrefix(line, "EndpointsName")
		}
		out = append(out, line)
	}
	return strings.Join(out, "; ")
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
