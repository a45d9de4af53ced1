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

// The rollback target is a version the registry approves now: one
// approved and then rejected (or sent back to pending) is skipped, even
// when it had been deployed, for the version approved before it.
func TestRollbackTargetSkipsAVersionNoLongerApproved(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 4, d, 9, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name    string
		changes []signal.VersionChange
		want    string
	}{
		{"approved, then rejected", []signal.VersionChange{
			{Version: "8", At: day(3), Change: signal.ChangeRegistry, Approval: signal.Approved},
			{Version: "8", At: day(4), Change: signal.ChangeRegistry, Approval: "Rejected"},
		}, "7"},
		{"approved, then pending again", []signal.VersionChange{
			{Version: "8", At: day(3), Change: signal.ChangeRegistry, Approval: signal.Approved},
			{Version: "8", At: day(4), Change: signal.ChangeRegistry, Approval: "PendingManualApproval"},
		}, "7"},
		{"deployed, then rejected", []signal.VersionChange{
			{Version: "8", At: day(3), Change: signal.ChangeRegistry, Approval: signal.Approved},
			{Version: "8", At: day(4), Change: signal.ChangeDeployed, Environment: "prod"},
			{Version: "8", At: day(5), Change: signal.ChangeRegistry, Approval: "Rejected"},
		}, "7"},
		{"rejected after 9 went live", []signal.VersionChange{
			{Version: "8", At: day(3), Change: signal.ChangeRegistry, Approval: signal.Approved},
			{Version: "8", At: day(12), Change: signal.ChangeRegistry, Approval: "Rejected"},
		}, "7"},
		{"rejected, then approved again", []signal.VersionChange{
			{Version: "8", At: day(3), Change: signal.ChangeRegistry, Approval: "Rejected"},
			{Version: "8", At: day(4), Change: signal.ChangeRegistry, Approval: signal.Approved},
		}, "8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := &Timeline{Model: "m"}
			tl.Add(signal.VersionChange{Version: "7", At: day(1), Change: signal.ChangeRegistry, Approval: signal.Approved})
			tl.Add(signal.VersionChange{Version: "7", At: day(2), Change: signal.ChangeDeployed, Environment: "prod"})
			for _, c := range tc.changes {
				tl.Add(c)
			}
			tl.Add(signal.VersionChange{Version: "9", At: day(10), Change: signal.ChangeDeployed, Environment: "prod"})
			live, ok := tl.Live(day(11), "prod")
			if !ok || live.Version != "9" {
				t.Fatalf("Live = %q, %v; want 9", live.Version, ok)
			}
			if pre := tl.PreviousApproved(live); pre != tc.want {
				t.Errorf("PreviousApproved = %q, want %q", pre, tc.want)
			}
		})
	}
}

// Environment names are compared without case, production's and the
// others alike: a deploy to "Staging" is live in "staging".
func TestEnvironmentsAreComparedWithoutCase(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 4, d, 9, 0, 0, 0, time.UTC) }
	tl := &Timeline{Model: "m"}
	tl.Add(signal.VersionChange{Version: "1", At: day(1), Change: signal.ChangeDeployed, Environment: "PROD"})
	tl.Add(signal.VersionChange{Version: "2-rc", At: day(2), Change: signal.ChangeDeployed, Environment: "Staging"})
	tl.Add(signal.VersionChange{Version: "3-rc", At: day(3), Change: signal.ChangeDeployed, Environment: "staging"})
	if live, ok := tl.Live(day(2), "staging"); !ok || live.Version != "2-rc" {
		t.Errorf("Live(day 2, staging) = %q, %v; want 2-rc, deployed to Staging", live.Version, ok)
	}
	if live, ok := tl.Live(day(4), "STAGING"); !ok || live.Version != "3-rc" {
		t.Errorf("Live(day 4, STAGING) = %q, %v; want 3-rc", live.Version, ok)
	} else if pre := tl.PreviousApproved(live); pre != "2-rc" {
		t.Errorf("PreviousApproved(3-rc) = %q, want 2-rc, deployed to the same environment", pre)
	}
	if envs := tl.Environments(); len(envs) != 2 || envs[0] != "PROD" || envs[1] != "Staging" {
		t.Errorf("Environments = %q, want [PROD Staging]", envs)
	}
}

// Approval is the registry's latest word on a version, whenever it came;
// "" for a version the registry never spoke of (deploys alone).
func TestApprovalIsTheRegistrysLatestStatus(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tl := &Timeline{Model: "m"}
	for i, c := range []signal.VersionChange{
		{Version: "7", Change: signal.ChangeRegistry, Approval: signal.Approved},
		{Version: "8", Change: signal.ChangeRegistry, Approval: signal.Approved},
		{Version: "8", Change: signal.ChangeDeployed, Environment: "prod"},
		{Version: "9", Change: signal.ChangeDeployed, Environment: "prod"},
		{Version: "8", Change: signal.ChangeRegistry, Approval: "Rejected"},
		{Version: "7", Change: signal.ChangeRegistry, Stage: "Production"},
	} {
		c.Model, c.At = "m", at.Add(time.Duration(i)*time.Hour)
		tl.Add(c)
	}
	for v, want := range map[string]string{"7": signal.Approved, "8": "Rejected", "9": "", "10": ""} {
		if got := tl.Approval(v); got != want {
			t.Errorf("Approval(%s) = %q, want %q", v, got, want)
		}
	}
}
