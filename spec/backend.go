package spec

import (
	"errors"
	"fmt"
	"time"
)

// PathTranslation values of x-google-backend.
const (
	AppendPathToAddress = "APPEND_PATH_TO_ADDRESS"
	ConstantAddress     = "CONSTANT_ADDRESS"
)

// Backend is an x-google-backend block.
type Backend struct {
	Address         string
	PathTranslation string // AppendPathToAddress or ConstantAddress
	JWTAudience     string
	Deadline        time.Duration // zero: the gateway's default
	// DisableAuth turns off the gateway's own ID token to the backend
	// (x-google-backend disable_auth): the caller's Authorization then
	// reaches the backend unchanged.
	DisableAuth bool
}

// parseBackend reads an x-google-backend block. topLevel tells where it
// stands, which decides the default path_translation: "When
// x-google-backend is set at the top level of the OpenAPI specification,
// path_translation defaults to APPEND_PATH_TO_ADDRESS, and when
// x-google-backend is set at the operation level [...] CONSTANT_ADDRESS"
// (https://cloud.google.com/api-gateway/docs/openapi-extensions#x-google-backend).
func parseBackend(v any, topLevel bool) (Backend, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Backend{}, errors.New("must be an object")
	}
	var b Backend
	b.Address, _ = m["address"].(string)
	if b.Address == "" {
		return Backend{}, errors.New("address is required")
	}
	b.PathTranslation, _ = m["path_translation"].(string)
	switch b.PathTranslation {
	case "":
		b.PathTranslation = ConstantAddress
		if topLevel {
			b.PathTranslation = AppendPathToAddress
		}
	case AppendPathToAddress, ConstantAddress:
	default:
		return Backend{}, fmt.Errorf("path_translation %q is neither %s nor %s", b.PathTranslation, AppendPathToAddress, ConstantAddress)
	}
	b.JWTAudience, _ = m["jwt_audience"].(string)
	if v, ok := m["disable_auth"]; ok {
		if b.DisableAuth, ok = v.(bool); !ok {
			return Backend{}, fmt.Errorf("disable_auth must be true or false, got %v", v)
		}
	}
	if d, ok := m["deadline"]; ok {
		secs, ok := d.(float64)
		if !ok || secs <= 0 {
			return Backend{}, fmt.Errorf("deadline must be a positive number of seconds, got %v", d)
		}
		b.Deadline = time.Duration(secs * float64(time.Second))
	}
	return b, nil
}

// checkBackend parses an x-google-backend block and checks its address.
func checkBackend(v any, o Options) error {
	b, err := parseBackend(v, false)
	if err != nil {
		return err
	}
	if err := checkURL(b.Address, o.Local); err != nil {
		return fmt.Errorf("address: %w", err)
	}
	return nil
}
