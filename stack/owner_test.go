package stack

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneOwner: the stack's rules have one owner. A copy of the checkout
// with one rule changed here (backend names of at most 4 characters)
// changes what all three users accept: infra's program, the CI bootstrap
// and the local twin each refuse the notes backend, through their own
// tests of it (which pass on the unchanged checkout).
func TestOneOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three programs in a copy of the checkout")
	}
	dst := t.TempDir()
	cp := exec.Command("bash", "-c", `tar -C "$1" --exclude=./.git --exclude=./.cache --exclude=./bin -c . | tar -C "$2" -x`, "cp", "..", dst)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy: %v\n%s", err, out)
	}
	file := filepath.Join(dst, "stack", "names.go")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const rule = "backendNameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,13}[a-z0-9])?$`)"
	changed := strings.Replace(string(src), rule, "backendNameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,2}[a-z0-9])?$`)", 1)
	if changed == string(src) {
		t.Fatal("could not change the rule: names.go changed shape")
	}
	if err := os.WriteFile(file, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, user := range []struct{ dir, test string }{
		{"infra", "TestTwoBackends"},
		{"infra/bootstrap", "TestBootstrapBackends"},
		{"local/cmd/twin", "TestStackBackends"},
	} {
		cmd := exec.Command("go", "test", "-count=1", "-run", "^"+user.test+"$", ".")
		cmd.Dir = filepath.Join(dst, user.dir)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `"notes"`) {
			t.Errorf("%s still accepts the notes backend under the changed rule (err %v):\n%s", user.dir, err, out)
		}
	}
}
