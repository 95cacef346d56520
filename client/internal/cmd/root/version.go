package root

import (
	"runtime/debug"
)

// version is set at build time for a release
// (-ldflags "-X github.com/gatehouse/gatehouse/client/internal/cmd/root.version=v1.2.3").
var version = ""

// Version is the release version, else what the build info records: the
// module version `go install module@version` stamps, else the VCS revision
// `go build` stamps in a git checkout (-buildvcs, on by default).
func Version() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build info)"
	}
	return fromBuildInfo(info)
}

func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel (no VCS revision recorded: build it in a git clone, not a worktree, with -buildvcs=true, as `make build` does)"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if at != "" {
		return rev + dirty + " (" + at + ")"
	}
	return rev + dirty
}
