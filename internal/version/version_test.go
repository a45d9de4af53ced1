package version

import (
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func stamped(settings ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/stakeout-ml/stakeout", Version: "v0.0.0-20261206020000-bc7e3e0abcde+dirty"}}
	for i := 0; i+1 < len(settings); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
	}
	return bi
}

func TestStampedBuildNamesItsCommit(t *testing.T) {
	info := FromBuildInfo(stamped("vcs", "git", "vcs.revision", "bc7e3e0abcdef0123456789abcdef0123456789a",
		"vcs.time", "2026-12-06T02:00:00Z", "vcs.modified", "true"))
	want := Info{Module: "v0.0.0-20261206020000-bc7e3e0abcde+dirty", Revision: "bc7e3e0abcdef0123456789abcdef0123456789a",
		Time: time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC), Modified: true, Go: "go1.26.8"}
	if info != want {
		t.Fatalf("FromBuildInfo = %+v, want %+v", info, want)
	}
	const line = "stakeout v0.0.0-20261206020000-bc7e3e0abcde+dirty rev bc7e3e0abcde (modified) committed 2026-12-06T02:00:00Z go1.26.8"
	if got := info.String(); got != line {
		t.Errorf("String() = %q, want %q", got, line)
	}
}

func TestCleanTreeIsNotCalledModified(t *testing.T) {
	info := FromBuildInfo(stamped("vcs.revision", "bc7e3e0abcdef0123456789abcdef0123456789a", "vcs.modified", "false"))
	if info.Modified || strings.Contains(info.String(), "modified") {
		t.Errorf("a clean tree's build reads %q (%+v), want no \"modified\"", info.String(), info)
	}
	if got := len(info.LogAttrs()); got != 2 {
		t.Errorf("LogAttrs of a clean build has %d fields, want version and revision only", got)
	}
}

// A binary without VCS information says so instead of showing an empty or
// made-up revision.
func TestUnstampedBuildSaysTheRevisionIsUnknown(t *testing.T) {
	bi := stamped()
	bi.Main.Version = "(devel)"
	info := FromBuildInfo(bi)
	if info.Revision != "" || info.Modified || !info.Time.IsZero() {
		t.Fatalf("FromBuildInfo of an unstamped build = %+v, want no revision", info)
	}
	if got := info.String(); !strings.HasPrefix(got, "stakeout (devel) rev unknown (") {
		t.Errorf("String() = %q, want it to say the revision is unknown and why", got)
	}
	bi.Main.Version = ""
	if got := FromBuildInfo(bi).Module; got != "(devel)" {
		t.Errorf("Module of a build with no main version = %q, want (devel)", got)
	}
}
