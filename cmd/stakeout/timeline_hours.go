package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/state"
)

// releasedLine is a notification held outside its owner's working hours
// and released at their start (or a resolution held to a mute's end), as replay --json prints it; Dropped, when
// set, says why it was not sent after all (its group was over by then).
type releasedLine struct {
	At           time.Time `json:"at"`
	Released     string    `json:"released,omitempty"`
	Dropped      string    `json:"dropped,omitempty"`
	Why          string    `json:"why,omitempty"`
	Owner        string    `json:"owner"`
	HeldSince    time.Time `json:"held_since"`
	Alert        string    `json:"alert"`
	Notification string    `json:"notification"`
}

// holdBack passes what is written to it on, or keeps it back while
// holding: the delivery of a held notification is shown after the line
// saying whether it went out, which only the delivery knows.
type holdBack struct {
	w       io.Writer
	holding bool
	kept    bytes.Buffer
}

func (h *holdBack) Write(p []byte) (int, error) {
	if h.holding {
		return h.kept.Write(p)
	}
	return h.w.Write(p)
}

// flush stops holding and passes on what was kept.
func (h *holdBack) flush() error {
	h.holding = false
	_, err := h.w.Write(h.kept.Bytes())
	h.kept.Reset()
	return err
}

// hold notes a notification queued with a hold (outside its owner's
// working hours): the sender left it in the outbox, and the timeline says
// so now and again when it goes out.
func (t *timeline) hold(n *state.Notification) {
	if !n.Hold.After(*t.clock) {
		return
	}
	why := fmt.Sprintf("outside %s's working hours (outside_hours: hold)", n.Owner)
	if muted(n) {
		why = "the end of the mute of CloudWatch alarm mute rule " + n.Alert.SilencedBy
	}
	fmt.Fprintf(t.shown, "%sheld until %s: %s\n", indent, n.Hold.UTC().Format("2006-01-02 15:04Z"), why)
	t.held = append(t.held, n)
}

// release delivers the held notifications whose hold is over, each under a
// line of the timeline at the time it goes out (RELEASED), or, when its
// group was over by then and the sender dropped it, one saying so
// (DROPPED).
func (t *timeline) release(ctx context.Context) error {
	var still []*state.Notification
	for _, n := range t.held {
		if n.Hold.After(*t.clock) {
			still = append(still, n)
			continue
		}
		t.shown.holding = true
		rep, err := t.sender.Deliver(ctx, []string{n.ID})
		if err != nil {
			return err
		}
		after, err := t.st.GetNotice(ctx, n.ID)
		if err != nil {
			return err
		}
		dropped := ""
		if after != nil {
			dropped = after.Dropped
		}
		t.released(n, dropped)
		if err := t.shown.flush(); err != nil {
			return err
		}
		t.sum.waiting += rep.Waiting
		t.sum.failed += rep.Failed
	}
	t.held = still
	return nil
}

// released prints the line of a held notification whose hold is over:
// sent, or dropped and why.
func (t *timeline) released(n *state.Notification, dropped string) {
	clock, since := t.clock.UTC().Format("2006-01-02 15:04Z"), n.Created.UTC().Format("2006-01-02 15:04Z")
	switch {
	case t.json && dropped != "":
		writeJSONLine(t.w, releasedLine{At: *t.clock, Dropped: n.Group, Why: dropped, Owner: n.Owner, HeldSince: n.Created.UTC(), Alert: n.Alert.ID, Notification: n.ID})
	case t.json:
		writeJSONLine(t.w, releasedLine{At: *t.clock, Released: n.Group, Owner: n.Owner, HeldSince: n.Created.UTC(), Alert: n.Alert.ID, Notification: n.ID})
	case dropped != "":
		fmt.Fprintf(t.w, "%s  %-11s %s  %s → %s via %s\n%snot sent: %s\n", clock, "DROPPED",
			n.Group, n.Kind, n.Owner, strings.Join(n.Channels, ", "), indent, dropped)
	default:
		why := fmt.Sprintf("held since %s until the start of %s's working hours", since, n.Owner)
		if muted(n) {
			why = fmt.Sprintf("resolved at %s under a CloudWatch mute, held until its end", n.Alert.ResolvedAt.UTC().Format("2006-01-02 15:04Z"))
		}
		fmt.Fprintf(t.w, "%s  %-11s %s  %s → %s via %s\n%s%s\n", clock, "RELEASED",
			n.Group, n.Kind, n.Owner, strings.Join(n.Channels, ", "), indent, why)
	}
}

// muted reports whether n is a group's resolution a CloudWatch mute held
// back (pipeline's LeaveMuted), rather than a notification held outside
// working hours.
func muted(n *state.Notification) bool {
	return n.Kind == state.NoticeResolved && n.Alert.MutedInGroup()
}
