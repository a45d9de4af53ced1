package escalator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// window ends an alert's silence (state.WindowPrefix): at the end of the
// maintenance window or alarm mute that silenced it, an alert still
// unresolved opens — it joins its group and its owner is told once, as if
// it had just opened — and its escalation starts then. An alert a mute
// caught in its group (state.Alert.MutedInGroup) has its latest state told
// once instead: its group's resolution, or an update. One write with the
// schedule, so two runs end it once. An alert its window still covers (a
// long recurring window past the end first computed, or a window moved
// later by a newer configuration) waits for the new end. A window made
// from Slack ends when its stored record says (a person may end it
// early); early ends its silence now, before the schedule's time.
func (e *Escalator) window(ctx context.Context, name string, rep *Report, early bool) error {
	var c *state.Commit
	var closed []string // see pipeline.Journal.Closed
	err := state.OnConflict(ctx, tries, func(int) error {
		c = nil
		sc, err := e.Store.GetSchedule(ctx, name)
		if err != nil || sc == nil {
			return err
		}
		now := e.now()
		if sc.Next.IsZero() || (sc.Next.After(now) && !early) {
			return nil
		}
		id := strings.TrimPrefix(name, state.WindowPrefix)
		a, err := e.Store.GetAlert(ctx, id)
		if err != nil {
			return fmt.Errorf("read alert %s: %w", id, err)
		}
		until, err := e.silencedUntil(ctx, a)
		if err != nil {
			return err
		}
		// The router's settings: the alert joins as if it had just opened.
		j := pipeline.Journal{At: now, Now: now, Groups: e.Store, Audit: e.windowAudit(now),
			Config: e.Config, Windows: e.Windows, Closed: closed}
		if a != nil {
			j.Model = a.Model
		}
		sc.Last, sc.Next = sc.Next, time.Time{}
		switch {
		case a == nil || a.SilencedBy == "" || a.Status != state.Suppressed && !a.MutedInGroup():
			// Resolved in its window, or opened by a breach after it.
		case until.After(now):
			sc.Next = until
		case a.MutedInGroup():
			ended := state.MuteEnded + ": " + pipeline.MutedDetail(a)
			j.Record(a, audit.WindowEnded, ended)
			a.SilencedBy, a.SilencedUntil = "", time.Time{}
			if err := j.TellMuted(ctx, a, ended); err != nil {
				return err
			}
		case e.stillSilenced(a, now, sc):
			j.Record(a, audit.Silenced, fmt.Sprintf("maintenance window %s still covers it, until %s", a.SilencedBy, a.SilencedUntil.UTC().Format(time.RFC3339)))
		default:
			a.Status, a.UpdatedAt = state.Open, now
			if !until.IsZero() && until.Before(a.SilencedUntil) {
				a.SilencedUntil = until // a window made from Slack, ended early
			}
			j.Record(a, audit.WindowEnded, pipeline.WindowEndedDetail(a))
			a.SilencedBy, a.SilencedUntil = "", time.Time{}
			if err := j.Join(ctx, a); err != nil {
				return err
			}
		}
		c = j.Commit()
		c.Schedules = []*state.Schedule{sc}
		err = e.Store.Commit(ctx, c)
		if wc := (*state.WindowClosed)(nil); errors.As(err, &wc) {
			closed = append(closed, wc.ID)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("schedule %s: %w", name, err)
	}
	if c == nil || len(c.Outbox)+len(c.Joins) == 0 {
		return nil
	}
	rep.WindowsEnded++
	for _, n := range c.Outbox {
		rep.Queued = append(rep.Queued, n.ID)
	}
	for _, jn := range c.Joins {
		rep.Queued = append(rep.Queued, jn.Update.ID)
	}
	return nil
}

// silencedUntil is when a's silence ends: SilencedUntil, or for a window
// made from Slack its stored end (zero once it is gone: ended).
func (e *Escalator) silencedUntil(ctx context.Context, a *state.Alert) (time.Time, error) {
	if a == nil || !state.IsQuiet(a.SilencedBy) {
		if a == nil {
			return time.Time{}, nil
		}
		return a.SilencedUntil, nil
	}
	qs, err := e.Store.GetQuiets(ctx, a.Model)
	if err != nil {
		return time.Time{}, fmt.Errorf("read the quiet windows of %s: %w", a.Model, err)
	}
	if w := qs.Find(a.SilencedBy); w != nil {
		return w.Until, nil
	}
	return time.Time{}, nil
}

// stillSilenced reports whether the model's window that silenced a still
// covers it at now, and if so moves its end (and the schedule's) on.
func (e *Escalator) stillSilenced(a *state.Alert, now time.Time, sc *state.Schedule) bool {
	m := e.Config.Models[a.Model]
	if m == nil {
		return false
	}
	i := slices.IndexFunc(m.Rules, func(r *config.Rule) bool { return r.Name == a.Rule })
	if i < 0 {
		return false
	}
	w, until := m.Silenced(m.Rules[i], now)
	if w == nil || w.Name != a.SilencedBy {
		return false
	}
	a.SilencedUntil, a.UpdatedAt, sc.Next = until, now, until
	return true
}

// windowOf is the model's maintenance window that silences group g's
// rule at now, with its end (nil: none).
func (e *Escalator) windowOf(g *state.Group, now time.Time) (*config.Maintenance, time.Time) {
	m := e.Config.Models[g.Model]
	if m == nil {
		return nil, time.Time{}
	}
	i := slices.IndexFunc(m.Rules, func(r *config.Rule) bool { return r.Name == g.Rule })
	if i < 0 {
		return nil, time.Time{}
	}
	return m.Silenced(m.Rules[i], now)
}

// mutedGroup is the CloudWatch alarm mute rule that holds back every open
// alert of group g at now (state.Alert.MutedInGroup), and the earliest end
// of their mutes ("": some open alert is not muted). CloudWatch runs none
// of a muted alarm's actions, so a group whose every open alert is muted
// escalates (or asks again) at that end, if still due; one alert no mute
// holds back is a problem its owner still has to answer, on time. It
// reads the members until one is open and not muted (the lifecycle change
// that follows reads them all anyway).
func (e *Escalator) mutedGroup(ctx context.Context, g *state.Group, now time.Time) (string, time.Time, error) {
	by, until := "", time.Time{}
	for _, id := range g.Members {
		a, err := e.Store.GetAlert(ctx, id)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("read alert %s of group %s: %w", id, g.ID, err)
		}
		if a == nil || a.Group != g.ID || a.Status != state.Open {
			continue // resolved, or not this group's any more
		}
		if !a.MutedInGroup() || !a.SilencedUntil.After(now) {
			return "", time.Time{}, nil
		}
		if by == "" || a.SilencedUntil.Before(until) {
			by, until = a.SilencedBy, a.SilencedUntil
		}
	}
	return by, until, nil
}

// windowAudit is the escalator's record of an alert whose window ended.
func (e *Escalator) windowAudit(now time.Time) func(a *state.Alert, action, detail string) audit.Record {
	return func(a *state.Alert, action, detail string) audit.Record {
		return audit.Record{Alert: a.ID, At: now, Recorded: now, Action: action, Actor: lifecycle.Escalator.ID,
			Model: a.Model, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric, Feature: a.Feature, Segment: a.Segment,
			Severity: a.Severity, Role: a.Role, Owner: a.Owner, Notify: slices.Clone(a.Notify), Group: a.Group,
			SilencedBy: a.SilencedBy, Detail: detail, ConfigDigest: e.Config.Digest}
	}
}
