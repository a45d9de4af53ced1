// Package version says which build of stakeout is running: the module
// version and the commit Go stamped into the binary (runtime/debug's build
// information), so that a CLI's output or a function's log ties back to
// the source it came from. Nothing is injected with -ldflags: `go build`
// and the Makefile's Lambda builds stamp the revision themselves when they
// run in a git clone (-buildvcs=auto, the default). `go run`, `go test`,
// -buildvcs=false, a source tree without .git (a tarball, a copy) and a
// `git worktree` checkout (Go 1.26 looks for a .git directory, and a
// worktree's .git is a file) carry none, and Info says so rather than
// inventing one.
package version

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"
)

// Info is what the binary knows of its own build.
type Info struct {
	// Module is the main module's version: a tag (v1.2.0), a pseudo-version
	// Go derives from the commit (v0.0.0-20261206020000-bc7e3e0abcde,
	// "+dirty" when the tree was modified), or "(devel)" when it knows none.
	Module   string
	Revision string    // the full commit hash; "" when no VCS information was stamped
	Time     time.Time // the commit's time (Go stamps no build time); zero when unknown
	Modified bool      // the working tree had uncommitted changes
	Go       string    // the toolchain that built it
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Module: "(devel)"}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo extracts Info from a binary's build information (that of
// another binary, read with debug/buildinfo, say).
func FromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Module: bi.Main.Version, Go: bi.GoVersion}
	if info.Module == "" {
		info.Module = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "vcs.time":
			info.Time, _ = time.Parse(time.RFC3339, s.Value) // zero if Go ever stamps another format
		}
	}
	return info
}

// Short is the revision's first 12 hex digits (as in pseudo-versions).
func (i Info) Short() string {
	if len(i.Revision) > 12 {
		return i.Revision[:12]
	}
	return i.Revision
}

// String is the one line `stakeout version` prints, e.g.
// "stakeout v1.2.0 rev bc7e3e0abcde (modified) committed 2026-12-06T02:08:46Z go1.26.8".
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stakeout %s", i.Module)
	if i.Revision == "" {
		b.WriteString(" rev unknown (no VCS information stamped: go run, -buildvcs=false, or not built in a git clone)")
	} else {
		fmt.Fprintf(&b, " rev %s", i.Short())
		if i.Modified {
			b.WriteString(" (modified)")
		}
		if !i.Time.IsZero() {
			fmt.Fprintf(&b, " committed %s", i.Time.UTC().Format(time.RFC3339))
		}
	}
	if i.Go != "" {
		fmt.Fprintf(&b, " %s", i.Go)
	}
	return b.String()
}

// LogAttrs are the fields a function's start log line carries: "version"
// and "revision" (full hash, "" when unknown) always, "modified" when the
// tree was.
func (i Info) LogAttrs() []any {
	attrs := []any{slog.String("version", i.Module), slog.String("revision", i.Revision)}
	if i.Modified {
		attrs = append(attrs, slog.Bool("modified", true))
	}
	return attrs
}
