package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/local/internal/testenv"
)

func root(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	r, err := testenv.RepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// makeIn runs make with args in dir and returns its output and error.
func makeIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestMakeHelpGroups: `make help` lists every target that has a help text,
// each under one of its topics, in their order; a target without a topic
// would be left out, so none may lack one.
func TestMakeHelpGroups(t *testing.T) {
	r := root(t)
	makefile, err := os.ReadFile(r + "/Makefile")
	if err != nil {
		t.Fatal(err)
	}
	out, err := makeIn(r, "help")
	if err != nil {
		t.Fatalf("make help: %v\n%s", err, out)
	}
	titles := []string{"Run it on this machine:", "Test and check:", "Preview offline, no cloud account:", "Deploy with the Pulumi CLI (STACK=dev by default):", "A local Google Cloud the real pulumi up deploys to, on loopback:"}
	last := -1
	for _, title := range titles {
		i := strings.Index(out, title)
		if i <= last {
			t.Errorf("make help lacks the topic %q, or lists it out of order:\n%s", title, out)
		}
		last = i
	}
	for _, m := range regexp.MustCompile(`(?m)^([a-zA-Z_-]+):.*## (.*)$`).FindAllStringSubmatch(string(makefile), -1) {
		if !strings.HasPrefix(m[2], "@") {
			t.Errorf("target %s has help without a topic (## @GROUP text): make help leaves it out", m[1])
		}
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(m[1]) + ` `).MatchString(out) {
			t.Errorf("make help does not list %s:\n%s", m[1], out)
		}
	}
	if !strings.Contains(out[strings.Index(out, titles[0]):strings.Index(out, titles[1])], "new-backend") {
		t.Errorf("new-backend is not under %q:\n%s", titles[0], out)
	}
}

// TestMakeNewBackendUsage: without NAME and PREFIX, or with bad ones,
// `make new-backend` fails with one line saying what is wrong, writing
// nothing.
func TestMakeNewBackendUsage(t *testing.T) {
	r := root(t)
	dir := t.TempDir()
	if err := testenv.CopyCheckout(r, dir); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"new-backend"}, "usage: make new-backend NAME=greet PREFIX=/v3/"},
		{[]string{"new-backend", "NAME=Bad", "PREFIX=/v3/"}, `new-backend: NAME "Bad" must be`},
		{[]string{"new-backend", "NAME=greet", "PREFIX=v3"}, `new-backend: PREFIX "v3" must be a path prefix`},
	} {
		out, err := makeIn(dir, tt.args...)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("make %v = %v\n%s\nwant a failure saying %q", tt.args, err, out, tt.want)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if strings.HasPrefix(line, "new-backend:") && strings.Count(out, "new-backend:") > 1 {
				t.Errorf("more than one line of error: %q", out)
			}
		}
	}
	if _, err := os.Stat(dir + "/service/greet"); err == nil {
		t.Error("a refused new-backend wrote service/greet")
	}
	// And with good input, into the stack named after the backend.
	out, err := makeIn(dir, "new-backend", "NAME=greet", "PREFIX=/v3/")
	if err != nil || !strings.Contains(out, "added the greet backend (/v3/greet)") || !strings.Contains(out, "make local STACK=greet") {
		t.Fatalf("make new-backend NAME=greet PREFIX=/v3/ = %v\n%s", err, out)
	}
	if _, err := os.Stat(dir + "/Pulumi.greet.yaml"); err != nil {
		t.Errorf("no Pulumi.greet.yaml: %v", err)
	}
}
