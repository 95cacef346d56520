package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The command serves on loopback, writes the environment (every custom
// endpoint, a token, the region check off), and `cloud token` mints a
// user's token and, by impersonation, a service account's.
func TestServeAndToken(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--port", "0", "--project", "proj-cmd", "--state", filepath.Join(dir, "state"), "--env", envFile}, &bytes.Buffer{}, &stderr)
	}()
	var env string
	for i := 0; i < 200 && env == ""; i++ {
		b, _ := os.ReadFile(envFile)
		env = string(b)
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{"GOOGLE_CLOUD_RUN_V2_CUSTOM_ENDPOINT=http://127.0.0.1:", "GOOGLE_IAM_CUSTOM_ENDPOINT=", "GOOGLE_FIREBASE_CUSTOM_ENDPOINT=",
		"GOOGLE_OAUTH_ACCESS_TOKEN=ya29.local-", "PULUMI_GCP_SKIP_REGION_VALIDATION=true"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %s:\n%s", want, env)
		}
	}
	base := env[strings.Index(env, "http://127.0.0.1:"):]
	base = base[:strings.Index(base[len("http://"):], "/")+len("http://")]
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"token", "--url", base, "--as", "user:someone@example.com"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "ya29.local-") {
		t.Errorf("token: %v %q %q", err, out.String(), errOut.String())
	}
	// Impersonating an account that does not exist fails with Google's answer.
	out.Reset()
	if err := run(ctx, []string{"token", "--url", base, "--impersonate", "nobody@proj-cmd.iam.gserviceaccount.com"}, &out, &errOut); err == nil {
		t.Errorf("impersonating a missing account succeeded: %q", out.String())
	}
	if err := run(ctx, []string{"--port", "0", "stray"}, &out, &errOut); err == nil {
		t.Error("a stray argument was accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
