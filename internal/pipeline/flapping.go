package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// An alert that keeps opening and resolving — a metric oscillating around
// its threshold — would tell its owner of every cycle. Once it has opened
// its rule's flapping.opens times within flapping.within it is flapping:
// it rejoins the group it last told of (that message is updated in place,
// not a new one sent), and it stays open, its resolution held, until no
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
// open again, with the reason `note`.
//
// Its lifecycle goes on where it stopped, not afresh: the update that
// tells of the reopening pages nobody, so restarting the escalation would
// clear an acknowledgement and page the next owner ack_within later
// without the current one having been paged again. Acknowledged, it stays
// with whoever acknowledged it (reack_after still asks them again);
// unacknowledged, it escalates when it was due to — on the clock of the
// opening that paged its owner, at once if that passed while it was
// resolved — and the escalation pages. A raise is kept (its level and
// channels), counted from the group's size now, so that the next join
// does not raise and page a second time.
// It reports false when there is no such group (the caller joins a new one).
func (j *Journal) Rejoin(ctx context.Context, a *state.Alert, note string) (bool, error) {
	g, err := j.Group(ctx, a.Rule)
	if err != nil || g == nil || g.ID != a.Group || !g.Over() || g.Closed() {
		return false, err
	}
	g.Open = 1
	g.GrowBase = g.Size()
	g.By, g.ByName, g.Note = "router", "", note
	j.touch(g)
	j.Notice(g, a, state.NoticeUpdated)
	return true, nil
}
