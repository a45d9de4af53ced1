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
		{day(20), "", "2026.04.3", "2026.04.2"},
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
