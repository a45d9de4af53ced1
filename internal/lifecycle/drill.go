package lifecycle

import (
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// NotForDrills answers every change but an acknowledgement on a fire
// drill's group: a drill tests that someone answers, nothing else.
const NotForDrills = "This is a fire drill, not a real alert: acknowledge it to pass (a drill is never snoozed, escalated, reassigned or sent to the pipeline)."

// drill plans a change on a fire drill's group (internal/drill). An
// acknowledgement (or a resolution: whoever closes it saw it) within the
// window passes the drill; the escalator's timeout records it unanswered
// instead of escalating. Either ends the drill: its messages are closed
// and its PagerDuty incident resolved, so nothing of it lingers.
func (s *step) drill() (Result, []*state.Commit, error) {
	g, c := s.g, s.c
	by, name := c.By.ID, c.By.Name
	ack := s.ackWithin()
	opened := s.members[0].OpenedAt
	var action, detail, msg string
	switch c.Action {
	case Acknowledge, Resolve:
		took := s.now.Sub(opened).Round(time.Second)
		action = audit.DrillAcknowledged
		detail = fmt.Sprintf("drill passed: acknowledged by %s after %s (ack within %s)", who(by, name), duration.Format(took), g.AckWithin)
		msg = fmt.Sprintf("🧯 Drill passed: acknowledged after %s, within %s. Thank you: the drill is over.", duration.Format(took), g.AckWithin)
		if ack > 0 && took > ack {
			action = audit.DrillUnanswered
			detail = fmt.Sprintf("drill unanswered: acknowledged by %s only after %s, past its %s window", who(by, name), duration.Format(took), g.AckWithin)
			msg = fmt.Sprintf("🧯 Acknowledged after %s, past the drill's %s window: recorded as unanswered. The drill is over.", duration.Format(took), g.AckWithin)
		}
		g.AckedBy, g.AckedName, g.AckedAt = by, name, s.now
	case Timeout:
		if g.Acked() || g.EscalateAt.IsZero() || g.EscalateAt.After(s.now) {
			return Result{Message: "Not due for escalation."}, nil, nil
		}
		action, msg = audit.DrillUnanswered, "Drill unanswered."
		detail = fmt.Sprintf("drill unanswered: nobody acknowledged within %s; not escalated (a drill never escalates)", g.AckWithin)
	default:
		return Result{Message: NotForDrills}, nil, nil
	}
	g.Resolution, g.ClosedBy, g.ClosedName, g.ClosedAt = state.ResolvedByPerson, by, name, s.now
	g.Open, g.EscalateAt, g.SnoozedUntil = 0, time.Time{}, time.Time{}
	g.By, g.ByName, g.Note = by, name, detail
	return Result{Message: msg}, s.commits(action, detail, state.NoticeResolved, true, nil), nil
}

// drillOutcome reports whether an action is a drill's outcome, recorded
// before the resolution that ends the drill.
func drillOutcome(action string) bool {
	return action == audit.DrillAcknowledged || action == audit.DrillUnanswered
}
