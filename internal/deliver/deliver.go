// Package deliver is stakeout's one delivery core: it sends the outbox —
// each notification on each of its channels (the group's Slack message,
// the PagerDuty incident, the lifecycle event on EventBridge, the owner's
// digest) — exactly once, whatever retries, crashes, concurrent senders and
// vendor outages do. It knows no vendor: each receiver is a Notifier (in
// the manner of Alertmanager's notify/<receiver>) that makes one attempt
// and classifies its own errors into notify.Error; this package owns the
// outbox, the attempts, the backoff, idempotency and giving up.
//
// How "exactly once" holds, step by step:
//
//  1. A sender claims a notification with a conditional write on its
//     version, for a lease; a second sender's claim fails.
//  2. On each channel, a group's notifications go out in order (each waits
//     until the one before it is done on that channel), so an update never
//     reaches Slack before the message it updates.
//  3. Before every external call the notifier reads what was already done
//     (the notification's Done channels, the group's Slack messages and
//     PagerDuty incidents); after every call the result is recorded —
//     with an audit record on the alert — in one conditional write.
//  4. The one gap left is a call whose answer was lost (or a crash between
//     the call and the write). PagerDuty is idempotent by dedup key and a
//     Slack update by ts; a Slack post carries the notification id in its
//     message metadata, and a retry looks for it before posting again.
//
// Channels are independent: each has its own attempts, backoff and
// deadline (Notification.Tries). A failing channel costs the others at most
// one attempt's timeout and never stops them: with Slack down, the page
// still goes out.
//
// Giving up is loud, on a path that works. A permanent failure (a channel
// that does not exist, a routing key PagerDuty refuses) is declared at
// once; a transient one at the channel's deadline (Deadlines); a failure of
// every notification alike (a revoked token) at once. Declaring it
// records delivery_failed on the alert's trail with the last error, counts
// NotificationFailures (CloudWatch alarms on it), and queues a
// NoticeDeliveryFailed to the owner through every other channel that can
// reach them (a PagerDuty event when Slack fails, a Slack message when
// PagerDuty does), or to the model's platform owner when the owner has no
// other. A transient failure goes on being tried after it is declared, so
// that when the channel comes back what is waiting is sent, once.
package deliver

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is what delivery needs of a store.
type Store interface {
	Pending(ctx context.Context, due time.Time, limit int) ([]*state.Notification, error)
	GetNotice(ctx context.Context, id string) (*state.Notification, error)
	GetDelivery(ctx context.Context, group string) (*state.Delivery, error)
	GetGroup(ctx context.Context, model, rule string) (*state.Group, error)
	GetAlert(ctx context.Context, id string) (*state.Alert, error)
	Digest(ctx context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error)
	Commit(ctx context.Context, c *state.Commit) error
}

// Notifier delivers notifications on one channel: it makes one attempt
// (no retries of its own — the core schedules them, so that a failing
// vendor holds nobody else back) and returns a *notify.Error when it fails.
type Notifier interface {
	Notify(ctx context.Context, m *Message) (Result, error)
}

// Message is one notification to deliver on one channel.
type Message struct {
	Notice *state.Notification
	View   *notify.View
	// Delivery is what was sent for the group so far: the notifier reads
	// it before its call and records there what it did (Result.Changed).
	Delivery *state.Delivery
	// Retry: an earlier attempt on this channel failed, and may have gone
	// through unanswered (look before posting again).
	Retry bool
	// Stale: an update whose group has ended or been replaced since: what
	// joined is worth a line in the thread, not an edit of the message.
	Stale bool
	// Digest is, for a NoticeDigest, the notifications it covers (oldest
	// first) and the owner's day they are of.
	Digest    []*notify.View
	DigestDay string
	// Event is the lifecycle event to publish (the events channel).
	Event *Event
}

// Event is a lifecycle event for the bus: its detail type and detail.
type Event struct {
	DetailType string
	Detail     any
	Time       time.Time
}

// Result says what a notifier did.
type Result struct {
	// Outcome is kept on the notification ("posted C0… 1700….").
	Outcome string
	// Audit, when set, is recorded on the alert's trail.
	Audit string
	// Changed: the notifier changed Message.Delivery.
	Changed bool
	// Noop: nothing needed sending ("no page for an update"), so the
	// channel's health is not known from it.
	Noop bool
}

// Sender delivers notifications.
type Sender struct {
	Config *config.Config
	// Metrics records what was sent and failed (nil: nothing is recorded).
	Metrics *metrics.Recorder
	Store   Store
	// Notifiers by channel: "slack", "pagerduty", lifecycle.Events. A
	// channel without one fails as not configured (the lifecycle events
	// are then not published, which is not a failure).
	Notifiers map[string]Notifier
	// Now is the clock (replay passes the events' clock).
	Now func() time.Time
	// Sleep waits between attempts within one run, honouring ctx. Nil:
	// no waiting — what failed waits in the outbox for a later run (what
	// replay does: its time is the events').
	Sleep func(ctx context.Context, d time.Duration) error
	Log   *slog.Logger
	// Lease is how long a claim holds a notification: longer than any one
	// run can take (a run stops before the caller's deadline).
	Lease time.Duration
	// TryTimeout bounds one attempt: the most a hanging vendor can delay
	// the other channels.
	TryTimeout time.Duration
	// RetryWithin is how long one run goes on retrying a failing channel
	// (within the caller's deadline) before leaving it to a later run.
	RetryWithin time.Duration
	// RetryIn is how long a channel waits in the outbox after its first
	// failed run; each further one doubles it, up to MaxRetryIn.
	RetryIn time.Duration
	// Deadlines give, by channel, how long transient failures are retried
	// before the failure is declared (DefaultDeadlines fills the gaps).
	Deadlines map[string]time.Duration
}

// Defaults for Sender's durations.
const (
	DefaultLease       = 5 * time.Minute
	DefaultTryTimeout  = 10 * time.Second
	DefaultRetryWithin = 20 * time.Second
	DefaultRetryIn     = 30 * time.Second
	// MaxRetryIn caps the wait between runs: a channel that comes back
	// is caught up within it.
	MaxRetryIn = 5 * time.Minute
	// notReadyIn is how long a channel waits for an earlier notification
	// of its group being sent on it by another sender.
	notReadyIn = 5 * time.Second
	// leaseMargin is kept between the end of a sender's work and the end
	// of its claim (a tenth of the lease if that is less).
	leaseMargin = 30 * time.Second
	// deadlineMargin is kept before the caller's deadline: no attempt
	// starts, and no wait ends, later than that.
	deadlineMargin = 2 * time.Second
	// releaseTimeout bounds giving a notification back after a run.
	releaseTimeout = 5 * time.Second
	// inRunBackoff starts the waits between attempts within one run.
	inRunBackoff = 200 * time.Millisecond
	// commitTries bounds re-reads after a concurrent change (the router
	// updating the alert meanwhile, say).
	commitTries = 8
)

// DefaultDeadlines: a person must hear within minutes that Slack or
// PagerDuty is failing them; lifecycle events feed other systems, which
// can wait longer.
var DefaultDeadlines = map[string]time.Duration{"slack": 15 * time.Minute, "pagerduty": 15 * time.Minute, "events": time.Hour}

// fallbackDeadline is the deadline of a channel DefaultDeadlines lacks.
const fallbackDeadline = 15 * time.Minute

// Report counts what a run did.
type Report struct {
	// Sent: every channel of the notification is done (delivered, or
	// failed for good and told through the others).
	Sent int
	// Waiting: left in the outbox for a later run (a channel failing,
	// the deadline, an earlier notification of the group still pending).
	Waiting int
	// Skipped: sent already, or held by another sender.
	Skipped int
	// Failed counts channel failures declared (each once).
	Failed int
	// Dropped: not sent, as what it told was over (see Sender.drop).
	Dropped int
}

// Add adds o's counts to r.
func (r *Report) Add(o Report) {
	r.Sent, r.Waiting, r.Skipped, r.Failed = r.Sent+o.Sent, r.Waiting+o.Waiting, r.Skipped+o.Skipped, r.Failed+o.Failed
	r.Dropped += o.Dropped
}

// Deliver sends the notifications with these ids (the router passes what
// its commit queued), in order, and then the failure notices the run
// queued. The error is for store failures only; delivery failures are in
// the report and on the audit trail.
//
// Every notification is tried once before any is tried again: a channel
// that fails costs the others one attempt, never a retry budget. Those
// left with a channel to retry are held (claimed) and retried together
// while the run's budget lasts (RetryWithin, the caller's deadline), then
// given back to the outbox.
func (s *Sender) Deliver(ctx context.Context, ids []string) (Report, error) {
	var rep Report
	b := &batch{}
	var held []*job
	release := func(j *job) error {
		err := j.release(ctx)
		rep.Add(j.rep)
		return err
	}
	fail := func(err error) (Report, error) {
		for _, j := range held {
			_ = release(j)
		}
		return rep, err
	}
	for i := 0; i < len(ids); i++ {
		// A long run must not hold a claim past its lease: another sender
		// may take the notification then.
		keep := held[:0]
		for _, j := range held {
			if j.n.ClaimedUntil.Sub(s.now()) >= leaseMargin {
				keep = append(keep, j)
			} else if err := release(j); err != nil {
				held = append(keep, held[len(keep):]...)
				return fail(err)
			}
		}
		held = keep
		j, r, err := s.start(ctx, b, ids[i])
		rep.Add(r)
		if err != nil {
			return fail(err)
		}
		if j == nil {
			continue
		}
		ids = append(ids, j.queued...)
		if j.retrying() {
			held = append(held, j)
		} else if err := release(j); err != nil {
			return fail(err)
		}
	}
	for len(held) > 0 {
		wait, ok := b.nextWait(ctx, s, held)
		if !ok || s.Sleep(ctx, wait) != nil {
			break
		}
		b.slept += wait
		still := held[:0]
		for _, j := range held {
			if err := j.round(ctx); err != nil {
				held = append(still, held[len(still):]...)
				return fail(err)
			}
			if j.retrying() {
				still = append(still, j)
			} else if err := release(j); err != nil {
				return fail(err)
			}
		}
		held = still
	}
	for _, j := range held {
		if err := release(j); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// batch is the time line of one Deliver: how long it has waited for
// retries, which every held notification's backoff counts on.
type batch struct{ slept time.Duration }

// nextWait is how long to wait for the next retry of a held notification,
// if the run's budget allows one.
func (b *batch) nextWait(ctx context.Context, s *Sender, held []*job) (time.Duration, bool) {
	if s.Sleep == nil {
		return 0, false
	}
	next, any := time.Duration(0), false
	for _, j := range held {
		if r, ok := j.nextReady(); ok && (!any || r < next) {
			next, any = r, true
		}
	}
	wait := max(next-b.slept, 0)
	lease := cmpDur(s.Lease, DefaultLease)
	switch {
	case !any, b.slept+wait > cmpDur(s.RetryWithin, DefaultRetryWithin):
		return 0, false
	case b.slept+wait > lease-min(leaseMargin, lease/10):
		return 0, false // the claims would run out: another sender may take over
	case !s.timeLeft(ctx, wait+deadlineMargin+cmpDur(s.TryTimeout, DefaultTryTimeout)/2):
		return 0, false
	}
	return wait, true
}

// minAttempt is the least time worth starting an attempt with.
const minAttempt = 500 * time.Millisecond

// timeLeft reports whether, after `need`, an attempt can still start
// before the caller's deadline (what it does is recorded even past it).
func (s *Sender) timeLeft(ctx context.Context, need time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline)-need >= minAttempt
}

// Drain sends up to limit pending notifications that are due, the
// longest-waiting first.
func (s *Sender) Drain(ctx context.Context, limit int) (Report, error) {
	pending, err := s.Store.Pending(ctx, s.now(), limit)
	if err != nil {
		return Report{}, fmt.Errorf("read the outbox: %w", err)
	}
	// Groups in the order of their oldest due notification; within a
	// group, in order (a later one would only wait for its predecessor).
	first := map[string]int{}
	for i, n := range pending {
		if _, ok := first[n.Group]; !ok {
			first[n.Group] = i
		}
	}
	slices.SortStableFunc(pending, func(a, b *state.Notification) int {
		return cmp.Or(first[a.Group]-first[b.Group], a.Seq()-b.Seq())
	})
	ids := make([]string, len(pending))
	for i, n := range pending {
		ids[i] = n.ID
	}
	return s.Deliver(ctx, ids)
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sender) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// start claims a notification and attempts each of its channels that is
// due, once. It returns the job (nil when the notification was not taken)
// for the caller to retry or give back.
func (s *Sender) start(ctx context.Context, b *batch, id string) (*job, Report, error) {
	n, err := s.Store.GetNotice(ctx, id)
	if err != nil {
		return nil, Report{}, fmt.Errorf("read notification %s: %w", id, err)
	}
	now := s.now()
	if n == nil || !n.Sent.IsZero() || n.ClaimedUntil.After(now) || n.Hold.After(now) {
		return nil, Report{Skipped: 1}, nil
	}
	lease := cmpDur(s.Lease, DefaultLease)
	n.Claim, n.ClaimedUntil = token(), now.Add(lease)
	n.Attempts++
	if err := s.Store.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return nil, Report{Skipped: 1}, nil // another sender has it
		}
		return nil, Report{}, fmt.Errorf("claim notification %s: %w", id, err)
	}
	n.Version++
	j := &job{s: s, n: n, b: b, claim: n.Claim, log: s.log().With("notification", n.ID, "alert", n.Alert.ID, "model", n.Model),
		ready: map[string]time.Duration{}, runTries: map[string]int{}, blocked: map[string]time.Time{},
		prevs: map[int]*state.Notification{}}
	switch why, err := j.over(ctx); {
	case err != nil:
		return nil, Report{}, err
	case why != "":
		return nil, Report{Dropped: 1}, j.drop(ctx, why)
	}
	// Which channels wait for an earlier notification is settled before
	// the group's record is read: one that went out meanwhile has its
	// message in the record we read (else we would post a second one).
	for _, ch := range n.Channels {
		if _, done := n.Done[ch]; done {
			continue
		}
		until, err := j.waitsForEarlier(ctx, ch)
		if err != nil {
			return nil, Report{}, err
		}
		if !until.IsZero() {
			j.blocked[ch] = until
		}
	}
	if n.Kind != state.NoticeUpdated {
		// (An update is brought up to date per attempt: see fence.)
		if err := j.refresh(ctx); err != nil {
			return nil, Report{}, err
		}
	}
	if j.d, err = s.Store.GetDelivery(ctx, n.Group); err != nil {
		return nil, Report{}, fmt.Errorf("read delivery of %s: %w", n.Group, err)
	}
	j.heldBy()
	return j, Report{}, j.round(ctx)
}

// job is one notification being delivered by this sender.
type job struct {
	s *Sender
	n *state.Notification
	d *state.Delivery
	// claim is the token this sender claimed the notification with.
	claim string
	log   *slog.Logger
	// dChanged: d has something to write; dOps replays this run's
	// changes to the group's failing channels on a re-read record.
	dChanged bool
	dOps     []func(*state.Delivery)
	// prevs are the group's earlier notifications read, by number.
	prevs map[int]*state.Notification
	// slept is how long this run has waited; ready, per channel, when on
	// that timeline it may be tried again in this run; blocked, the
	// channels waiting for an earlier notification, until when.
	b        *batch
	ready    map[string]time.Duration
	runTries map[string]int
	blocked  map[string]time.Time
	rep      Report
	queued   []string
	// stale: see Message.Stale.
	stale bool
}

// refresh brings an update window's notification, or a failure notice,
// up to the group as it is now — the alerts joined since, who owns it,
// what people did, the severity it is told at (raised meanwhile) — so
// that it never shows an older state than the group's message already
// does (lifecycle.AsGroup).
func (j *job) refresh(ctx context.Context) error {
	n := j.n
	if (n.Kind != state.NoticeUpdated || n.JoinCount() == 0) && n.Kind != state.NoticeDeliveryFailed {
		return nil
	}
	g, err := j.s.Store.GetGroup(ctx, n.Model, n.Rule)
	if err != nil {
		return fmt.Errorf("read group of %s/%s: %w", n.Model, n.Rule, err)
	}
	if g == nil || g.ID != n.Group || g.Over() {
		j.stale = true
		return nil
	}
	// An update goes to whoever has the group now, a failure notice to
	// whom it was addressed.
	owner, role := n.Owner, n.Role
	lifecycle.AsGroup(n, g)
	if n.Kind != state.NoticeUpdated {
		n.Owner, n.Role = owner, role
	}
	return nil
}

// round attempts, once, each of the notification's channels that is due.
func (j *job) round(ctx context.Context) error {
	for _, ch := range j.n.Channels {
		if !j.due(ch) {
			continue
		}
		if !j.s.timeLeft(ctx, 0) {
			// Too late to start an attempt and record it: the next run
			// takes the channel at once.
			j.blocked[ch] = j.s.now()
			continue
		}
		if j.n.Kind == state.NoticeUpdated {
			if held, err := j.fence(ctx, ch); err != nil || !held {
				if err != nil {
					return err
				}
				continue
			}
		}
		if err := j.attempt(ctx, ch); err != nil {
			return err
		}
	}
	return nil
}

// due reports whether ch is to be tried now in this run.
func (j *job) due(ch string) bool {
	if _, done := j.n.Done[ch]; done {
		return false
	}
	if _, waiting := j.blocked[ch]; waiting {
		return false
	}
	if r, tried := j.ready[ch]; tried {
		return r <= j.b.slept
	}
	// First time in this run: as the outbox scheduled it.
	t := j.n.Tries[ch]
	return t == nil || !t.Next.After(j.s.now())
}

// retrying reports whether a channel failed in this run and may be tried
// again in it.
func (j *job) retrying() bool {
	_, ok := j.nextReady()
	return ok
}

// nextReady is when, on the batch's time line, the job's next retry is.
func (j *job) nextReady() (time.Duration, bool) {
	next, any := time.Duration(0), false
	for ch, r := range j.ready {
		if _, done := j.n.Done[ch]; done {
			continue
		}
		if _, waiting := j.blocked[ch]; waiting {
			continue
		}
		if !any || r < next {
			next, any = r, true
		}
	}
	return next, any
}

// release gives the notification back: sent when every channel is done,
// else due again when its earliest channel is.
func (j *job) release(ctx context.Context) error {
	n := j.n
	if allDone(n) {
		if n.Sent.IsZero() {
			n.Sent, n.Claim, n.ClaimedUntil = j.s.now(), "", time.Time{}
			if err := j.save(ctx, nil, nil); err != nil {
				return err
			}
		}
		j.rep.Sent++
		j.s.measure(n)
		return nil
	}
	next := time.Time{}
	for _, ch := range n.Channels {
		if _, done := n.Done[ch]; done {
			continue
		}
		at := j.blocked[ch]
		if t := n.Tries[ch]; at.IsZero() && t != nil {
			at = t.Next
		}
		if at.IsZero() {
			at = j.s.now() // not tried (the run's deadline): at once
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	n.Claim, n.ClaimedUntil = "", next
	j.unfence()
	// The caller's deadline may be what stopped us (Slack's 3 s): giving
	// the notification back must not wait for the lease.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := j.save(saveCtx, nil, nil); err != nil {
		return err
	}
	j.rep.Waiting++
	return nil
}

func allDone(n *state.Notification) bool {
	for _, ch := range n.Channels {
		if _, ok := n.Done[ch]; !ok {
			return false
		}
	}
	return true
}

// measure records a sent notification's metrics. Counted here, after the
// write that marks it sent, each is counted once however often delivery
// was retried.
func (s *Sender) measure(n *state.Notification) {
	m := s.Metrics
	if m == nil {
		return
	}
	m.Count(metrics.NotificationsSent, 1)
	switch n.Kind {
	case state.NoticeOpened:
		if !n.Alert.OpenedAt.IsZero() {
			m.Milliseconds(metrics.NotificationLag, n.Sent.Sub(n.Alert.OpenedAt))
		}
	case state.NoticeEscalated:
		m.Count(metrics.AlertsEscalated, 1)
		m.Count(metrics.AlertsEscalated, 1, "Owner", n.Owner)
	case state.NoticeAcknowledged:
		if l := n.Lifecycle; !l.AckedAt.IsZero() && !n.Alert.OpenedAt.IsZero() {
			tta := l.AckedAt.Sub(n.Alert.OpenedAt)
			m.Milliseconds(metrics.TimeToAcknowledge, tta)
			m.Milliseconds(metrics.TimeToAcknowledge, tta, "Owner", l.Owner)
		}
	}
}

// countFailures records declared channel failures, once each.
func (s *Sender) countFailures(channels []string) {
	if s.Metrics == nil {
		return
	}
	for _, ch := range channels {
		s.Metrics.Count(metrics.NotificationFailures, 1)
		s.Metrics.Count(metrics.NotificationFailures, 1, "Channel", ch)
	}
}

// Sleep waits d or until ctx ends: the Sleep of a sender on the real clock.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func cmpDur(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}
