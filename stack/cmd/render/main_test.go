package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/spec"
)

func TestRun(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"--backend-url", "https://svc-abc-ew.a.run.app", "--firebase-project", "demo-gatehouse",
		"--service-account", "robot@demo-gatehouse.iam.gserviceaccount.com=gatehouse", "--deadline", "20s"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("run = %d, stderr %q", code, errOut.String())
	}
	want, err := spec.Render(spec.Params{BackendURL: "https://svc-abc-ew.a.run.app", FirebaseProjectID: "demo-gatehouse",
		ServiceAccounts: []spec.ServiceAccount{{Email: "robot@demo-gatehouse.iam.gserviceaccount.com", Audience: "gatehouse"}}, Deadline: 20e9})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("stdout differs from spec.Render:\n%s", out.String())
	}
	if got := errOut.String(); got != "config id: "+spec.ConfigID(want, "")+"\n" {
		t.Errorf("stderr = %q, want the config id", got)
	}

	file := filepath.Join(t.TempDir(), "openapi.yaml")
	out.Reset()
	if code := run([]string{"--backend-url", "https://svc-abc-ew.a.run.app", "--firebase-project", "demo-gatehouse", "-o", file}, &out, &errOut); code != 0 {
		t.Fatalf("run -o = %d", code)
	}
	if b, err := os.ReadFile(file); err != nil || !bytes.Contains(b, []byte("x-google-backend")) || out.Len() != 0 {
		t.Errorf("-o wrote %q (%v), stdout %q", b, err, out.String())
	}
}

func TestRunBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--nope"}, "flag provided but not defined"},
		{[]string{"--firebase-project", "demo-gatehouse"}, "--backend-url: is required"},
		// One rule for plain http, whatever the host.
		{[]string{"--backend-url", "http://example.com", "--firebase-project", "demo-gatehouse"}, "--backend-url: \"http://example.com\" must use https (plain http is only for the local twin, to a loopback host)"},
		{[]string{"--backend-url", "http://127.0.0.1:8081", "--firebase-project", "demo-gatehouse"}, "--backend-url: \"http://127.0.0.1:8081\" must use https (plain http is only for the local twin, to a loopback host)"},
		{[]string{"--backend-url", "https://a.run.app", "--firebase-project", "X"}, "--firebase-project: \"X\" is not a valid project id"},
		{[]string{"--backend-url", "https://a.run.app", "--service-account", "nope"}, "want EMAIL=AUDIENCE"},
		{[]string{"--backend-url", "https://a.run.app", "--deadline", "soon"}, "invalid value"},
		{[]string{"--backend-url", "ftp://x", "--firebase-project", "bad"}, "--backend-url: \"ftp://x\" must use https; --firebase-project"},
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

// A trailing slash on the backend URL is dropped: APPEND_PATH_TO_ADDRESS
// would otherwise send //v1/hello.
func TestRunTrailingSlash(t *testing.T) {
	var with, without, errOut bytes.Buffer
	if code := run([]string{"--backend-url", "https://svc-abc-ew.a.run.app/", "--firebase-project", "demo-gatehouse"}, &with, &errOut); code != 0 {
		t.Fatalf("run = %d %s", code, errOut.String())
	}
	if code := run([]string{"--backend-url", "https://svc-abc-ew.a.run.app", "--firebase-project", "demo-gatehouse"}, &without, &errOut); code != 0 {
		t.Fatalf("run = %d %s", code, errOut.String())
	}
	if !bytes.Equal(with.Bytes(), without.Bytes()) || bytes.Contains(with.Bytes(), []byte("a.run.app/")) {
		t.Errorf("a trailing slash changed the document:\n%s", with.String())
	}
}

// The printed id is the deployed one when the gateway's account is given.
func TestRunConfigIDWithGatewayAccount(t *testing.T) {
	const sa = "gatehouse-gateway@demo-gatehouse.iam.gserviceaccount.com"
	var out, errOut bytes.Buffer
	if code := run([]string{"--backend-url", "https://svc-abc-ew.a.run.app", "--firebase-project", "demo-gatehouse", "--gateway-service-account", sa}, &out, &errOut); code != 0 {
		t.Fatalf("run = %d %s", code, errOut.String())
	}
	if got, want := errOut.String(), "config id: "+spec.ConfigID(out.Bytes(), sa)+"\n"; got != want || got == "config id: "+spec.ConfigID(out.Bytes(), "")+"\n" {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}
