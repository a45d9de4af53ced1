package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// releasedLine is a notification held outside its owner's working hours
// and released at their start, as replay --json prints it.
type releasedLine struct {
	At           time.Time `json:"at"`
	Released     string    `json:"released"`
	Owner        string    `json:"owner"`
	HeldSince    time.Time `json:"held_since"`
	Alert        string    `json:"alert"`
	Notification string    `json:"notification"`
}

// hold notes a notification queued with a hold (outside its owner's
// working hours): the sender left it in the outbox, and the timeline says
// so now and again when it goes out.
func (t *timeline) hold(n *state.Notification) {
	if !n.Hold.After(*t.clock) {
		return
	}
	fmt.Fprintf(t.shown, "%sheld until %s: outside %s's working hours (outside_hours: hold)\n", indent, n.Hold.UTC().Format("2006-01-02 15:04Z"), n.Owner)
	t.held = append(t.held, n)
}

// release delivers the held notifications whose hold is over, each under a
// line of the timeline at the time it goes out.
func (t *timeline) release(ctx context.Context) error {
	var still []*state.Notification
	for _, n := range t.held {
		if n.Hold.After(*t.clock) {
			still = append(still, n)
			continue
		}
		if t.json {
			writeJSONLine(t.w, releasedLine{At: *t.clock, Released: n.Group, Owner: n.Owner, HeldSince: n.Created.UTC(), Alert: n.Alert.ID, Notification: n.ID})
		} else {
			fmt.Fprintf(t.w, "%s  %-11s %s  %s → %s via %s\n%sheld since %s until the start of %s's working hours\n", t.clock.UTC().Format("2006-01-02 15:04Z"), "RELEASED",
				n.Group, n.Kind, n.Owner, strings.Join(n.Channels, ", "), indent, n.Created.UTC().Format("2006-01-02 15:04Z"), n.Owner)
		}
		rep, err := t.sender.Deliver(ctx, []string{n.ID})
		if err != nil {
			return err
		}
		t.sum.waiting += rep.Waiting
		t.sum.failed += rep.Failed
	}
	t.held = still
	return nil
}
