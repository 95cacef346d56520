// Package target resolves where a command sends its calls (the gateway URL
// and the Firebase web API key) and which credentials profile it uses: from
// flags, then the environment, then the Pulumi stack's outputs.
package target

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gatehouse/gatehouse/client/internal/session"
)

// Variables the resolution reads.
const (
	GatewayVar = "GATEHOUSE_GATEWAY_URL"
	APIKeyVar  = "GATEHOUSE_API_KEY"
	ProfileVar = "GATEHOUSE_PROFILE"
	ProjectVar = "GATEHOUSE_PROJECT_DIR"
)

// Where a gateway URL came from, as the CLI's messages name it.
const (
	FromFlag  = "--gateway-url"
	FromEnv   = GatewayVar
	FromStack = "the stack's gatewayUrl output"
)

// Target is where a command sends its calls.
type Target struct {
	GatewayURL string
	// GatewayFrom names where GatewayURL came from (FromFlag, FromEnv or
	// FromStack), so that an error about it can say what to change.
	GatewayFrom string
	APIKey      string
	Stack       string
	Profile     string
}

// ProfileFlags choose the credentials profile; every command has them.
type ProfileFlags struct{ Stack, Profile string }

// AddProfileFlags adds --stack and --profile to fs.
func AddProfileFlags(fs *pflag.FlagSet, p *ProfileFlags) {
	fs.StringVar(&p.Stack, "stack", "", "Pulumi stack (names the profile; networked commands read its outputs)")
	fs.StringVar(&p.Profile, "profile", "", "credentials profile (else $GATEHOUSE_PROFILE, else the stack name, else \"local\" with FIREBASE_AUTH_EMULATOR_HOST set, else \"default\")")
}

// Flags are those of the commands that contact Firebase or the gateway:
// where to send calls, and the profile.
type Flags struct {
	GatewayURL, APIKey string
	ProfileFlags
}

// AddFlags adds the target flags to fs; --gateway-url only with gateway.
func AddFlags(fs *pflag.FlagSet, f *Flags, gateway bool) {
	if gateway {
		fs.StringVar(&f.GatewayURL, "gateway-url", "", "gateway base URL (else $GATEHOUSE_GATEWAY_URL, else the stack's gatewayUrl output)")
	}
	fs.StringVar(&f.APIKey, "api-key", "", "Firebase web API key (else $GATEHOUSE_API_KEY, else the stack's firebaseApiKey output)")
	AddProfileFlags(fs, &f.ProfileFlags)
}

// Need says which values a command must have.
type Need struct{ Gateway, APIKey bool }

// Resolver reads the environment and the stack's outputs.
type Resolver struct {
	Getenv   func(string) string
	Environ  func() []string
	LookPath func(string) (string, error)
}

// Profile is the credentials profile the flags and environment select.
// Sessions against the Auth emulator get their own ("local"), so the local
// twin never shares a profile with a cloud stack.
func (r *Resolver) Profile(p ProfileFlags) string {
	fallback := "default"
	if r.Getenv(session.EmulatorVar) != "" {
		fallback = "local"
	}
	return cmp.Or(p.Profile, r.Getenv(ProfileVar), p.Stack, fallback)
}

// BadGatewayURL is a gateway URL that session.CheckGatewayURL refuses: bad
// input, which the CLI answers with exit code 2.
type BadGatewayURL struct{ Err error }

func (e *BadGatewayURL) Error() string { return e.Err.Error() }
func (e *BadGatewayURL) Unwrap() error { return e.Err }

// Resolve fills in the target.
func (r *Resolver) Resolve(ctx context.Context, f *Flags, need Need) (Target, error) {
	t := Target{
		APIKey:  cmp.Or(f.APIKey, r.Getenv(APIKeyVar)),
		Stack:   f.Stack,
		Profile: r.Profile(f.ProfileFlags),
	}
	switch {
	case f.GatewayURL != "":
		t.GatewayURL, t.GatewayFrom = f.GatewayURL, FromFlag
	case r.Getenv(GatewayVar) != "":
		t.GatewayURL, t.GatewayFrom = r.Getenv(GatewayVar), FromEnv
	}
	if t.APIKey == "" && r.Getenv(session.EmulatorVar) != "" {
		t.APIKey = "emulator-api-key" // the emulator accepts any key
	}
	if (need.Gateway && t.GatewayURL == "") || (need.APIKey && t.APIKey == "") {
		out, err := r.stackOutputs(ctx, t.Stack)
		if err != nil {
			missing := "gateway URL"
			hint := "pass --gateway-url or set " + GatewayVar
			if !(need.Gateway && t.GatewayURL == "") {
				missing, hint = "Firebase API key", "pass --api-key or set "+APIKeyVar
			}
			return t, fmt.Errorf("no %s: %s, or run from the gatehouse checkout after `pulumi up` (%v); for the local twin (make local), export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 and GATEHOUSE_GATEWAY_URL=http://127.0.0.1:8080 as it prints", missing, hint, err)
		}
		if t.GatewayURL == "" {
			t.GatewayURL, _ = out["gatewayUrl"].(string)
			t.GatewayFrom = FromStack
		}
		if t.APIKey == "" {
			t.APIKey, _ = out["firebaseApiKey"].(string)
		}
		if need.Gateway && t.GatewayURL == "" {
			return t, errors.New("no gateway URL: the stack has no gatewayUrl output yet; run `pulumi up` first")
		}
		if need.APIKey && t.APIKey == "" {
			return t, errors.New("no Firebase API key: the stack has no firebaseApiKey output; set GATEHOUSE_API_KEY (for the local twin: export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 as make local prints)")
		}
	}
	t.GatewayURL = strings.TrimSuffix(t.GatewayURL, "/")
	if t.GatewayURL != "" {
		if err := session.CheckGatewayURL(t.GatewayURL); err != nil {
			return t, &BadGatewayURL{err}
		}
	}
	return t, nil
}

// FirebaseProject is the Firebase project whose users the admin commands
// manage: the stack's firebaseProjectId output.
func (r *Resolver) FirebaseProject(ctx context.Context, stack string) (string, error) {
	out, err := r.stackOutputs(ctx, stack)
	if err != nil {
		return "", fmt.Errorf("no Firebase project: pass --project, or run from the gatehouse checkout after `pulumi up` (%v); for the local twin, export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 as make local prints", err)
	}
	p, _ := out["firebaseProjectId"].(string)
	if p == "" {
		return "", errors.New("no Firebase project: the stack has no firebaseProjectId output yet; run `pulumi up` first, or pass --project")
	}
	return p, nil
}

// stackOutputs runs `pulumi stack output --json`.
func (r *Resolver) stackOutputs(ctx context.Context, stack string) (map[string]any, error) {
	bin, err := r.LookPath("pulumi")
	if err != nil {
		return nil, errors.New("the Pulumi CLI is not installed")
	}
	args := []string{"stack", "output", "--json"}
	if stack != "" {
		args = append(args, "--stack", stack)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = r.Getenv(ProjectVar)
	cmd.Env = r.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return nil, fmt.Errorf("pulumi stack output failed: %s", cmp.Or(msg, err.Error()))
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("pulumi stack output: unexpected output: %w", err)
	}
	return out, nil
}

// Help texts shared by the commands.
const (
	SignInHelp = `Which Firebase project: --api-key, then GATEHOUSE_API_KEY, then the Pulumi
stack's firebaseApiKey output ("pulumi stack output --json [--stack NAME]" in
the current directory or $GATEHOUSE_PROJECT_DIR). FIREBASE_AUTH_EMULATOR_HOST
sends the sign-in calls to the Firebase Auth emulator instead of Google.`

	ProfileHelp = `The profile is --profile, else $GATEHOUSE_PROFILE, else --stack, else
"local" when FIREBASE_AUTH_EMULATOR_HOST is set, else "default".`

	CredentialsHelp = `Credentials are kept in the user config dir (gatehouse/credentials.json,
mode 0600), one profile per stack.`

	ResolutionHelp = `Where calls go, in order: flags (--gateway-url, --api-key), then the
environment (GATEHOUSE_GATEWAY_URL, GATEHOUSE_API_KEY), then the Pulumi
stack's outputs (gatewayUrl, firebaseApiKey), read with
"pulumi stack output --json [--stack NAME]" in the current directory or
$GATEHOUSE_PROJECT_DIR. FIREBASE_AUTH_EMULATOR_HOST sends the sign-in calls
to the Firebase Auth emulator instead of Google.`
)
