// Command render prints gatehouse's rendered, validated OpenAPI document so
// that it can be inspected or deployed by hand:
//
//	go run ./spec/cmd/render --backend-url https://svc-abc-ew.a.run.app --firebase-project my-project
//	gcloud api-gateway api-configs create CONFIG_ID --api=API --openapi-spec=openapi.yaml ...
//
// The config id that gatehouse would use is printed to stderr (pass
// --gateway-service-account for the id of a deployed stack: the id covers it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/spec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// serviceAccounts collects repeated --service-account EMAIL=AUDIENCE flags.
type serviceAccounts []spec.ServiceAccount

func (s *serviceAccounts) String() string { return fmt.Sprint(*s) }

func (s *serviceAccounts) Set(v string) error {
	email, aud, ok := strings.Cut(v, "=")
	if !ok || email == "" || aud == "" {
		return errors.New("want EMAIL=AUDIENCE")
	}
	*s = append(*s, spec.ServiceAccount{Email: email, Audience: aud})
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var p spec.Params
	var sas serviceAccounts
	out := fs.String("o", "", "write the document to this file instead of stdout")
	fs.StringVar(&p.BackendURL, "backend-url", "", "backend base URL, e.g. the Cloud Run service URL (required)")
	fs.StringVar(&p.FirebaseProjectID, "firebase-project", "", "Firebase project id whose ID tokens are accepted")
	fs.StringVar(&p.JWTAudience, "jwt-audience", "", "audience of the gateway's token to the backend (default: the backend URL)")
	fs.DurationVar(&p.Deadline, "deadline", 0, "backend deadline, e.g. 30s (default: the gateway's 15s)")
	fs.Var(&sas, "service-account", "accept JWTs signed by this service account: EMAIL=AUDIENCE (repeatable)")
	fs.BoolVar(&p.CORS, "cors", false, "allow CORS preflight (needs --endpoints-name)")
	fs.StringVar(&p.EndpointsName, "endpoints-name", "", "the API's managed service name, for CORS")
	fs.StringVar(&p.Title, "title", "", "API title (default: the template's)")
	fs.StringVar(&p.Version, "version", "", "API version (default: the template's)")
	fs.BoolVar(&p.Local, "local", false, "allow loopback http URLs (local twin only)")
	gatewaySA := fs.String("gateway-service-account", "", "the gateway's backend service account, which the config id also covers (the stack's gatewayServiceAccount output)")
	usage := func() {
		fmt.Fprintln(stderr, "usage: render --backend-url URL --firebase-project ID [flags]")
		fs.SetOutput(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return 0
		}
		fmt.Fprintf(stderr, "render: %v (see --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "render: unexpected argument %q (see --help)\n", fs.Arg(0))
		return 2
	}
	p.ServiceAccounts = sas
	p.BackendURL = strings.TrimRight(p.BackendURL, "/")
	if err := p.Validate(); err != nil {
		fmt.Fprintf(stderr, "render: %s (see --help)\n", flagNames(err))
		return 2
	}
	doc, err := spec.Render(p)
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
	fmt.Fprintf(stderr, "config id: %s\n", spec.ConfigID(doc, *gatewaySA))
	return 0
}

// flagOf names the flag that sets each spec.Params field.
var flagOf = map[string]string{
	"BackendURL": "--backend-url", "FirebaseProjectID": "--firebase-project", "JWTAudience": "--jwt-audience",
	"Deadline": "--deadline", "ServiceAccounts": "--service-account", "EndpointsName": "--endpoints-name",
	"Title": "--title", "Version": "--version", "Issuers": "--service-account",
}

// flagNames turns Validate's "Field: problem" lines into one line that
// names the flags a user typed.
func flagNames(err error) string {
	var out []string
	for _, line := range strings.Split(err.Error(), "\n") {
		field, msg, ok := strings.Cut(line, ": ")
		if base, _, _ := strings.Cut(field, "["); ok {
			if f, known := flagOf[base]; known {
				line = f + ": " + msg
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "; ")
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
