package lifecycle

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// reackAfter is the group's reack_after (0: never asked again).
func (s *step) reackAfter() time.Duration {
	d, err := duration.Parse(s.g.ReackAfter)
	if err != nil {
		return 0
	}
	return d
}

// reack unacknowledges a group still open reack_after after it was
// acknowledged: its acknowledger is asked again — paged anew, its
// acknowledged incident superseded (state.Lifecycle.Repages) — and the
// escalation clock starts as if it had just opened (another ack_within).
func (s *step) reack(ack time.Duration) string {
	g := s.g
	prev, since := who(g.AckedBy, g.AckedName), s.now.Sub(g.AckedAt).Round(time.Minute)
	g.Reacked = g.AckedBy
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.ReackAt = "", "", time.Time{}, time.Time{}, time.Time{}
	g.EscalateAt, g.CycleStart = s.after(ack), s.now
	detail := fmt.Sprintf("still open %s after %s acknowledged it: asked again", duration.Format(since), prev)
	if told, outside := s.reminderRouting(); outside {
		s.told = &told
		detail += " via " + joinOr(told.Notify) + ", outside " + g.Owner + "'s working hours"
		if told.Hold.After(s.now) {
			detail += " at " + told.Hold.UTC().Format(time.RFC3339) + ", the start of their working hours"
			if ack > 0 {
				g.EscalateAt = told.Hold.Add(ack) // nobody can answer what they have not been told
			}
		}
	}
	if s.told == nil || slices.Contains(s.told.Notify, "pagerduty") {
		// Only a reminder that triggers PagerDuty opens a new incident:
		// told on Slack alone, the acknowledged incident is still the
		// live one, and what its responders do there must still count.
		g.Repages++
	}
	if !g.EscalateAt.IsZero() {
		detail += fmt.Sprintf("; escalates in %s unless acknowledged", g.AckWithin)
	}
	return detail
}

// reminderRouting is how a reminder is told now: as an opening (or a
// raise) at the group's level would be, for the owner it asks —
// config.Policy.OutsideHoursAt. outside is false in their working hours:
// the group's channels, at once.
func (s *step) reminderRouting() (told Told, outside bool) {
	if len(s.members) == 0 {
		return Told{}, false
	}
	a := s.members[0]
	pol, _ := s.cfg().Stakes.Cell(a.Stakes, Severity(s.g, a))
	notify, hold, outside := pol.OutsideHoursAt(s.cfg().Owners[s.g.Owner], s.now)
	return Told{Notify: notify, Hold: hold}, outside
}

// Grown says whether alert a joining group g of rule r (nil: a rule the
// configuration no longer has), which makes the group size alerts, raises
// it, to which severity, and why ("": it does not). A group raises once
// per step: an alert of a severity above the group's level; reaching
// escalate_when's members (once: the size it was last told at is then
// past it); or factor times the size it was last told at (again at each
// further factor). Groups opened before levels were kept have none and are
// never raised.
func Grown(r *config.Rule, g *state.Group, a *state.Alert, size int) (level, why string) {
	if g.Level == "" || g.GrowBase <= 0 {
		return "", ""
	}
	if config.SeverityAbove(a.Severity, g.Level) {
		return a.Severity, fmt.Sprintf("an alert of severity %s joined (the group was told at %s)", a.Severity, g.Level)
	}
	if r == nil || r.EscalateWhen == nil {
		return "", ""
	}
	up := cmp.Or(config.Higher(g.Level), g.Level)
	w := r.EscalateWhen
	switch {
	case w.Members > 0 && size >= w.Members && g.GrowBase < w.Members:
		return up, fmt.Sprintf("the group grew to %d alerts (escalate_when members %d)", size, w.Members)
	case w.Factor > 0 && float64(size) >= w.Factor*float64(g.GrowBase):
		return up, fmt.Sprintf("the group grew from %d to %d alerts (escalate_when factor %g)", g.GrowBase, size, w.Factor)
	}
	return "", ""
}

// Told is how a raise is told: on the channels of its level as its
// owner's working hours route them at the time (outside_hours), and when
// (Hold; zero: at once, else the start of the owner's next working period).
type Told struct {
	Notify []string
	Hold   time.Time
}

// Raise tells group g at severity level from now on, because of why (see
// Grown), with size alerts: on told's channels, with the ack_within of
// the model's stakes at that level, and the escalation restarted from the
// base owner — unacknowledged, unsnoozed, escalating the level's
// ack_within after it is told, and paged anew (a new incident: another
// trigger under the open one's key would page nobody; see
// state.Lifecycle.Repages). It returns the record's detail. The caller
// writes the group and queues the NoticeRaised that tells of it.
func Raise(cfg *config.Config, g *state.Group, a *state.Alert, level, why string, size int, now time.Time, told Told) string {
	from := g.Level
	pol, _ := cfg.Stakes.Cell(a.Stakes, level)
	g.Level, g.GrowBase, g.Raises = level, size, g.Raises+1
	if slices.Contains(told.Notify, "pagerduty") {
		g.Repages++ // a new incident only when PagerDuty is triggered (see reack)
	}
	g.Notify = slices.Clone(told.Notify)
	g.AckWithin, g.ReackAfter = "", ""
	if pol.AckWithin > 0 {
		g.AckWithin = duration.Format(pol.AckWithin)
	}
	if d := cfg.Stakes.ReackAfter(a.Stakes, level); d > 0 {
		g.ReackAfter = duration.Format(d)
	}
	prev := g.Owner
	g.Owner, g.From, g.Step, g.CycleStart = g.Base, prev, 0, now
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.ReackAt = "", "", time.Time{}, time.Time{}, time.Time{}
	g.EscalateAt = time.Time{}
	if loud := slices.Contains(g.Notify, "slack") || slices.Contains(g.Notify, "pagerduty"); loud && pol.AckWithin > 0 {
		// Nobody can acknowledge what they have not been told.
		g.EscalateAt = maxTime(now, told.Hold).Add(pol.AckWithin)
	}
	detail := fmt.Sprintf("%s: raised from %s to %s (raise %d), told to %s via %s", why, from, level, g.Raises, g.Owner, joinOr(g.Notify))
	if told.Hold.After(now) {
		detail += " at " + told.Hold.UTC().Format(time.RFC3339) + ", the start of their working hours (outside_hours: hold)"
	}
	detail += "; escalation restarted"
	g.By, g.ByName, g.Note = "router", "", detail
	return detail
}

func joinOr(ch []string) string { return cmp.Or(strings.Join(ch, ", "), "nothing") }

// Reopen tells group g, which ended because its alerts resolved, that it
// is open again at now (alert a, flapping, rejoined it): a problem back is
// paged anew — a new incident, the resolved one superseded — to whoever
// has the group, so it is theirs again from now: unacknowledged, and
// escalating ack_within after they are told (a's hold: the start of their
// working hours). The clock restarts because its owner is paged now;
// carrying on the old one would escalate past someone told moments ago.
// Its owner, escalation step and level stay.
func Reopen(g *state.Group, a *state.Alert, now time.Time) {
	g.Repages++
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.ReackAt = "", "", time.Time{}, time.Time{}, time.Time{}
	g.EscalateAt, g.CycleStart = time.Time{}, now
	ch := Notify(g, a)
	ack, err := duration.Parse(g.AckWithin)
	if err == nil && ack > 0 && (slices.Contains(ch, "slack") || slices.Contains(ch, "pagerduty")) {
		g.EscalateAt = maxTime(now, a.HeldUntil).Add(ack)
	}
}
