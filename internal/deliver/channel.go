package deliver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Channels the core itself knows: the digest (kept in the store for the
// owner's daily message) and the lifecycle events (optional).
const (
	Digest = "digest"
	Events = lifecycle.Events
)

// maxInRunBackoff caps one wait between attempts within a run.
const maxInRunBackoff = 5 * time.Second

// maxWalk bounds how far back a channel looks for the group's previous
// notification on it (acknowledgements do not page, updates do not publish
// lifecycle events): far enough for any group people act on.
const maxWalk = 50

// attempt makes one attempt on ch and records what happened.
func (j *job) attempt(ctx context.Context, ch string) error {
	t := j.try(ch)
	tryCtx, cancel := context.WithTimeout(ctx, cmpDur(j.s.TryTimeout, DefaultTryTimeout))
	// After a failed attempt, or a crash that left no record of one, the
	// call may have gone through: look before posting again.
	res, err := j.send(tryCtx, ch, t.Attempts > 0 || j.n.Attempts > 1)
	cancel()
	// What a notifier did before it failed (one incident of two
	// resolved) is kept for the next attempt.
	j.dChanged = j.dChanged || res.Changed
	// What happened was done: it is recorded even if the caller's
	// deadline has passed meanwhile.
	saveCtx, cancelSave := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancelSave()
	if err == nil {
		return j.done(saveCtx, ch, res)
	}
	now := j.s.now()
	if t.Attempts == 0 {
		t.First = now
	}
	t.Attempts++
	t.Error = notify.Reason(err)
	if notify.Permanent(err) {
		return j.giveUp(saveCtx, ch, err, true)
	}
	var ne *notify.Error
	after := time.Duration(0)
	if errors.As(err, &ne) {
		after = ne.After
	}
	if j.tries(ch) == 1 {
		t.Runs++ // the wait in the outbox doubles per run, not per attempt
	}
	j.ready[ch] = j.b.slept + max(backoff(inRunBackoff, j.runTries[ch], maxInRunBackoff), after)
	t.Next = now.Add(max(backoff(cmpDur(j.s.RetryIn, DefaultRetryIn), t.Runs, MaxRetryIn), after))
	// The deadline counts from the channel's first failed attempt (not
	// from when the notification was queued: it may have waited behind
	// an earlier one), and the failure is declared on time.
	deadline := t.First.Add(j.s.deadline(ch))
	if t.GaveUp.IsZero() && now.Before(deadline) && t.Next.After(deadline) {
		t.Next = deadline
	}
	j.log.Warn("delivery attempt failed", "channel", ch, "reason", t.Error, "attempts", t.Attempts, "error", err)
	if global := ne != nil && ne.Global; t.GaveUp.IsZero() && (global || !now.Before(deadline)) {
		return j.giveUp(saveCtx, ch, err, false)
	}
	return nil
}

// tries counts this run's failed attempts on ch (for the in-run backoff).
func (j *job) tries(ch string) int {
	j.runTries[ch]++
	return j.runTries[ch]
}

func backoff(base time.Duration, attempt int, limit time.Duration) time.Duration {
	return min(base<<min(max(attempt-1, 0), 20), limit)
}

func (s *Sender) deadline(ch string) time.Duration {
	if d, ok := s.Deadlines[ch]; ok && d > 0 {
		return d
	}
	if d, ok := DefaultDeadlines[ch]; ok {
		return d
	}
	return fallbackDeadline
}

// try is ch's progress record.
func (j *job) try(ch string) *state.Try {
	if j.n.Tries == nil {
		j.n.Tries = map[string]*state.Try{}
	}
	t := j.n.Tries[ch]
	if t == nil {
		t = &state.Try{}
		j.n.Tries[ch] = t
	}
	return t
}

// done records a channel delivered.
func (j *job) done(ctx context.Context, ch string, res Result) error {
	n := j.n
	if n.Done == nil {
		n.Done = map[string]string{}
	}
	n.Done[ch] = res.Outcome
	if t := n.Tries[ch]; t != nil && !t.GaveUp.IsZero() {
		n.Done[ch] += fmt.Sprintf(" (after %d failed attempts)", t.Attempts)
	}
	delete(n.Tries, ch)
	j.dChanged = j.dChanged || res.Changed
	j.unfence()
	if _, failing := j.d.Failing[ch]; failing && !res.Noop {
		// The channel is back for this group: its messages stop saying so.
		j.changeDelivery(func(d *state.Delivery) { delete(d.Failing, ch) })
	}
	var rec *record
	if res.Audit != "" {
		rec = &record{audit.Notified, ch, res.Audit}
	}
	if rec == nil && !j.dChanged {
		// Nothing was sent that a retry could repeat ("no page for an
		// update"): written with the next record, or when given back.
		return nil
	}
	if allDone(n) {
		// The last channel: its record and "sent" in one write.
		n.Sent, n.Claim, n.ClaimedUntil = j.s.now(), "", time.Time{}
	}
	return j.save(ctx, rec, nil)
}

// giveUp declares ch failed for this notification: on the alert's trail,
// in the metrics, and to the owner through the channels that work. final:
// the failure is permanent and ch is done with; otherwise it goes on
// being tried.
func (j *job) giveUp(ctx context.Context, ch string, cause error, final bool) error {
	n, reason := j.n, notify.Reason(cause)
	if t := j.try(ch); final && !t.GaveUp.IsZero() {
		// Declared already (transient then, permanent now): done with,
		// not declared twice.
		if n.Done == nil {
			n.Done = map[string]string{}
		}
		n.Done[ch] = "failed: " + reason + " (declared " + t.GaveUp.UTC().Format(time.RFC3339) + ")"
		delete(n.Tries, ch)
		return j.save(ctx, nil, nil)
	}
	told, notice, err := j.failureNotice(ctx, ch, reason)
	if err != nil {
		return err
	}
	t := j.try(ch)
	t.GaveUp = j.s.now()
	detail := fmt.Sprintf("%s notification to %s failed after %d attempt(s): %s; %s", ch, n.Owner, t.Attempts, reason, told)
	if final {
		if n.Done == nil {
			n.Done = map[string]string{}
		}
		n.Done[ch] = "failed: " + reason + "; " + told
		delete(n.Tries, ch)
	} else {
		detail += "; still trying"
	}
	var outbox []*state.Notification
	if notice != nil {
		outbox = append(outbox, notice)
	}
	if err := j.save(ctx, &record{audit.DeliveryFailed, ch, detail}, outbox); err != nil {
		return err
	}
	if notice != nil {
		j.queued = append(j.queued, notice.ID)
	}
	j.rep.Failed++
	j.s.countFailures([]string{ch})
	j.log.Error("delivery failed", "channel", ch, "reason", reason, "told", told, "final", final, "error", cause)
	return nil
}

// failureNotice builds the notice of ch's failure to the owner, through
// the other channels that reach them (or the model's platform owner), once
// per group and channel while it fails. told says what was done.
func (j *job) failureNotice(ctx context.Context, ch, reason string) (string, *state.Notification, error) {
	n := j.n
	if n.Kind == state.NoticeDeliveryFailed {
		return "it was itself a failure notice", nil, nil
	}
	if was, ok := j.d.Failing[ch]; ok {
		return "already told while " + ch + " fails (" + was + ")", nil, nil
	}
	owner, channels := j.s.reachable(n, ch)
	if len(channels) == 0 {
		return "nobody could be told: no other channel reaches " + n.Owner + " or the model's platform owner", nil, nil
	}
	id := n.ID + "/failed/" + ch
	switch existing, err := j.s.Store.GetNotice(ctx, id); {
	case err != nil:
		return "", nil, fmt.Errorf("read notification %s: %w", id, err)
	case existing != nil:
		return "told " + existing.Owner + " already", nil, nil
	}
	notice := &state.Notification{ID: id, Kind: state.NoticeDeliveryFailed, Group: n.Group, Model: n.Model, Rule: n.Rule,
		Owner: owner, Role: n.Role, Channels: channels, Alert: *n.Alert.Clone(), Members: n.Members,
		Subjects: slices.Clone(n.Subjects), Created: j.s.now(), Lifecycle: n.Lifecycle,
		Failure: &state.Failure{Channel: ch, Reason: reason, Notice: n.ID}, After: n.ID}
	j.changeDelivery(func(d *state.Delivery) {
		if d.Failing == nil {
			d.Failing = map[string]string{}
		}
		d.Failing[ch] = reason
	})
	return fmt.Sprintf("telling %s through %s", owner, strings.Join(channels, ", ")), notice, nil
}

// changeDelivery applies op to the group's record now, and again to a
// fresher copy if a concurrent sender moved it.
func (j *job) changeDelivery(op func(*state.Delivery)) {
	op(j.d)
	j.dOps = append(j.dOps, op)
	j.dChanged = true
}

// reachable says who hears of a failure of failed, and through which
// channels: the notification's owner through the others it has, else the
// model's platform owner. Only what needs someone's attention pages.
func (s *Sender) reachable(n *state.Notification, failed string) (string, []string) {
	page := failed != Events && slices.Contains([]string{state.NoticeOpened, state.NoticeUpdated, state.NoticeEscalated,
		state.NoticeReassigned, state.NoticeSnoozeEnded, state.NoticeStillOpen, state.NoticeRaised}, n.Kind)
	via := func(o *config.Owner, slackOK bool) []string {
		var chs []string
		if slackOK && o.Slack.Channel != "" && s.Notifiers["slack"] != nil {
			chs = append(chs, "slack")
		}
		if page && failed != "pagerduty" && o.PagerDuty.RoutingKey != "" && s.Notifiers["pagerduty"] != nil {
			chs = append(chs, "pagerduty")
		}
		return chs
	}
	owner := s.Config.Owners[n.Owner]
	if owner != nil {
		if chs := via(owner, failed != "slack"); len(chs) > 0 {
			return n.Owner, chs
		}
	}
	m := s.Config.Models[n.Model]
	if m == nil {
		return "", nil
	}
	id := m.Owners["platform"]
	p := s.Config.Owners[id]
	if p == nil || id == n.Owner {
		return "", nil
	}
	// Slack may still reach the platform owner when it was the owner's
	// channel that failed (it does not exist, the bot is not in it). A
	// broken owner file is theirs to fix, not an emergency: Slack first,
	// a page only when Slack cannot reach them.
	chs := via(p, failed != "slack" || owner == nil || p.Slack.Channel != owner.Slack.Channel)
	if len(chs) > 1 {
		chs = chs[:1]
	}
	return id, chs
}

// send delivers the notification on ch once.
func (j *job) send(ctx context.Context, ch string, retry bool) (Result, error) {
	n := j.n
	if ch == Digest {
		return Result{Outcome: "kept for the digest of " + n.Owner, Audit: "kept for the daily digest of " + n.Owner}, nil
	}
	nt := j.s.Notifiers[ch]
	m := &Message{Notice: n, View: j.view(), Delivery: j.d, Retry: retry, Stale: j.stale}
	switch {
	case ch == Events:
		detailType, detail, ok := lifecycle.Event(n)
		if !ok {
			return Result{Outcome: "no event for a " + n.Kind + " notification", Noop: true}, nil
		}
		if nt == nil {
			return Result{Outcome: "not published (no event bus configured)", Noop: true}, nil
		}
		m.Event = &Event{DetailType: detailType, Detail: detail, Time: n.Created}
	case nt == nil:
		return Result{}, &notify.Error{Retry: true, Global: true, Reason: ch + " is not configured", Err: fmt.Errorf("%s is not configured", ch)}
	case n.Kind == state.NoticeDigest:
		entries, err := j.s.Store.Digest(ctx, n.Owner, n.Since, n.Created)
		if err != nil {
			return Result{}, &notify.Error{Retry: true, Reason: "could not read the digest", Err: err}
		}
		if len(entries) == 0 {
			return Result{Outcome: "nothing to digest", Noop: true}, nil
		}
		for i := range entries {
			m.Digest = append(m.Digest, notify.NewView(j.s.Config, &entries[i].Notice))
		}
		m.DigestDay = n.Created.In(ownerZone(j.s.Config, n.Owner)).Format("Mon 2 Jan 2006")
	}
	return nt.Notify(ctx, m)
}

// view is the notification as people see it, with the group's failing
// channels.
func (j *job) view() *notify.View {
	v := notify.NewView(j.s.Config, j.n)
	for _, ch := range slices.Sorted(maps.Keys(j.d.Failing)) {
		v.Failing = append(v.Failing, notify.KV{Key: ch, Value: j.d.Failing[ch]})
	}
	return v
}

func ownerZone(cfg *config.Config, id string) *time.Location {
	if o := cfg.Owners[id]; o != nil && o.Timezone != nil {
		return o.Timezone
	}
	return time.UTC
}

// waitsForEarlier returns, when the group's previous notification on ch
// is not done with it yet, until when ch must wait (zero: it need not).
func (j *job) waitsForEarlier(ctx context.Context, ch string) (time.Time, error) {
	// The notifications before this one on ch: the one it says it
	// follows (a failure notice's reply goes in the failed message's
	// thread, an update window's after the group's latest), or the
	// group's latest few.
	var earlier []int
	if j.n.After != "" {
		earlier = []int{-1}
	}
	for k := j.n.Seq() - 1; j.n.After == "" && k >= 1 && len(earlier) < maxWalk; k-- {
		earlier = append(earlier, k)
	}
	for _, k := range earlier {
		p, err := j.earlier(ctx, k)
		if err != nil {
			return time.Time{}, err
		}
		if p == nil || !slices.Contains(p.Channels, ch) {
			continue
		}
		if _, done := p.Done[ch]; done || !p.Sent.IsZero() {
			return time.Time{}, nil
		}
		// A few seconds while another sender holds it, else until it
		// is due itself.
		until := j.s.now().Add(notReadyIn)
		if p.Claim == "" && p.Due().After(until) {
			until = p.Due()
		}
		return until, nil
	}
	return time.Time{}, nil
}

// earlier reads the group's notification number k (-1: the one n says it
// follows), once per run.
func (j *job) earlier(ctx context.Context, k int) (*state.Notification, error) {
	if p, ok := j.prevs[k]; ok {
		return p, nil
	}
	id := fmt.Sprintf("%s#%d", j.n.Group, k)
	if k < 0 {
		id = j.n.After
	}
	p, err := j.s.Store.GetNotice(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read notification %s: %w", id, err)
	}
	j.prevs[k] = p
	return p, nil
}

// fence holds the group's messages on ch for this update window's
// attempt, then brings the window up to the group as it is now. An update
// is read from the group after the hold is taken, and the group's other
// notifications do not start while it is held: so an update read before
// an acknowledgement or a resolution is either sent before it, or sees
// it. false: another notification holds them; ch waits.
func (j *job) fence(ctx context.Context, ch string) (bool, error) {
	fresh, err := j.s.Store.GetDelivery(ctx, j.n.Group)
	if err != nil {
		return false, fmt.Errorf("read delivery of %s: %w", j.n.Group, err)
	}
	j.d = merge(fresh, j.d)
	for _, op := range j.dOps {
		op(j.d)
	}
	now := j.s.now()
	f := &state.Fence{Notice: j.n.ID, Channels: j.n.Channels, Until: now.Add(cmpDur(j.s.TryTimeout, DefaultTryTimeout) + releaseTimeout)}
	held := true
	j.changeDelivery(func(d *state.Delivery) {
		// Another update's live fence is never replaced, whatever
		// channels it holds: it may be editing the message.
		if held = !d.Updating.Live(j.n.ID, now); held {
			d.Updating = f
		}
	})
	if err := j.save(ctx, nil, nil); err != nil {
		return false, err
	}
	if !held {
		j.blocked[ch] = j.d.Updating.Until
		return false, nil
	}
	return true, j.refresh(ctx)
}

// unfence lets go of the group's messages, if this notification holds them.
func (j *job) unfence() {
	if f := j.d.Updating; f == nil || f.Notice != j.n.ID {
		return
	}
	j.changeDelivery(func(d *state.Delivery) {
		if d.Updating != nil && d.Updating.Notice == j.n.ID {
			d.Updating = nil
		}
	})
}

// heldBy blocks the channels an update window holds (see fence) until
// it lets go.
func (j *job) heldBy() {
	now := j.s.now()
	for _, ch := range j.n.Channels {
		if _, done := j.n.Done[ch]; !done && j.d.Updating.Holds(j.n.ID, ch, now) {
			j.blocked[ch] = j.d.Updating.Until
		}
	}
}
