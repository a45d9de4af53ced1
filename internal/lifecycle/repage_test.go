package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/lifecycle"
)

// A change that pages someone again although the group's incident is
// acknowledged moves the group to its next incident (Repages): another
// trigger under the acknowledged one's key would page nobody. Escalating
// an unacknowledged group keeps its incident.
func TestAPageAfterAnAcknowledgementMovesToTheNextIncident(t *testing.T) {
	r := newRig(t, time.Date(2026, 3, 9, 6, 0, 0, 0, time.UTC))
	ctx := context.Background()
	r.ev("freshness", "lag_seconds", "", 30000) // bureau-feed-stale opens
	g, _ := r.st.GetGroup(ctx, "credit-approval", "bureau-feed-stale")
	if g == nil || g.EscalateAt.IsZero() {
		t.Fatalf("group %+v, want one escalating", g)
	}
	m := &lifecycle.Manager{Config: r.cfg, Store: r.st, Now: func() time.Time { return r.now }}
	by := lifecycle.Actor{ID: "slack:U01DPE0001"}
	steps := []struct {
		c    lifecycle.Change
		want int
	}{
		{lifecycle.Change{Action: lifecycle.Timeout, By: lifecycle.Escalator}, 0}, // unacknowledged: the same incident
		{lifecycle.Change{Action: lifecycle.Acknowledge, By: by}, 0},
		{lifecycle.Change{Action: lifecycle.Escalate, By: by}, 1}, // "Escalate now" past an acknowledgement
		{lifecycle.Change{Action: lifecycle.Acknowledge, By: by}, 1},
		{lifecycle.Change{Action: lifecycle.Reassign, Role: "platform", By: by}, 2},
		{lifecycle.Change{Action: lifecycle.Snooze, By: by}, 2},                     // for an hour
		{lifecycle.Change{Action: lifecycle.EndSnooze, By: lifecycle.Escalator}, 3}, // the snooze acknowledged it
	}
	for _, s := range steps {
		r.now = r.now.Add(2 * time.Hour)
		s.c.Group = g.ID
		if s.c.Action == lifecycle.Snooze {
			s.c.Until = r.now.Add(time.Hour)
		}
		res, err := m.Apply(ctx, s.c)
		if err != nil || !res.Done {
			t.Fatalf("%s: %+v, %v", s.c.Action, res, err)
		}
		if res.Group.Repages != s.want {
			t.Errorf("after %s: repages %d, want %d", s.c.Action, res.Group.Repages, s.want)
		}
	}
}
