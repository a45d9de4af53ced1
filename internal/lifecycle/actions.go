package lifecycle

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// The actions on a group that is not a drill's (see actions in
// lifecycle.go): each checks it is due before it changes anything.

// acknowledge takes the group: its escalation stops, a snooze ends, and
// the acknowledger is asked again after reack_after. An acknowledgement
// echoed from PagerDuty never undoes a snooze.
func (s *step) acknowledge() (outcome, string) {
	g, c := s.g, s.c
	if g.Acked() && (g.SnoozedUntil.IsZero() || c.Echo) {
		return outcome{}, "Already acknowledged by " + who(g.AckedBy, g.AckedName) + "."
	}
	by, name := c.By.ID, c.By.Name
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.EscalateAt = by, name, s.now, time.Time{}, time.Time{}
	g.ReackAt = s.after(s.reackAfter())
	detail := "acknowledged by " + who(by, name)
	if c.Reason != "" {
		detail += " " + c.Reason
	}
	return outcome{action: audit.Acknowledged, kind: state.NoticeAcknowledged, detail: detail, msg: "Acknowledged."}, ""
}

// snooze acknowledges the group until c.Until.
func (s *step) snooze() (outcome, string) {
	g, c := s.g, s.c
	if !c.Until.After(s.now) {
		return outcome{}, "A snooze must end in the future."
	}
	by, name := c.By.ID, c.By.Name
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.EscalateAt = by, name, s.now, c.Until.UTC(), time.Time{}
	g.ReackAt = time.Time{} // a snooze keeps its meaning: it ends at its time
	return outcome{
		action: audit.Snoozed, kind: state.NoticeSnoozed,
		detail: fmt.Sprintf("snoozed by %s until %s", who(by, name), c.Until.UTC().Format(time.RFC3339)),
		msg:    "Snoozed for " + duration.Format(c.Until.Sub(s.now).Round(time.Minute)) + ".",
	}, ""
}

// endSnooze (the escalator's) unacknowledges a group whose snooze ran
// out: its escalation clock starts again.
func (s *step) endSnooze() (outcome, string) {
	g := s.g
	if g.SnoozedUntil.IsZero() || g.SnoozedUntil.After(s.now) {
		return outcome{}, "Not snoozed (or not yet over)."
	}
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.ReackAt = "", "", time.Time{}, time.Time{}, time.Time{}
	g.EscalateAt, g.CycleStart = s.after(s.ackWithin()), s.now
	g.Repages++ // the snooze acknowledged its incident
	return outcome{action: audit.SnoozeEnded, kind: state.NoticeSnoozeEnded,
		detail: "the snooze ended; unacknowledged again", msg: "Snooze over."}, ""
}

// reackDue (the escalator's) asks the acknowledger again once reack_after
// has passed (s.reack).
func (s *step) reackDue() (outcome, string) {
	g := s.g
	if !g.Acked() || !g.SnoozedUntil.IsZero() || g.ReackAt.IsZero() || g.ReackAt.After(s.now) {
		return outcome{}, "Not due to be asked again."
	}
	return outcome{action: audit.Reacked, kind: state.NoticeStillOpen, detail: s.reack(s.ackWithin()), msg: "Asked again."}, ""
}

// deferral (the escalator's) moves a due timeout or reack to the end of
// the window that silences it (s.deferDue); nobody is told.
func (s *step) deferral() (outcome, string) {
	detail, ok := s.deferDue()
	if !ok {
		return outcome{}, "Not due."
	}
	return outcome{action: audit.Silenced, detail: detail, msg: "Deferred to the window's end."}, ""
}

// escalate moves the group to the next owner on its chain: the
// escalator's Timeout when nobody acknowledged it in time, or a person's
// "Escalate now".
func (s *step) escalate() (outcome, string) {
	g, c := s.g, s.c
	if c.Action == Timeout && (g.Acked() || g.EscalateAt.IsZero() || g.EscalateAt.After(s.now)) {
		return outcome{}, "Not due for escalation."
	}
	target := Next(s.cfg(), &g.Lifecycle)
	if target == "" {
		return outcome{}, "There is nobody to escalate to."
	}
	prev, due := g.Owner, g.EscalateAt
	if g.Acked() {
		g.Repages++ // "Escalate now" on an acknowledged incident
	}
	g.Step++
	g.Owner, g.From, g.CycleStart = target, prev, s.now
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.ReackAt = "", "", time.Time{}, time.Time{}, time.Time{}
	wait := s.renotifyWait()
	var detail string
	if c.Action == Timeout {
		// Each step after another ack_within from when it was due, so
		// that a late run does not shift the whole chain.
		g.EscalateAt = due.Add(wait)
		if !g.EscalateAt.After(s.now) {
			g.EscalateAt = s.after(wait)
		}
		detail = fmt.Sprintf("nobody acknowledged within %s: escalated from %s to %s (step %d)", g.AckWithin, prev, target, g.Step)
		if target == prev {
			detail = fmt.Sprintf("still nobody acknowledged: %s re-notified (the end of the escalation chain; again in %s unless acknowledged)",
				target, duration.Format(wait))
		}
	} else {
		g.EscalateAt = s.after(wait)
		detail = fmt.Sprintf("escalated by %s from %s to %s (step %d)", who(c.By.ID, c.By.Name), prev, target, g.Step)
	}
	msg := "Escalated to " + s.ownerName(target) + "."
	if target == prev {
		msg = "Nobody is further up the chain: " + s.ownerName(target) + " re-notified."
	}
	return outcome{action: audit.Escalated, kind: state.NoticeEscalated, detail: detail, msg: msg}, ""
}

// renotifyWait is how long the group waits for an acknowledgement at its
// (just taken) step: ack_within, and past the end of the chain — where
// the last owner is re-notified — twice as long each time (at most a
// day): a forgotten alert keeps coming back without paging every quarter
// of an hour for a week.
func (s *step) renotifyWait() time.Duration {
	ack := s.ackWithin()
	wait := ack
	if over := s.g.Step - s.chainLen(); over > 0 && ack > 0 && ack < maxRenotify {
		for range over {
			if wait *= 2; wait >= maxRenotify {
				wait = maxRenotify
				break
			}
		}
	}
	return wait
}

// reassign gives the group to the model's owner in role c.Role, paged
// afresh at the start of that owner's chain.
func (s *step) reassign() (outcome, string) {
	g, c := s.g, s.c
	m := s.cfg().Models[g.Model]
	target := ""
	if m != nil {
		target = m.Owners[c.Role]
	}
	switch {
	case !slices.Contains(config.Roles, c.Role):
		return outcome{}, fmt.Sprintf("%q is not a role (one of %s).", c.Role, strings.Join(config.Roles, ", "))
	case target == "":
		return outcome{}, fmt.Sprintf("%s has no %s owner.", g.Model, c.Role)
	case target == g.Owner:
		return outcome{}, "It is with " + s.ownerName(target) + " already."
	}
	detail := fmt.Sprintf("reassigned by %s from %s to %s (%s)", who(c.By.ID, c.By.Name), g.Owner, target, c.Role)
	if g.Acked() {
		g.Repages++ // the new owner is paged, not told of an acknowledged incident
	}
	g.From = g.Owner
	g.Owner, g.Role, g.Base, g.Step = target, c.Role, target, 0
	g.AckedBy, g.AckedName, g.AckedAt, g.SnoozedUntil, g.ReackAt = "", "", time.Time{}, time.Time{}, time.Time{}
	g.EscalateAt, g.CycleStart = s.after(s.ackWithin()), s.now
	return outcome{action: audit.Reassigned, kind: state.NoticeReassigned, detail: detail,
		msg: "Reassigned to " + s.ownerName(target) + "."}, ""
}

// closeGroup resolves the group and its alerts, as resolved or (FalseAlarm)
// as a false alarm.
func (s *step) closeGroup() (outcome, string) {
	g, c := s.g, s.c
	by, name := c.By.ID, c.By.Name
	g.Resolution, g.ClosedBy, g.ClosedName, g.ClosedAt = state.ResolvedByPerson, by, name, s.now
	o := outcome{action: audit.Resolved, detail: "resolved by " + who(by, name), msg: "Resolved.",
		kind: state.NoticeResolved, resolve: true}
	if c.Action == FalseAlarm {
		g.Resolution = state.FalseAlarm
		o.action, o.detail, o.msg = audit.FalseAlarm, "marked as a false alarm by "+who(by, name), "Marked as a false alarm and resolved."
	}
	if c.Reason != "" {
		o.detail += " " + c.Reason
	}
	g.Open, g.EscalateAt, g.SnoozedUntil, g.ReackAt = 0, time.Time{}, time.Time{}, time.Time{}
	return o, ""
}

// request asks the pipeline for a retrain of the version the group's
// first alert is on, or a rollback (to c.Target, or one it chooses).
func (s *step) request() (outcome, string) {
	c := s.c
	by, name := c.By.ID, c.By.Name
	req := &state.Request{Type: state.RequestRetrain, Version: s.members[0].ModelVersion, Requester: by, Name: name, Reason: c.Reason}
	o := outcome{action: audit.RetrainRequested, detail: "retrain requested by " + who(by, name),
		msg: "Retrain requested: the pipeline will get it.", kind: state.NoticeRequest, req: req}
	if c.Action == Rollback {
		req.Type, req.Target = state.RequestRollback, c.Target
		o.action, o.detail = audit.RollbackRequested, "rollback requested by "+who(by, name)
		if c.Target != "" {
			o.detail += " to version " + c.Target
			o.msg = "Rollback to " + c.Target + " requested: the pipeline will get it."
			if c.TargetNote != "" {
				o.detail += " (" + c.TargetNote + ")"
				o.msg = "Rollback to " + c.Target + " requested (" + c.TargetNote + "): the pipeline will get it."
			}
		} else {
			o.msg = "Rollback requested (no earlier version without an open alert is known: the pipeline chooses)."
		}
	}
	if c.Reason != "" {
		o.detail += ": " + c.Reason
	}
	return o, ""
}
