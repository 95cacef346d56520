package target

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func resolver(env map[string]string, pulumi string) *Resolver {
	return &Resolver{
		Getenv:  func(k string) string { return env[k] },
		Environ: func() []string { return []string{"PATH=" + os.Getenv("PATH")} },
		LookPath: func(name string) (string, error) {
			if pulumi == "" {
				return "", errors.New("not found")
			}
			return pulumi, nil
		},
	}
}

// fakePulumi prints outputs for `pulumi stack output --json`.
func fakePulumi(t *testing.T, outputs string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pulumi")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\ncat <<'EOF'\n"+outputs+"\nEOF\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestProfile(t *testing.T) {
	tests := []struct {
		env   map[string]string
		flags ProfileFlags
		want  string
	}{
		{nil, ProfileFlags{}, "default"},
		{map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, ProfileFlags{}, "local"},
		{map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099"}, ProfileFlags{Stack: "prod"}, "prod"},
		{map[string]string{"GATEHOUSE_PROFILE": "env"}, ProfileFlags{Stack: "prod"}, "env"},
		{map[string]string{"GATEHOUSE_PROFILE": "env"}, ProfileFlags{Stack: "prod", Profile: "flag"}, "flag"},
	}
	for _, tt := range tests {
		if got := resolver(tt.env, "").Profile(tt.flags); got != tt.want {
			t.Errorf("Profile(%v, %+v) = %q, want %q", tt.env, tt.flags, got, tt.want)
		}
	}
}

// Flags, then the environment, then the stack's outputs; the target says
// where its gateway URL came from.
func TestResolve(t *testing.T) {
	stack := fakePulumi(t, `{"gatewayUrl":"https://stack.example/","firebaseApiKey":"AIzaStack"}`)
	tests := []struct {
		name  string
		env   map[string]string
		flags Flags
		want  Target
	}{
		{"flags", map[string]string{"GATEHOUSE_GATEWAY_URL": "https://env.example"}, Flags{GatewayURL: "https://flag.example", APIKey: "AIzaFlag"},
			Target{GatewayURL: "https://flag.example", GatewayFrom: FromFlag, APIKey: "AIzaFlag", Profile: "default"}},
		{"environment", map[string]string{"GATEHOUSE_GATEWAY_URL": "https://env.example", "GATEHOUSE_API_KEY": "AIzaEnv"}, Flags{},
			Target{GatewayURL: "https://env.example", GatewayFrom: FromEnv, APIKey: "AIzaEnv", Profile: "default"}},
		{"stack", nil, Flags{ProfileFlags: ProfileFlags{Stack: "prod"}},
			Target{GatewayURL: "https://stack.example", GatewayFrom: FromStack, APIKey: "AIzaStack", Stack: "prod", Profile: "prod"}},
		{"emulator key", map[string]string{"FIREBASE_AUTH_EMULATOR_HOST": "127.0.0.1:9099", "GATEHOUSE_GATEWAY_URL": "http://127.0.0.1:8080"}, Flags{},
			Target{GatewayURL: "http://127.0.0.1:8080", GatewayFrom: FromEnv, APIKey: "emulator-api-key", Profile: "local"}},
	}
	for _, tt := range tests {
		got, err := resolver(tt.env, stack).Resolve(t.Context(), &tt.flags, Need{Gateway: true, APIKey: true})
		if err != nil || got != tt.want {
			t.Errorf("%s: Resolve = %+v, %v\nwant %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	if _, err := resolver(nil, "").Resolve(t.Context(), &Flags{}, Need{Gateway: true}); err == nil ||
		!strings.Contains(err.Error(), "pass --gateway-url or set GATEHOUSE_GATEWAY_URL") || !strings.Contains(err.Error(), "Pulumi CLI is not installed") {
		t.Errorf("no gateway anywhere: %v", err)
	}
	empty := fakePulumi(t, `{}`)
	if _, err := resolver(nil, empty).Resolve(t.Context(), &Flags{}, Need{Gateway: true}); err == nil || !strings.Contains(err.Error(), "no gatewayUrl output yet") {
		t.Errorf("stack without outputs: %v", err)
	}
	for _, u := range []string{"http://example.com", "gw.example"} {
		_, err := resolver(nil, "").Resolve(t.Context(), &Flags{GatewayURL: u}, Need{Gateway: true})
		var bad *BadGatewayURL
		if !errors.As(err, &bad) {
			t.Errorf("gateway %s: %v, want a BadGatewayURL", u, err)
		}
	}
	// Not needed, not looked up: signup without a gateway does not run pulumi.
	got, err := resolver(map[string]string{"GATEHOUSE_API_KEY": "k"}, "/nonexistent/pulumi").Resolve(t.Context(), &Flags{}, Need{APIKey: true})
	if err != nil || got.GatewayURL != "" {
		t.Errorf("API key only = %+v, %v", got, err)
	}
}

// The admin commands' project is the stack's firebaseProjectId output; an
// error says how to name one.
func TestFirebaseProject(t *testing.T) {
	got, err := resolver(nil, fakePulumi(t, `{"firebaseProjectId":"my-project"}`)).FirebaseProject(t.Context(), "")
	if err != nil || got != "my-project" {
		t.Errorf("FirebaseProject = %q, %v", got, err)
	}
	if _, err := resolver(nil, fakePulumi(t, `{"gatewayUrl":"https://x"}`)).FirebaseProject(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "no firebaseProjectId output") {
		t.Errorf("no output: %v", err)
	}
	if _, err := resolver(nil, "").FirebaseProject(t.Context(), ""); err == nil || !strings.Contains(err.Error(), "pass --project") || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("no pulumi: %v", err)
	}
}
