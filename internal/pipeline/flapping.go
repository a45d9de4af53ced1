package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// An alert that keeps opening and resolving — a metric oscillating around
// its threshold — would tell its owner of every cycle. Once it has opened
// its rule's flapping.opens times within flapping.within it is flapping:
// it rejoins the group it last told of (that message is updated in place,
// not a new one sent; its owner is paged again), and it stays open, its resolution held, until no
// reading has breached for flapping.quiet_for.

// opening counts an opening of a at d.at in its rule's flapping window,
// and reports whether a starts flapping with it (recorded on its trail).
func (d *decision) opening(a *state.Alert, f config.Flapping) bool {
	if !f.On() {
		return false
	}
	a.Openings = countOpening(a.Openings, d.at, f.Within)
	if a.Flapping || len(a.Openings) < f.Opens {
		return false
	}
	a.Flapping, a.FlappingSince = true, d.at
	d.j.Record(a, audit.FlappingStarted, fmt.Sprintf("flapping: %s; it stays open until no reading breaches for %s",
		f.Describe(len(a.Openings)), duration.Format(f.QuietFor)))
	return true
}

// countOpening adds an opening at `at` to openings, keeping those within
// `within` of it (at most state.MaxOpenings).
func countOpening(openings []time.Time, at time.Time, within time.Duration) []time.Time {
	kept := openings[:0]
	for _, t := range openings {
		if at.Sub(t) < within {
			kept = append(kept, t)
		}
	}
	kept = append(kept, at)
	if n := len(kept); n > state.MaxOpenings {
		kept = kept[n-state.MaxOpenings:]
	}
	return kept
}

// join puts an opening alert in a group: a flapping one back in the group
// it last told of, if that one ended by its resolution, so that the
// group's message is updated rather than a new one sent.
func (d *decision) join(a *state.Alert, flapping bool, f config.Flapping) error {
	if flapping {
		note := "flapping: " + f.Describe(len(a.Openings)) + "; it stays open until no reading breaches for " + duration.Format(f.QuietFor)
		if ok, err := d.j.Rejoin(d.ctx, a, note); ok || err != nil {
			return err
		}
	}
	return d.j.Join(d.ctx, a)
}

// held reports whether a clean series' flapping alert keeps open: it
// breached less than its rule's flapping.quiet_for ago. The first held
// reading says so on the alert's trail.
func (d *decision) held(a *state.Alert, ref *state.AlertRef, f config.Flapping) bool {
	if !a.Flapping || a.Status != state.Open {
		return false
	}
	if quiet := d.at.Sub(a.UpdatedAt); quiet < f.QuietFor {
		if !ref.Holding {
			ref.Holding = true
			d.j.Record(a, audit.Updated, fmt.Sprintf("clean, but flapping: resolution held until no reading breaches for %s (last breach %s ago)",
				duration.Format(f.QuietFor), duration.Format(quiet)))
		}
		return true
	}
	a.Flapping, a.FlappingSince, a.Openings = false, time.Time{}, nil
	d.j.Record(a, audit.FlappingEnded, fmt.Sprintf("no reading breached for %s: flapping over", duration.Format(d.at.Sub(a.UpdatedAt))))
	return false
}

// Rejoin reopens, in place, the group alert a last belonged to, when that
// group is its rule's current one and ended because its alerts resolved
// (not closed by a person): the group's message is updated to say it is
// open again, with the reason `note`, and its owner is paged again.
//
// A problem back is a problem to answer: its incident was resolved with
// the group, so the reopening pages whoever has the group now (a new
// incident, state.Notification.Reopened) as an opening would, held like
// one outside their working hours. Its lifecycle therefore starts a new
// cycle with that owner (lifecycle.Reopen): unacknowledged — an
// acknowledgement of the problem that went away does not cover its
// return — and escalating ack_within after the page, not on the clock of
// the first opening (which may have run out while it was resolved, and
// would escalate past someone paged a moment ago). Its owner and
// escalation step stay: the chain goes on from whoever had it. A raise
// is kept (its level and channels), counted from the group's size now,
// so that the next join does not raise and page a second time.
// It reports false when there is no such group (the caller joins a new one).
func (j *Journal) Rejoin(ctx context.Context, a *state.Alert, note string) (bool, error) {
	g, err := j.Group(ctx, a.Rule)
	if err != nil || g == nil || g.ID != a.Group || !g.Over() || g.Closed() {
		return false, err
	}
	g.Open = 1
	g.GrowBase = g.Size()
	lifecycle.Reopen(g, a, j.Now)
	g.By, g.ByName, g.Note = "router", "", note
	j.touch(g)
	if j.reopen == nil {
		j.reopen = map[string]bool{}
	}
	j.reopen[g.ID] = true
	j.Notice(g, a, state.NoticeUpdated)
	return true, nil
}
