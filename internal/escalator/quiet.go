package escalator

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/quiet"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// quiet ends a window made from Slack (schedule "quiet/<model>/<id>") at
// its end, or at once when a person ended it early: every alert it
// silenced that is still unresolved opens and its owner is told, as at
// the end of a configured window; then the window leaves the store, its
// natural end audited. The alerts it silenced are found on the model's
// audit trail (their silenced records name it), so the router writes
// nothing more for a stored window than for a configured one. A failure
// leaves the schedule due: the next run tries again, and an alert already
// opened is not told twice.
func (e *Escalator) quiet(ctx context.Context, name string, rep *Report) error {
	sc, err := e.Store.GetSchedule(ctx, name)
	if err != nil || sc == nil {
		return err
	}
	now := e.now()
	if sc.Next.IsZero() || sc.Next.After(now) {
		return nil
	}
	model, _, _ := strings.Cut(strings.TrimPrefix(name, state.QuietPrefix), "/")
	qs, err := e.Store.GetQuiets(ctx, model)
	if err != nil {
		return fmt.Errorf("read the quiet windows of %s: %w", model, err)
	}
	w := qs.Find(name)
	if w != nil && w.Until.After(now) {
		sc.Next = w.Until // not over: wait for its end
		return e.Store.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{sc}})
	}
	if w != nil {
		// Events may be stamped up to the router's future skew ahead.
		recs, err := e.Store.ModelRecords(ctx, model, w.From, now.Add(pipeline.MaxFutureSkew))
		if err != nil {
			return fmt.Errorf("quiet window %s: read the audit of %s: %w", name, model, err)
		}
		done := map[string]bool{}
		for _, r := range recs {
			if r.Action != audit.Silenced || r.SilencedBy != name || done[r.Alert] {
				continue
			}
			done[r.Alert] = true
			if err := e.window(ctx, state.WindowSchedule(r.Alert), rep, true); err != nil {
				return fmt.Errorf("quiet window %s: %w", name, err)
			}
		}
	}
	ended, err := quiet.Expire(ctx, e.Store, e.Config, model, name, now)
	if err != nil {
		return fmt.Errorf("quiet window %s: %w", name, err)
	}
	if ended == nil && w == nil {
		// Gone already (an earlier run removed it): nothing more is due.
		sc.Last, sc.Next = sc.Next, time.Time{}
		return e.Store.Commit(ctx, &state.Commit{Schedules: []*state.Schedule{sc}})
	}
	rep.QuietsEnded++
	return nil
}
