package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	sig "github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// timeline runs a replay's clock: the escalator at each minute something
// falls due, and the delivery of what it and the router queue.
type timeline struct {
	w, err io.Writer
	// shown is where notifications are shown (see holdBack).
	shown   *holdBack
	json    bool
	silence bool
	st      *memstore.Store
	sender  *deliver.Sender
	esc     *escalator.Escalator
	clock   *time.Time
	sum     *summary
	// next is the earliest time something is due (zero: nothing).
	next time.Time
	// started: the escalator's schedules exist.
	started bool
	// held are notifications waiting for their owner's working hours.
	held []*state.Notification
}

// runUntil runs every escalator step due up to `at`, at the whole minutes
// EventBridge Scheduler would (a step due at 10:15:30 runs at 10:16), then
// moves the clock to `at`. signal is the coming event's "<model>/<kind>"
// (watched for silence from its first event on).
func (t *timeline) runUntil(ctx context.Context, signal string, at time.Time) error {
	if t.clock.IsZero() || at.After(*t.clock) {
		defer func() {
			if at.After(*t.clock) {
				*t.clock = at
			}
		}()
	}
	for !t.next.IsZero() {
		tick := t.next.Truncate(time.Minute)
		if tick.Before(t.next) {
			tick = tick.Add(time.Minute)
		}
		if tick.Before(*t.clock) {
			tick = t.clock.Truncate(time.Minute).Add(time.Minute)
		}
		if tick.After(at) {
			break
		}
		*t.clock = tick.UTC() // a digest falls due in its owner's zone
		if err := t.tick(ctx); err != nil {
			return err
		}
		t.next = t.st.NextDue()
		if !t.next.After(tick) {
			// Due but not done (a delivery waiting): try next minute.
			t.next = tick.Add(time.Minute)
		}
	}
	newSignal := t.silence && signal != "" && !slices.Contains(t.esc.Signals, signal)
	if newSignal {
		t.esc.Signals = append(t.esc.Signals, signal)
	}
	// The escalator's schedules (each owner's digest) start with the
	// first event, as they start when the router is deployed; a watch
	// for silence starts with its signal's first event.
	if newSignal || !t.started {
		t.started = true
		if at.After(*t.clock) {
			*t.clock = at
		}
		if err := t.esc.Ensure(ctx); err != nil {
			return err
		}
		t.next = t.st.NextDue()
	}
	return nil
}

// tick runs the escalator once and delivers what it queued.
func (t *timeline) tick(ctx context.Context) error {
	rep, err := t.esc.Tick(ctx)
	if err != nil {
		return err
	}
	for _, id := range rep.Queued {
		n, err := t.st.GetNotice(ctx, id)
		if err != nil || n == nil {
			return err
		}
		if n.Kind == state.NoticeDigest {
			entries, err := t.st.Digest(ctx, n.Owner, n.Since, n.Created)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				// Nothing to say: delivered quietly.
				if _, err := t.sender.Deliver(ctx, []string{id}); err != nil {
					return err
				}
				continue
			}
			if t.json {
				writeJSONLine(t.w, digestLine{At: *t.clock, Digest: n.Owner, Notifications: len(entries), Since: n.Since.UTC()})
			} else {
				fmt.Fprintf(t.w, "%s  %-11s %s  %d notification(s) since %s\n", t.clock.UTC().Format("2006-01-02 15:04Z"), "DIGEST",
					n.Owner, len(entries), n.Since.UTC().Format("2006-01-02 15:04Z"))
			}
		} else {
			t.change(n)
		}
		if err := t.deliver(ctx, n, t.sum); err != nil {
			return err
		}
	}
	if err := t.release(ctx); err != nil {
		return err
	}
	rep2, err := t.sender.Drain(ctx, 100)
	t.sum.waiting += rep2.Waiting
	return err
}

// change prints what a notification of the escalator's says happened.
func (t *timeline) change(n *state.Notification) {
	a := &n.Alert
	ch := pipeline.Change{At: *t.clock, Alert: a.ID, Model: a.Model, Rule: a.Rule, Severity: a.Severity, Owner: n.Owner,
		Notify: a.Notify, Value: a.Value, Group: n.Group, Summary: a.Summary}
	switch n.Kind {
	case state.NoticeOpened:
		ch.State = "opened"
	case state.NoticeResolved:
		ch.State = "resolved"
	case state.NoticeEscalated:
		ch.State, ch.Summary = "escalated", n.Lifecycle.Note
		if n.Renotify() {
			ch.State = "re-notified"
			t.sum.renotified++
		} else {
			t.sum.escalations++
		}
	case state.NoticeSnoozeEnded:
		ch.State, ch.Summary = "snooze-over", n.Lifecycle.Note
	case state.NoticeStillOpen:
		ch.State, ch.Summary = n.Kind, n.Lifecycle.Note
	case state.NoticeRaised:
		// Told at the raised level's channels, not the alert's own.
		ch.State, ch.Summary, ch.Notify = n.Kind, n.Lifecycle.Note, n.Channels
	default:
		ch.State = n.Kind
	}
	if strings.HasPrefix(a.Rule, "silent:") && (ch.State == "opened" || ch.State == "resolved") {
		t.sum.silences++
	}
	if ch.State == "opened" || ch.State == "resolved" {
		t.sum.add(ch)
	}
	switch {
	case t.json:
		writeJSONLine(t.w, ch)
	case ch.State == "escalated" || ch.State == "re-notified" || ch.State == "snooze-over":
		fmt.Fprintf(t.w, "%s  %-11s %s  → %s (step %d)\n%s%s\n", ch.At.UTC().Format("2006-01-02 15:04Z"), strings.ToUpper(ch.State),
			n.Group, n.Owner, n.Lifecycle.Step, indent, ch.Summary)
	default:
		writeTimeline(t.w, ch)
	}
}

// deliver sends one queued notification through the replay's sender.
func (t *timeline) deliver(ctx context.Context, n *state.Notification, sum *summary) error {
	fmt.Fprintf(t.shown, "%s%s notification %s to %s via %s\n", indent, n.Kind, n.ID, n.Owner, strings.Join(n.Channels, ", "))
	rep, err := t.sender.Deliver(ctx, []string{n.ID})
	if err != nil {
		return err
	}
	t.hold(n)
	if slices.Contains(n.Channels, "digest") {
		fmt.Fprintf(t.shown, "%sdigest → kept for the daily digest of %s\n", indent, n.Owner)
	}
	if after, err := t.st.GetNotice(ctx, n.ID); err != nil {
		return err
	} else if after != nil {
		t.failures(after)
	}
	sum.notices++
	if slices.ContainsFunc(t.held, func(h *state.Notification) bool { return h.Group == n.Group && h.ID != n.ID }) {
		// Queued behind a held notification of its group, it waits for
		// it on purpose: it goes out, or is dropped, with it.
		rep.Waiting = 0
	}
	sum.waiting += rep.Waiting
	sum.failed += rep.Failed
	return nil
}

// delivery is a channel that did not deliver, as replay --json prints it.
type delivery struct {
	At           time.Time `json:"at"`
	Notification string    `json:"notification"`
	Channel      string    `json:"channel"`
	// Delivery is "failing" (retried later on the replay's clock) or
	// "failed" (given up for good).
	Delivery string    `json:"delivery"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts,omitempty"`
	Retry    time.Time `json:"retry_at,omitzero"`
}

// digestLine is a daily digest posted, as replay --json prints it.
type digestLine struct {
	At time.Time `json:"at"`
	// Digest is the owner it was posted to.
	Digest        string    `json:"digest"`
	Notifications int       `json:"notifications"`
	Since         time.Time `json:"since"`
}

// writeJSONLine writes v as one line of JSON, the way every --json of the
// CLI does: "value 0.4 > 0.25" reads better than \u003e.
func writeJSONLine(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// failures reports the channels of n that did not deliver.
func (t *timeline) failures(n *state.Notification) {
	var out []delivery
	for _, ch := range n.Channels {
		if tr := n.Tries[ch]; tr != nil && tr.Error != "" {
			out = append(out, delivery{At: *t.clock, Notification: n.ID, Channel: ch, Delivery: "failing", Error: tr.Error, Attempts: tr.Attempts, Retry: tr.Next})
		} else if reason, ok := strings.CutPrefix(n.Done[ch], "failed: "); ok {
			out = append(out, delivery{At: *t.clock, Notification: n.ID, Channel: ch, Delivery: "failed", Error: reason})
		}
	}
	for _, d := range out {
		if t.json {
			writeJSONLine(t.w, d)
			continue
		}
		fmt.Fprintf(t.shown, "%s%s ✗ %s: %s\n", indent, d.Channel, d.Delivery, d.Error)
	}
}

// before runs the clock up to an event.
func (t *timeline) before(ctx context.Context, ev *sig.Event) error {
	return t.runUntil(ctx, ev.Model+"/"+ev.Kind, ev.ObservedAt)
}

// previewBus shows each lifecycle event a replay would publish.
type previewBus struct{ w io.Writer }

func (p *previewBus) Publish(_ context.Context, entries ...bus.Entry) error {
	for _, e := range entries {
		fmt.Fprintf(p.w, "%seventbridge → %s\n", indent, e.DetailType)
	}
	return nil
}

// end is when the replay's clock stops: --until as a time, or as a
// duration after the last event.
func (c *replayCmd) end(last time.Time) (time.Time, error) {
	if c.until == "" {
		return last, nil
	}
	if t, err := time.Parse(time.RFC3339, c.until); err == nil {
		return t, nil
	}
	d, err := duration.Parse(c.until)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither a duration (48h, 3d) nor an RFC 3339 time", c.until)
	}
	return last.Add(d), nil
}
