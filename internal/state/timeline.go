package state

import (
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// MaxTimeline bounds a model's version timeline: the newest entries are
// kept (a model deployed daily keeps about two months). With each entry's
// lineage bounded to MaxTimelineLineage and its names to 200 bytes (event
// id 256), its one record stays below DynamoDB's item limit:
// 64 × (4 KiB + about 1.5 KiB) ≈ 350 KiB of 400.
const (
	MaxTimeline        = 64
	MaxTimelineLineage = 4 << 10
	maxTimelineEvent   = 256
)

// Timeline is a model's version timeline: the registry's approvals and
// lifecycle stages and the deploys, oldest first. It is one record,
// written conditionally on its version.
type Timeline struct {
	Model   string                 `json:"model"`
	Entries []signal.VersionChange `json:"entries,omitempty"`
	Version int64                  `json:"version"`
}

// StoredVersion is the record's version; 0 for a nil (absent) record.
func (t *Timeline) StoredVersion() int64 {
	if t == nil {
		return 0
	}
	return t.Version
}

// SetVersion sets the record's version.
func (t *Timeline) SetVersion(v int64) { t.Version = v }

// Add puts c in time order, its lineage and event id bounded; false when
// the timeline holds it already (a redelivery). Beyond MaxTimeline the
// oldest entries are dropped.
func (t *Timeline) Add(c signal.VersionChange) bool {
	if slices.ContainsFunc(t.Entries, func(e signal.VersionChange) bool { return sameChange(e, c) }) {
		return false
	}
	c.Lineage, c.Event = boundLineage(c.Lineage, MaxTimelineLineage), KeyPart(c.Event, maxTimelineEvent)
	i, _ := slices.BinarySearchFunc(t.Entries, c.At, func(e signal.VersionChange, at time.Time) int {
		if e.At.After(at) {
			return 1
		}
		return -1 // after every entry of the same time: arrival order
	})
	t.Entries = slices.Insert(t.Entries, i, c)
	if n := len(t.Entries) - MaxTimeline; n > 0 {
		t.Entries = slices.Delete(t.Entries, 0, n)
	}
	return true
}

func sameChange(a, b signal.VersionChange) bool {
	return a.Version == b.Version && a.At.Equal(b.At) && a.Change == b.Change && a.Approval == b.Approval &&
		a.Stage == b.Stage && a.StageStatus == b.StageStatus && a.Environment == b.Environment
}

// ProductionEnvironments are the names of production environments
// (compared without case): what is live in any of them, or in a deploy
// that names no environment, is the version alerts carry and rollbacks
// return from. A deploy to any other environment (staging, canary, dev)
// is on the timeline, but never the live version of production.
var ProductionEnvironments = []string{"prod", "production", "prd", "live"}

// IsProduction reports whether env names production ("" does: a team
// with one environment names none).
func IsProduction(env string) bool {
	return env == "" || slices.ContainsFunc(ProductionEnvironments, func(p string) bool { return strings.EqualFold(p, env) })
}

// sameEnvironment reports whether deploys to a and b are to one
// environment: both production, or the same other one — compared without
// case, as production's names are ("Staging" is "staging").
func sameEnvironment(a, b string) bool {
	if IsProduction(a) || IsProduction(b) {
		return IsProduction(a) && IsProduction(b)
	}
	return strings.EqualFold(a, b)
}

// Live is the deploy live at `at` in environment env: the latest deploy
// at or before it there. Production ("" or any of ProductionEnvironments)
// is one environment. ok false when the timeline has none.
func (t *Timeline) Live(at time.Time, env string) (signal.VersionChange, bool) {
	for i := len(t.Entries) - 1; i >= 0; i-- {
		e := t.Entries[i]
		if e.Change == signal.ChangeDeployed && !e.At.After(at) && sameEnvironment(e.Environment, env) {
			return e, true
		}
	}
	return signal.VersionChange{}, false
}

// PreviousApproved is the latest version other than live approved in the
// registry, or deployed to live's environment, before live went live: the
// rollback target. A version only deployed elsewhere (staging) is none,
// and so is one the registry no longer approves: its latest status on the
// timeline, whenever it came, is Rejected or PendingManualApproval (a
// version approved, deployed, then revoked is no place to roll back to).
// A version the registry never spoke of (a team that records deploys
// alone) can be. "" when the timeline knows none.
func (t *Timeline) PreviousApproved(live signal.VersionChange) string {
	status := t.approvals()
	for i := len(t.Entries) - 1; i >= 0; i-- {
		e := t.Entries[i]
		if e.Version == live.Version || e.At.After(live.At) {
			continue
		}
		if s, ok := status[e.Version]; ok && s != signal.Approved {
			continue
		}
		if e.Approval == signal.Approved || (e.Change == signal.ChangeDeployed && sameEnvironment(e.Environment, live.Environment)) {
			return e.Version
		}
	}
	return ""
}

// Approval is the registry's latest approval status of version on the
// timeline: "" when the registry never gave it one. A version whose status
// is set and not signal.Approved is no rollback target.
func (t *Timeline) Approval(version string) string {
	for i := len(t.Entries) - 1; i >= 0; i-- {
		if e := t.Entries[i]; e.Version == version && e.Approval != "" {
			return e.Approval
		}
	}
	return ""
}

// approvals are the versions' latest approval status in the registry, of
// the versions it gave one.
func (t *Timeline) approvals() map[string]string {
	status := map[string]string{}
	for _, e := range t.Entries {
		if e.Approval != "" {
			status[e.Version] = e.Approval
		}
	}
	return status
}

// Environments are the environments the timeline's deploys went to, in
// the order of their first deploy, each under the name of its first
// (production's "" when it named none).
func (t *Timeline) Environments() []string {
	var envs []string
	for _, e := range t.Entries {
		if e.Change == signal.ChangeDeployed && !slices.ContainsFunc(envs, func(x string) bool { return sameEnvironment(x, e.Environment) }) {
			envs = append(envs, e.Environment)
		}
	}
	return envs
}

// Release is what a model's timeline says of the version an alert is
// about: since when it was live where, what it was trained through, and the
// version approved before it (the rollback target).
type Release struct {
	LiveSince      time.Time `json:"live_since"`
	Environment    string    `json:"environment,omitempty"`
	TrainedThrough string    `json:"trained_through,omitempty"`
	Previous       string    `json:"previous,omitempty"`
}

// ReleaseOf is the release of live on t.
func (t *Timeline) ReleaseOf(live signal.VersionChange) *Release {
	return &Release{LiveSince: live.At, Environment: live.Environment, TrainedThrough: live.TrainedThrough(), Previous: t.PreviousApproved(live)}
}
