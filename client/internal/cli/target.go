package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"

	"github.com/spf13/pflag"
)

// target is where a command sends its calls.
type target struct {
	gatewayURL, apiKey, stack, profile string
}

// profileFlags choose the credentials profile; every command has them.
type profileFlags struct{ stack, profile string }

func (p *profileFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&p.stack, "stack", "", "Pulumi stack (names the profile; networked commands read its outputs)")
	fs.StringVar(&p.profile, "profile", "", "credentials profile (else $GATEHOUSE_PROFILE, else the stack name, else \"local\" with FIREBASE_AUTH_EMULATOR_HOST set, else \"default\")")
}

// targetFlags are the flags of the commands that contact Firebase or the
// gateway: where to send calls, and the profile.
type targetFlags struct {
	gatewayURL, apiKey string
	profileFlags
}

func addTargetFlags(fs *pflag.FlagSet, gateway bool) *targetFlags {
	t := &targetFlags{}
	if gateway {
		fs.StringVar(&t.gatewayURL, "gateway-url", "", "gateway base URL (else $GATEHOUSE_GATEWAY_URL, else the stack's gatewayUrl output)")
	}
	fs.StringVar(&t.apiKey, "api-key", "", "Firebase web API key (else $GATEHOUSE_API_KEY, else the stack's firebaseApiKey output)")
	t.profileFlags.add(fs)
	return t
}

// profile is the credentials profile the flags and environment select.
// Sessions against the Auth emulator get their own ("local"), so the local
// twin never shares a profile with a cloud stack.
func (a *app) profile(p profileFlags) string {
	fallback := "default"
	if a.Getenv("FIREBASE_AUTH_EMULATOR_HOST") != "" {
		fallback = "local"
	}
	return firstNonEmpty(p.profile, a.Getenv("GATEHOUSE_PROFILE"), p.stack, fallback)
}

const signInHelp = `Which Firebase project: --api-key, then GATEHOUSE_API_KEY, then the Pulumi
stack's firebaseApiKey output ("pulumi stack output --json [--stack NAME]" in
the current directory or $GATEHOUSE_PROJECT_DIR). FIREBASE_AUTH_EMULATOR_HOST
sends the sign-in calls to the Firebase Auth emulator instead of Google.`

const profileHelp = `The profile is --profile, else $GATEHOUSE_PROFILE, else --stack, else
"local" when FIREBASE_AUTH_EMULATOR_HOST is set, else "default".`

const credentialsHelp = `Credentials are kept in the user config dir (gatehouse/credentials.json,
mode 0600), one profile per stack.`

const resolutionHelp = `Where calls go, in order: flags (--gateway-url, --api-key), then the
environment (GATEHOUSE_GATEWAY_URL, GATEHOUSE_API_KEY), then the Pulumi
stack's outputs (gatewayUrl, firebaseApiKey), read with
"pulumi stack output --json [--stack NAME]" in the current directory or
$GATEHOUSE_PROJECT_DIR. FIREBASE_AUTH_EMULATOR_HOST sends the sign-in calls
to the Firebase Auth emulator instead of Google.`

// resolve fills in the target; need says which values the command must have.
func (a *app) resolve(ctx context.Context, f *targetFlags, needGateway, needAPIKey bool) (target, error) {
	t := target{
		gatewayURL: firstNonEmpty(f.gatewayURL, a.Getenv("GATEHOUSE_GATEWAY_URL")),
		apiKey:     firstNonEmpty(f.apiKey, a.Getenv("GATEHOUSE_API_KEY")),
		stack:      f.stack,
		profile:    a.profile(f.profileFlags),
	}
	if t.apiKey == "" && a.Getenv("FIREBASE_AUTH_EMULATOR_HOST") != "" {
		t.apiKey = "emulator-api-key" // the emulator accepts any key
	}
	if (needGateway && t.gatewayURL == "") || (needAPIKey && t.apiKey == "") {
		out, err := a.stackOutputs(ctx, t.stack)
		if err != nil {
			missing := "gateway URL"
			hint := "pass --gateway-url or set GATEHOUSE_GATEWAY_URL"
			if !(needGateway && t.gatewayURL == "") {
				missing, hint = "Firebase API key", "pass --api-key or set GATEHOUSE_API_KEY"
			}
			return t, fmt.Errorf("no %s: %s, or run from the gatehouse checkout after `pulumi up` (%v); for the local twin (make local), export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 and GATEHOUSE_GATEWAY_URL=http://127.0.0.1:8080 as it prints", missing, hint, err)
		}
		if t.gatewayURL == "" {
			t.gatewayURL, _ = out["gatewayUrl"].(string)
		}
		if t.apiKey == "" {
			t.apiKey, _ = out["firebaseApiKey"].(string)
		}
		if needGateway && t.gatewayURL == "" {
			return t, errors.New("no gateway URL: the stack has no gatewayUrl output yet; run `pulumi up` first")
		}
		if needAPIKey && t.apiKey == "" {
			return t, errors.New("no Firebase API key: the stack has no firebaseApiKey output; set GATEHOUSE_API_KEY (for the local twin: export FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 as make local prints)")
		}
	}
	t.gatewayURL = strings.TrimSuffix(t.gatewayURL, "/")
	if t.gatewayURL != "" {
		if err := checkGatewayURL(t.gatewayURL); err != nil {
			return t, err
		}
	}
	return t, nil
}

// stackOutputs runs `pulumi stack output --json`.
func (a *app) stackOutputs(ctx context.Context, stack string) (map[string]any, error) {
	bin, err := a.LookPath("pulumi")
	if err != nil {
		return nil, errors.New("the Pulumi CLI is not installed")
	}
	args := []string{"stack", "output", "--json"}
	if stack != "" {
		args = append(args, "--stack", stack)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = a.Getenv("GATEHOUSE_PROJECT_DIR")
	cmd.Env = a.Environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("pulumi stack output failed: %s", firstNonEmpty(msg, err.Error()))
	}
	var out map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("pulumi stack output: unexpected output: %w", err)
	}
	return out, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// checkGatewayURL requires https, except for a gateway on this machine (the
// local twin): an ID token never crosses a network in clear.
func checkGatewayURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return usagef("gateway URL %q is not an absolute URL", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return usagef("gateway URL %q must use https (plain http only on this machine, for the local twin)", raw)
}
