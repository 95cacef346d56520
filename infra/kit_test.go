package main

import (
	"testing"

	"github.com/gatehouse/gatehouse/infra/internal/invariants"
	pt "github.com/gatehouse/gatehouse/infra/internal/pulumitest"
)

// The shared Pulumi test kit (infra/internal/pulumitest), bound to this
// program.

type registered = pt.Resource

const (
	tAccount      = invariants.Account
	tRunService   = invariants.RunService
	tRunIamMember = invariants.RunIamMember
	tApiConfig    = invariants.APIConfig
	tRepo         = invariants.Repository
	tImage        = "docker:index/image:Image"
)

// run executes the program with cfg as the stack's config and images
// "pushed" with digest.
func run(t *testing.T, cfg map[string]string, digest string) pt.Result {
	return runWith(t, cfg, &pt.Mocks{Digest: digest})
}

// runWith executes the program with the given mocks.
func runWith(t *testing.T, cfg map[string]string, m *pt.Mocks) pt.Result {
	t.Helper()
	return pt.Run(t, "gatehouse", "dev", cfg, m, build)
}

func devConfig(t *testing.T) map[string]string { return pt.StackConfig(t, "../Pulumi.dev.yaml") }
func v2Config(t *testing.T) map[string]string  { return pt.StackConfig(t, "../Pulumi.v2.yaml") }

var with = pt.With

func asSlice(v any) []any { s, _ := v.([]any); return s }
