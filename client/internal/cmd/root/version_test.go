package root

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	rev := "81c0a1b85ffea52e1005673e05d109daf40658a5"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2026-11-27T13:45:17Z"}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		main     string
		settings []debug.BuildSetting
		want     string
	}{
		{"v1.2.3", vcs("false"), "v1.2.3"}, // go install module@v1.2.3
		{"(devel)", vcs("false"), "81c0a1b85ffe (2026-11-27T13:45:17Z)"},
		{"(devel)", vcs("true"), "81c0a1b85ffe-dirty (2026-11-27T13:45:17Z)"},
		{"", []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}, "abc"},
		{"(devel)", nil, "devel (no VCS revision recorded: build it in a git clone, not a worktree, with -buildvcs=true, as `make build` does)"},
	}
	for _, tt := range tests {
		got := fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: tt.main}, Settings: tt.settings})
		if got != tt.want {
			t.Errorf("fromBuildInfo(%q, %v) = %q, want %q", tt.main, tt.settings, got, tt.want)
		}
	}
}

// The binary built in a git checkout prints the checkout's revision, from
// the build info Go stamps (-buildvcs); without the stamp it says so. The
// module is copied into a fresh repository, as a user's clone is (Go does
// not read a git worktree's .git file), in client/ as in gatehouse's.
func TestVersionStampedFromGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed")
		}
		t.Skip("git is not installed")
	}
	moduleRoot, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	if err := os.CopyFS(filepath.Join(repo, "client"), os.DirFS(moduleRoot)); err != nil {
		t.Fatal(err)
	}
	run := func(dir string, env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git := []string{"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null"}
	run(repo, git, "git", "init", "-q")
	run(repo, git, "git", "add", "-A")
	run(repo, git, "git", "commit", "-q", "-m", "snapshot")
	head := run(repo, git, "git", "rev-parse", "HEAD")
	for _, tt := range []struct {
		buildvcs, want string
	}{
		{"-buildvcs=true", "gatehouse " + head[:12] + " ("},
		{"-buildvcs=false", "gatehouse devel (no VCS revision recorded"}, // the negative: no stamp, no revision
	} {
		bin := filepath.Join(t.TempDir(), "gatehouse")
		run(filepath.Join(repo, "client"), []string{"GOWORK=off", "GOFLAGS=-mod=readonly"}, "go", "build", tt.buildvcs, "-o", bin, "./cmd/gatehouse")
		if got := run(repo, nil, bin, "--version"); !strings.HasPrefix(got, tt.want) || strings.Count(got, "\n") != 0 {
			t.Errorf("built with %s: --version = %q, want it to start with %q", tt.buildvcs, got, tt.want)
		}
	}
}
