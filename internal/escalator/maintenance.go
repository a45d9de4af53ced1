package escalator

import (
	"cmp"
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
// unresolved opens — routed afresh at that end (pipeline.Replan: its
// owner's working hours then), it joins its group and its owner is told
// once, as if it had just opened — and its escalation starts then. An alert a mute
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
		qs, err := e.quiets(ctx, a)
		if err != nil {
			return err
		}
		until := silencedUntil(a, qs)
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
		case e.stillSilenced(a, qs, now, sc):
			j.Record(a, audit.Silenced, fmt.Sprintf("%s still covers it, until %s", pipeline.WindowName(a.SilencedBy), a.SilencedUntil.UTC().Format(time.RFC3339)))
		default:
			if err := e.release(ctx, &j, a, until, now); err != nil {
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

// release opens alert a at the end of the window that silenced it (until:
// its stored end, for a window made from Slack): routed afresh at that end
// (outside_hours by its owner's working hours then), it joins its group
// as if it had just opened.
func (e *Escalator) release(ctx context.Context, j *pipeline.Journal, a *state.Alert, until, now time.Time) error {
	a.Status, a.UpdatedAt = state.Open, now
	if !until.IsZero() && until.Before(a.SilencedUntil) {
		a.SilencedUntil = until // a window made from Slack, ended early
	}
	if m, r := e.rule(a.Model, a.Rule); r != nil {
		pipeline.Replan(e.Config, m, r, a, cmp.Or(a.SilencedUntil, now))
	}
	j.Record(a, audit.WindowEnded, pipeline.WindowEndedDetail(a))
	a.SilencedBy, a.SilencedUntil = "", time.Time{}
	return j.Join(ctx, a)
}

// quiets reads the windows made from Slack of a's model (nil: a is nil).
func (e *Escalator) quiets(ctx context.Context, a *state.Alert) (*state.Quiets, error) {
	if a == nil {
		return nil, nil
	}
	qs, err := e.Store.GetQuiets(ctx, a.Model)
	if err != nil {
		return nil, fmt.Errorf("read the quiet windows of %s: %w", a.Model, err)
	}
	return qs, nil
}

// silencedUntil is when a's silence ends: SilencedUntil, or for a window
// made from Slack its stored end in qs (zero once it is gone: ended).
func silencedUntil(a *state.Alert, qs *state.Quiets) time.Time {
	switch {
	case a == nil:
		return time.Time{}
	case !state.IsQuiet(a.SilencedBy):
		return a.SilencedUntil
	}
	if w := qs.Find(a.SilencedBy); w != nil {
		return w.Until
	}
	return time.Time{}
}

// stillSilenced reports whether a window — any of the model's, configured
// or made from Slack (qs), as the router looks at them — covers a at now,
// and if so silences a by it until its end, and moves the schedule there.
func (e *Escalator) stillSilenced(a *state.Alert, qs *state.Quiets, now time.Time, sc *state.Schedule) bool {
	m, r := e.rule(a.Model, a.Rule)
	if r == nil {
		return false
	}
	by, until := pipeline.Silencing(m, qs, r, now)
	if by == "" {
		return false
	}
	a.SilencedBy, a.SilencedUntil, a.UpdatedAt, sc.Next = by, until, now, until
	return true
}

// silencing is the window, configured or made from Slack, that silences
// group g's rule at now, by name, with its end ("": none).
func (e *Escalator) silencing(ctx context.Context, g *state.Group, now time.Time) (string, time.Time, error) {
	m, r := e.rule(g.Model, g.Rule)
	if r == nil {
		return "", time.Time{}, nil
	}
	qs, err := e.Store.GetQuiets(ctx, g.Model)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("read the quiet windows of %s: %w", g.Model, err)
	}
	by, until := pipeline.Silencing(m, qs, r, now)
	return by, until, nil
}

// rule returns the configured model and rule (nil: not configured now).
func (e *Escalator) rule(model, rule string) (*config.Model, *config.Rule) {
	m := e.Config.Models[model]
	if m == nil {
		return nil, nil
	}
	i := slices.IndexFunc(m.Rules, func(r *config.Rule) bool { return r.Name == rule })
	if i < 0 {
		return m, nil
	}
	return m, m.Rules[i]
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
