package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/spec"
	"github.com/gatehouse/gatehouse/stack"
)

const v2 = "../../../Pulumi.v2.yaml"

var deployed = []string{"--backend-url", "v1=https://gatehouse-abc-ew.a.run.app", "--backend-url", "notes=https://gatehouse-notes-abc-ew.a.run.app"}

// TestRun: with the stack's backends' URLs, the command prints the document
// the gateway component renders for that stack (its Contract), and the
// config id of the deployed stack (with the stack's gateway account).
func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(append([]string{"--stack-file", v2}, deployed...), &out, &errOut); code != 0 {
		t.Fatalf("run = %d, stderr %q", code, errOut.String())
	}
	cfg, err := stack.LoadFile(v2, "../../..")
	if err != nil {
		t.Fatal(err)
	}
	want, err := cfg.Contract().Render(map[string]string{"v1": "https://gatehouse-abc-ew.a.run.app", "notes": "https://gatehouse-notes-abc-ew.a.run.app"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) || !bytes.Contains(want, []byte("/v2/notes:")) {
		t.Errorf("stdout differs from the stack's rendered document:\n%s", out.String())
	}
	if got := errOut.String(); got != "config id: "+spec.ConfigID(want, "gatehouse-gateway@my-gcp-project-id.iam.gserviceaccount.com")+"\n" {
		t.Errorf("stderr = %q, want the deployed config id alone", got)
	}

	file := filepath.Join(t.TempDir(), "openapi.yaml")
	out.Reset()
	if code := run(append([]string{"--stack-file", v2, "-o", file}, deployed...), &out, &errOut); code != 0 {
		t.Fatalf("run -o = %d", code)
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.Equal(b, want) || out.Len() != 0 {
		t.Errorf("-o wrote %q (%v), stdout %q", b, err, out.String())
	}
}

// Without URLs the command renders with placeholders, and says so.
func TestRunPlaceholders(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--stack-file", v2}, &out, &errOut); code != 0 {
		t.Fatalf("run = %d, stderr %q", code, errOut.String())
	}
	for _, want := range []string{"note: backend notes: placeholder URL", "note: backend v1: placeholder URL", "config id: cfg-"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	if !bytes.Contains(out.Bytes(), []byte("https://placeholder-notes.a.run.app")) {
		t.Errorf("no placeholder in the document:\n%s", out.String())
	}
}

func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "flag provided but not defined"},
		{[]string{"--stack-file", v2, "--backend-url", "https://a.run.app"}, "want NAME=URL"},
		{[]string{"--stack-file", v2, "--backend-url", "v3=https://a.run.app"}, `the stack has no backend "v3" (it has v1, notes)`},
		// One rule for plain http, whatever the host.
		{[]string{"--stack-file", v2, "--backend-url", "v1=http://example.com"}, "--backend-url v1: \"http://example.com\" must use https (plain http is only for the local twin, to a loopback host)"},
		{[]string{"--stack-file", v2, "--backend-url", "notes=http://127.0.0.1:8081"}, "--backend-url notes: \"http://127.0.0.1:8081\" must use https"},
		{[]string{"--stack-file", "Pulumi.none.yaml"}, "stack file: open Pulumi.none.yaml"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		code := run(tt.args, &out, &errOut)
		msg := errOut.String()
		if code != 2 || !strings.Contains(msg, tt.want) || strings.Count(msg, "\n") != 1 || out.Len() != 0 {
			t.Errorf("run(%q) = %d, stderr %q, want exit 2 and one line containing %q", tt.args, code, msg, tt.want)
		}
	}
}

// A trailing slash on a backend URL is dropped: APPEND_PATH_TO_ADDRESS
// would otherwise send //v1/hello.
func TestRunTrailingSlash(t *testing.T) {
	var with, without, errOut bytes.Buffer
	if code := run([]string{"--stack-file", v2, "--backend-url", "v1=https://svc-abc-ew.a.run.app/"}, &with, &errOut); code != 0 {
		t.Fatalf("run = %d %s", code, errOut.String())
	}
	if code := run([]string{"--stack-file", v2, "--backend-url", "v1=https://svc-abc-ew.a.run.app"}, &without, &errOut); code != 0 {
		t.Fatalf("run = %d %s", code, errOut.String())
	}
	if !bytes.Equal(with.Bytes(), without.Bytes()) || bytes.Contains(with.Bytes(), []byte("a.run.app/")) {
		t.Errorf("a trailing slash changed the document:\n%s", with.String())
	}
}

// The printed id covers the gateway's account: another account, another id.
func TestRunConfigIDWithGatewayAccount(t *testing.T) {
	const sa = "other-gateway@my-gcp-project-id.iam.gserviceaccount.com"
	var out, errOut bytes.Buffer
	if code := run(append([]string{"--stack-file", v2, "--gateway-service-account", sa}, deployed...), &out, &errOut); code != 0 {
		t.Fatalf("run = %d %s", code, errOut.String())
	}
	if got, want := errOut.String(), "config id: "+spec.ConfigID(out.Bytes(), sa)+"\n"; got != want || got == "config id: "+spec.ConfigID(out.Bytes(), "")+"\n" {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}
