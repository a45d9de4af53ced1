package state

import (
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// The version live at a time is the latest deploy before it, and the
// rollback target the version approved or deployed before that one.
func TestTimelineSaysWhichVersionWasLiveAndWhichCameBefore(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 4, d, 9, 0, 0, 0, time.UTC) }
	tl := &Timeline{Model: "m"}
	tl.Add(signal.VersionChange{Version: "2026.03.1", At: day(1), Change: signal.ChangeRegistry, Approval: signal.Approved})
	tl.Add(signal.VersionChange{Version: "2026.03.1", At: day(2), Change: signal.ChangeDeployed, Environment: "prod"})
	tl.Add(signal.VersionChange{Version: "2026.04.1", At: day(8), Change: signal.ChangeRegistry, Approval: "Rejected"})
	tl.Add(signal.VersionChange{Version: "2026.04.2", At: day(13), Change: signal.ChangeRegistry, Approval: signal.Approved})
	tl.Add(signal.VersionChange{Version: "2026.04.2", At: day(14), Change: signal.ChangeDeployed, Environment: "prod"})
	tl.Add(signal.VersionChange{Version: "2026.04.3", At: day(15), Change: signal.ChangeDeployed, Environment: "staging"})
	for _, tc := range []struct {
		at        time.Time
		env       string
		live, pre string
	}{
		{day(1), "", "", ""},
		{day(10), "prod", "2026.03.1", ""},
		{day(14), "prod", "2026.04.2", "2026.03.1"},
		{day(20), "prod", "2026.04.2", "2026.03.1"},
		// A deploy to staging is not what is live: production's is.
		{day(20), "", "2026.04.2", "2026.03.1"},
		{day(20), "production", "2026.04.2", "2026.03.1"},
		{day(20), "staging", "2026.04.3", "2026.04.2"},
	} {
		live, ok := tl.Live(tc.at, tc.env)
		if live.Version != tc.live || ok != (tc.live != "") {
			t.Errorf("Live(%v, %q) = %q, %v; want %q", tc.at, tc.env, live.Version, ok, tc.live)
			continue
		}
		if ok {
			if pre := tl.PreviousApproved(live); pre != tc.pre {
				t.Errorf("PreviousApproved(%s) = %q, want %q", live.Version, pre, tc.pre)
			}
		}
	}
}

// A version deployed to staging alone is never production's rollback
// target; production deploys under any of its names are one timeline.
func TestRollbackTargetIsProductions(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 4, d, 9, 0, 0, 0, time.UTC) }
	tl := &Timeline{Model: "m"}
	tl.Add(signal.VersionChange{Version: "1", At: day(1), Change: signal.ChangeDeployed, Environment: "production"})
	tl.Add(signal.VersionChange{Version: "2-rc", At: day(5), Change: signal.ChangeDeployed, Environment: "staging"})
	tl.Add(signal.VersionChange{Version: "2", At: day(8), Change: signal.ChangeDeployed, Environment: "prod"})
	live, ok := tl.Live(day(9), "")
	if !ok || live.Version != "2" {
		t.Fatalf("Live = %q, %v; want 2", live.Version, ok)
	}
	if pre := tl.PreviousApproved(live); pre != "1" {
		t.Errorf("PreviousApproved = %q, want 1 (2-rc only went to staging)", pre)
	}
	for _, env := range []string{"prod", "Production", "PRD", "live", ""} {
		if !IsProduction(env) {
			t.Errorf("IsProduction(%q) = false", env)
		}
	}
	if IsProduction("staging") {
		t.Error("IsProduction(staging) = true")
	}
}
