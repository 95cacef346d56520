package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os/exec"
	"strings"
)

// target is where a command sends its calls.
type target struct {
	gatewayURL, apiKey, stack, profile string
}

// targetFlags are the flags every networked command shares.
type targetFlags struct {
	gatewayURL, apiKey, stack, profile *string
}

func addTargetFlags(fs *flag.FlagSet) targetFlags {
	return targetFlags{
		gatewayURL: fs.String("gateway-url", "", "gateway base URL (else $GATEHOUSE_GATEWAY_URL, else the stack's gatewayUrl output)"),
		apiKey:     fs.String("api-key", "", "Firebase web API key (else $GATEHOUSE_API_KEY, else the stack's firebaseApiKey output)"),
		stack:      fs.String("stack", "", "Pulumi stack to read outputs from (default: the selected stack)"),
		profile:    fs.String("profile", "", "credentials profile (else $GATEHOUSE_PROFILE, else the stack name, else \"default\")"),
	}
}

const resolutionHelp = `Where calls go, in order: flags (--gateway-url, --api-key), then the
environment (GATEHOUSE_GATEWAY_URL, GATEHOUSE_API_KEY), then the Pulumi
stack's outputs (gatewayUrl, firebaseApiKey), read with
"pulumi stack output --json [--stack NAME]" in the current directory or
$GATEHOUSE_PROJECT_DIR. FIREBASE_AUTH_EMULATOR_HOST sends the sign-in calls
to the Firebase Auth emulator instead of Google.`

// resolve fills in the target; need says which values the command must have.
func (a *app) resolve(ctx context.Context, f targetFlags, needGateway, needAPIKey bool) (target, error) {
	t := target{
		gatewayURL: firstNonEmpty(*f.gatewayURL, a.Getenv("GATEHOUSE_GATEWAY_URL")),
		apiKey:     firstNonEmpty(*f.apiKey, a.Getenv("GATEHOUSE_API_KEY")),
		stack:      *f.stack,
	}
	t.profile = firstNonEmpty(*f.profile, a.Getenv("GATEHOUSE_PROFILE"), t.stack, "default")
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
			return t, fmt.Errorf("no %s: %s, or run from the gatehouse checkout after `pulumi up` (%v)", missing, hint, err)
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
			return t, errors.New("no Firebase API key: the stack has no firebaseApiKey output; set GATEHOUSE_API_KEY")
		}
	}
	t.gatewayURL = strings.TrimSuffix(t.gatewayURL, "/")
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
