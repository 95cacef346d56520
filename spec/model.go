package spec

import (
	"fmt"
	"strings"

	oaspec "github.com/go-openapi/spec"
)

// Document is the part of a rendered document that a gateway acts on.
type Document struct {
	Title, Version string
	// Backend is the top-level x-google-backend, zero when the document has
	// none (gatehouse renders none: every operation carries its own).
	Backend    Backend
	Issuers    map[string]Issuer // by securityDefinition name
	Operations []Operation       // sorted by path, then method
	CORS       bool              // x-google-endpoints allowCors
}

// Operation is one method on one path.
type Operation struct {
	ID, Method, Path string
	// Security lists the alternatives: each inner list names the
	// securityDefinitions that must all be satisfied. Empty: no auth.
	Security [][]string
	// Backend overrides the document's backend when the operation has its
	// own x-google-backend.
	Backend *Backend
}

// Parse validates doc (see Validate) and returns its model.
func Parse(doc []byte, o Options) (*Document, error) {
	sw, err := validated(doc, o)
	if err != nil {
		return nil, err
	}
	return model(sw)
}

func model(sw *oaspec.Swagger) (*Document, error) {
	d := &Document{Issuers: map[string]Issuer{}, CORS: corsEnabled(sw)}
	if sw.Info != nil {
		d.Title, d.Version = sw.Info.Title, sw.Info.Version
	}
	if v, ok := sw.Extensions["x-google-backend"]; ok {
		b, err := parseBackend(v, true)
		if err != nil {
			return nil, fmt.Errorf("x-google-backend: %w", err)
		}
		d.Backend = b
	}
	for name, sd := range sw.SecurityDefinitions {
		iss, ok := sd.Extensions.GetString("x-google-issuer")
		if !ok {
			continue
		}
		jwks, _ := sd.Extensions.GetString("x-google-jwks_uri")
		aud, _ := sd.Extensions.GetString("x-google-audiences")
		var auds []string
		for _, a := range strings.Split(aud, ",") {
			if a = strings.TrimSpace(a); a != "" {
				auds = append(auds, a)
			}
		}
		d.Issuers[name] = Issuer{Name: name, Issuer: iss, JWKSURI: jwks, Audiences: auds}
	}
	for _, path := range sortedPaths(sw) {
		ops := itemOps(sw.Paths.Paths[path])
		for _, m := range httpMethods {
			op, ok := ops[m]
			if !ok {
				continue
			}
			o := Operation{ID: op.ID, Method: m, Path: path}
			for _, alt := range op.Security {
				o.Security = append(o.Security, sortedKeys(alt))
			}
			if v, ok := op.Extensions["x-google-backend"]; ok {
				ob, err := parseBackend(v, false)
				if err != nil {
					return nil, fmt.Errorf("%s %s: x-google-backend: %w", m, path, err)
				}
				o.Backend = &ob
			}
			d.Operations = append(d.Operations, o)
		}
	}
	return d, nil
}
