package pipeline

import (
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// silence keeps an opening alert quiet when one of the model's maintenance
// windows — configured, or made from Slack and stored — covers its rule
// at the event's time, or when the event's source
// muted it (a CloudWatch alarm mute rule): it is recorded, suppressed, in
// no group — nobody is told and nothing escalates — and a schedule at the
// window's end opens it then if it is still unresolved (escalator), so a
// real breach is not hidden by the window.
func (d *decision) silence(a *state.Alert, r *config.Rule) error {
	qs, err := d.loadQuiets()
	if err != nil {
		return err
	}
	by, until := Silencing(d.m, qs, r, d.at)
	if mu := d.ev.Mute; mu != nil && !r.IsErrorRule() && d.at.Before(mu.End) && mu.End.After(until) {
		by, until = mu.By, mu.End
	}
	if by == "" {
		return nil
	}
	a.Status, a.SilencedBy, a.SilencedUntil, a.Group = state.Suppressed, by, until, ""
	return d.endSilence(a)
}

// Silencing answers "what window covers rule r of model m at t": of m's
// configured windows and qs, its windows made from Slack (nil: none), the
// one that silences r at t and ends last, by name, with its end ("": none).
// The router asks it of an alert about to open, the escalator of a group
// falling due and of an alert at its window's end, so that all three
// agree. Alerts about a rule itself are about the configuration: no
// window silences them.
func Silencing(m *config.Model, qs *state.Quiets, r *config.Rule, t time.Time) (string, time.Time) {
	if r.IsErrorRule() {
		return "", time.Time{}
	}
	by, until := "", time.Time{}
	if w, end := m.Silenced(r, t); w != nil {
		by, until = w.Name, end
	}
	if q := qs.Silencing(r.Name, t); q != nil && q.Until.After(until) {
		by, until = q.Name, q.Until
	}
	return by, until
}

// WindowName names a window for people: a configured maintenance window,
// or a window made from Slack (state.IsQuiet).
func WindowName(by string) string {
	if state.IsQuiet(by) {
		return "quiet window " + by
	}
	return "maintenance window " + by
}

// endSilence writes the schedule that ends a's silence at SilencedUntil
// (the escalator's window).
func (d *decision) endSilence(a *state.Alert) error {
	name := state.WindowSchedule(a.ID)
	sc, err := d.p.Store.GetSchedule(d.ctx, name)
	if err != nil {
		return fmt.Errorf("read schedule %s: %w", name, err)
	}
	if sc == nil {
		sc = &state.Schedule{Name: name}
	}
	sc.Next = a.SilencedUntil
	d.windows = append(d.windows, sc)
	return nil
}

// muting is the event's CloudWatch mute when it covers rule r's alerts at
// the event's time (nil: none). CloudWatch runs none of a muted alarm's
// actions, ALARM or OK: what an alert already open would tell waits too.
func (d *decision) muting(r *config.Rule) *signal.Mute {
	if mu := d.ev.Mute; mu != nil && !r.IsErrorRule() && d.at.Before(mu.End) {
		return mu
	}
	return nil
}

// mute holds back what alert a, in its group, tells while the event's
// mute lasts (state.Alert.MutedInGroup): recorded and audited as muted,
// told once at the mute's end by the escalator's window. It reports
// whether it did. An event no mute covers does not lift an earlier mute
// before the end CloudWatch gave it: the same series may be fed by
// events that know nothing of mutes (a native signal, an older event
// delivered late), and only the alarm's mute rule says how long it lasts.
// A mute rule ended early therefore holds until its announced end.
func (d *decision) mute(a *state.Alert, r *config.Rule) (bool, error) {
	mu := d.muting(r)
	if mu == nil {
		if d.at.Before(a.SilencedUntil) {
			return true, nil // the mute it has still lasts
		}
		a.SilencedBy, a.SilencedUntil = "", time.Time{}
		return false, nil
	}
	if mu.End.After(a.SilencedUntil) {
		a.SilencedBy, a.SilencedUntil = mu.By, mu.End
		if err := d.endSilence(a); err != nil {
			return false, err
		}
	}
	return true, nil
}

// loadQuiets returns the model's windows made from Slack, reading them
// once per attempt (prefetch reads them with the rest when an alert may
// open).
func (d *decision) loadQuiets() (*state.Quiets, error) {
	if d.quiets == nil {
		q, err := d.p.Store.GetQuiets(d.ctx, d.m.ID)
		if err != nil {
			return nil, fmt.Errorf("read the quiet windows of %s: %w", d.m.ID, err)
		}
		d.quiets = q
	}
	return d.quiets, nil
}

// silencedDetail says, for the audit trail, what silenced a and until when.
func (d *decision) silencedDetail(a *state.Alert) string {
	until := a.SilencedUntil.UTC().Format(time.RFC3339)
	if q := d.quiets.Find(a.SilencedBy); q != nil {
		return fmt.Sprintf("quiet window %s by %s until %s (%s): %s", q.Name, QuietAuthor(q), until, q.Reason, a.Summary)
	}
	for _, w := range d.m.Maintenance {
		if w.Name == a.SilencedBy {
			detail := fmt.Sprintf("maintenance window %s until %s", w.Name, until)
			if w.Reason != "" {
				detail += " (" + w.Reason + ")"
			}
			return detail + ": " + a.Summary
		}
	}
	return MutedDetail(a)
}

// MutedDetail says, for the audit trail, which CloudWatch alarm mute rule
// holds alert a back and until when.
func MutedDetail(a *state.Alert) string {
	return fmt.Sprintf("muted by CloudWatch alarm mute rule %s until %s: %s", a.SilencedBy, a.SilencedUntil.UTC().Format(time.RFC3339), a.Summary)
}

// silencedBreach handles a further breach of a silenced alert: recorded
// while its window lasts; past its end (before the escalator got to it),
// the windows and the event's mute are looked at again, as the escalator's
// stillSilenced does — one that covers it now (a long window's end looked
// at again, another window, a renewed mute) keeps it silenced until its
// end — and otherwise the alert opens, routed as if it had just opened
// (Replan: its owner's working hours now), and its owner is told, as the
// escalator would.
func (d *decision) silencedBreach(a *state.Alert, res *engine.Result, ref state.AlertRef) error {
	d.refresh(a, res)
	if d.at.Before(a.SilencedUntil) {
		d.j.Record(a, audit.Updated, a.Summary)
		d.change(a, "updated")
		return nil
	}
	a.Status = state.Open
	if err := d.silence(a, res.Rule); err != nil {
		return err
	}
	if a.Status == state.Suppressed {
		d.j.Record(a, audit.Silenced, d.silencedDetail(a))
		d.change(a, "silenced")
		return nil
	}
	ref.Status = state.Open
	d.series.Alerts[res.Rule.Name] = ref
	d.seriesDirty = true
	Replan(d.p.Config, d.m, res.Rule, a, d.at) // as if it had just opened
	d.j.Record(a, audit.WindowEnded, WindowEndedDetail(a))
	a.SilencedBy, a.SilencedUntil = "", time.Time{}
	d.change(a, "opened")
	return d.j.Join(d.ctx, a)
}

// QuietAuthor names who made a window from Slack, for people.
func QuietAuthor(q *state.Quiet) string {
	if q.ByName != "" {
		return q.ByName + " (" + q.By + ")"
	}
	return q.By
}

// WindowEndedDetail is the audit detail of an alert opened at the end of
// the window that silenced it.
func WindowEndedDetail(a *state.Alert) string {
	return fmt.Sprintf("%s ended at %s and the alert is still open: %s", a.SilencedBy, a.SilencedUntil.UTC().Format(time.RFC3339), a.Summary)
}
