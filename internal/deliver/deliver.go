// Package deliver sends the router's outbox: each notification to its
// owner's channels — the group's Slack message (posted once, then updated
// in place with a thread reply per change), the PagerDuty incident, the
// owner's digest — exactly once, whatever retries, crashes and concurrent
// senders do.
//
// How "exactly once" holds, step by step:
//
//  1. A sender claims a notification with a conditional write on its
//     version, for a lease; a second sender's claim fails.
//  2. A group's notifications go out in order (each waits until the one
//     before it is sent), so an update never reaches Slack before the
//     message it updates.
//  3. Before every external call the sender reads what was already done
//     (the notification's Done channels, the group's Slack ts and
//     PagerDuty incident); after every call it records the result — with
//     an audit record on the alert — in one conditional write.
//  4. The one gap left is a call whose answer was lost (or a crash between
//     the call and the write). PagerDuty is idempotent by dedup key and a
//     Slack update by ts; a Slack post carries the notification id in its
//     message metadata, and a retry looks for it before posting again.
//
// Transient failures (rate limits, 5xx, timeouts) are retried with backoff
// within the caller's deadline and the claim's lease, then left in the
// outbox for a later run, not before ClaimedUntil (1, 2, 4 … 30 minutes
// after each failure), and given up on — reported like a permanent one —
// after GiveUpAfter, unless they are every notification's (a revoked
// token), which wait for the fix. Permanent ones (a channel that does not exist, an
// invalid routing key) are recorded on the alert's audit trail and sent to
// the model's platform owner instead — never dropped in silence.
package deliver

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Store is what delivery needs of a store.
type Store interface {
	Pending(ctx context.Context, due time.Time, limit int) ([]*state.Notification, error)
	GetNotice(ctx context.Context, id string) (*state.Notification, error)
	GetDelivery(ctx context.Context, group string) (*state.Delivery, error)
	GetAlert(ctx context.Context, id string) (*state.Alert, error)
	Digest(ctx context.Context, owner string, since, until time.Time) ([]state.DigestEntry, error)
	Commit(ctx context.Context, c *state.Commit) error
}

// Slack posts and updates messages (slacknotify.Client, or a printer).
type Slack interface {
	// Post posts m (in threadTS's thread when set), tagged with key; when
	// mayExist, it first looks for a message tagged with key.
	Post(ctx context.Context, channel, threadTS string, m slacknotify.Message, key string, mayExist bool) (string, error)
	Update(ctx context.Context, channel, ts string, m slacknotify.Message) error
}

// Pager sends PagerDuty events (pdnotify.Client, or a printer).
type Pager interface {
	Send(ctx context.Context, routingKeyRef string, ev *pagerduty.V2Event) error
}

// Bus publishes lifecycle events (bus.Publisher, or a printer).
type Bus interface {
	Publish(ctx context.Context, entries ...bus.Entry) error
}

// Sender delivers notifications.
type Sender struct {
	Config *config.Config
	// Metrics records what was sent and failed (nil: nothing is recorded).
	Metrics *metrics.Recorder
	Store   Store
	Slack   Slack
	Pager   Pager
	// Bus publishes lifecycle events; nil: they are not published (and
	// the notification says so).
	Bus Bus
	// Now is the clock (replay passes the events' clock).
	Now func() time.Time
	Log *slog.Logger
	// Lease is how long a claim holds a notification: longer than any one
	// delivery can take (retries stop before the caller's deadline).
	Lease time.Duration
	// RetryIn is how long a notification waits after its first transient
	// failure; each further one doubles it, up to 30 minutes.
	RetryIn time.Duration
	// GiveUpAfter: see DefaultGiveUpAfter.
	GiveUpAfter time.Duration
	// SlackChannel, when set, replaces every owner's channel (to try the
	// messages in one's own workspace).
	SlackChannel string
	// SlackTeam, when set, makes message links (for PagerDuty) point into
	// the workspace: https://<team>.slack.com/archives/…
	SlackTeam string
}

// Defaults for Sender's durations.
const (
	DefaultLease   = 5 * time.Minute
	DefaultRetryIn = time.Minute
	// notReadyIn is how long a notification waits for an earlier one of
	// its group to go out first.
	notReadyIn = 5 * time.Second
	// maxRetryIn caps the wait between attempts after transient failures.
	maxRetryIn = 30 * time.Minute
	// leaseMargin is kept between the end of a sender's work and the end
	// of its claim (a tenth of the lease if that is less).
	leaseMargin = 30 * time.Second
	// DefaultGiveUpAfter is how long a channel's transient failures are
	// retried before they count as a failure (reported to the platform
	// owner), so that one broken integration cannot hold a group's later
	// notifications back forever. Failures of every notification alike (a
	// revoked Slack token) are never given up on.
	DefaultGiveUpAfter = 2 * time.Hour
	// releaseTimeout bounds giving a notification back after a failure.
	releaseTimeout = 5 * time.Second
	// commitTries bounds re-reads after a concurrent change (the router
	// updating the alert meanwhile, say).
	commitTries = 8
)

// Report counts what a run did.
type Report struct {
	// Sent: every channel of the notification is done (delivered, or
	// failed for good and reported to the platform owner).
	Sent int
	// Waiting: left in the outbox for a later run (a transient failure,
	// the deadline, an earlier notification of the group still pending).
	Waiting int
	// Skipped: sent already, or held by another sender.
	Skipped int
	// Failed counts channels that failed for good.
	Failed int
}

// Add adds o's counts to r.
func (r *Report) Add(o Report) {
	r.Sent, r.Waiting, r.Skipped, r.Failed = r.Sent+o.Sent, r.Waiting+o.Waiting, r.Skipped+o.Skipped, r.Failed+o.Failed
}

// Deliver sends the notifications with these ids (the router passes what
// its commit queued), in order. The error is for store failures only;
// delivery failures are in the report and on the audit trail.
func (s *Sender) Deliver(ctx context.Context, ids []string) (Report, error) {
	var rep Report
	for _, id := range ids {
		r, err := s.deliver(ctx, id)
		rep.Add(r)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
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

// job is one notification being delivered by this sender.
type job struct {
	s *Sender
	n *state.Notification
	d *state.Delivery
	// dChanged: d has something to write.
	dChanged bool
	view     *notify.View
	log      *slog.Logger
}

func (s *Sender) deliver(ctx context.Context, id string) (Report, error) {
	n, err := s.Store.GetNotice(ctx, id)
	if err != nil {
		return Report{}, fmt.Errorf("read notification %s: %w", id, err)
	}
	now := s.now()
	if n == nil || !n.Sent.IsZero() || n.ClaimedUntil.After(now) {
		return Report{Skipped: 1}, nil
	}
	// A group's notifications go out in order: an update must not reach
	// Slack before the message it updates. The predecessor is read before
	// claiming; once sent, it stays sent.
	if seq := n.Seq(); seq > 1 {
		prev, err := s.Store.GetNotice(ctx, fmt.Sprintf("%s#%d", n.Group, seq-1))
		if err != nil {
			return Report{}, fmt.Errorf("read notification %s#%d: %w", n.Group, seq-1, err)
		}
		if prev != nil && prev.Sent.IsZero() {
			// Wait for it without counting an attempt (nothing was tried):
			// a few seconds while it is being sent, else until it is due.
			n.ClaimedUntil = now.Add(notReadyIn)
			if prev.Claim == "" {
				n.ClaimedUntil = later(n.ClaimedUntil, prev.Due())
			}
			if err := s.Store.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil && !errors.Is(err, state.ErrConflict) {
				return Report{}, fmt.Errorf("postpone notification %s: %w", id, err)
			}
			return Report{Waiting: 1}, nil
		}
	}
	lease := cmpDur(s.Lease, DefaultLease)
	n.Claim = token()
	n.ClaimedUntil = now.Add(lease)
	n.Attempts++
	if err := s.Store.Commit(ctx, &state.Commit{Notices: []*state.Notification{n}}); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return Report{Skipped: 1}, nil // another sender has it
		}
		return Report{}, fmt.Errorf("claim notification %s: %w", id, err)
	}
	n.Version++
	// Nothing this sender does may outlast its claim: past the lease,
	// another sender may take the notification over.
	ctx, cancel := context.WithTimeout(ctx, lease-min(leaseMargin, lease/10))
	defer cancel()
	j := &job{s: s, n: n, log: s.log().With("notification", n.ID, "alert", n.Alert.ID, "model", n.Model)}
	if j.d, err = s.Store.GetDelivery(ctx, n.Group); err != nil {
		return Report{}, fmt.Errorf("read delivery of %s: %w", n.Group, err)
	}
	j.view = notify.NewView(s.Config, n)
	var rep Report
	var failed []string // channels that failed for good, counted once recorded
	for _, ch := range n.Channels {
		if _, done := n.Done[ch]; done {
			continue
		}
		outcome, rec, err := j.send(ctx, ch)
		if err != nil && !notify.Permanent(err) && j.givenUp(err) {
			err = &notify.Error{Reason: fmt.Sprintf("gave up after %s: %s", s.giveUpAfter(), notify.Reason(err)), Err: err}
		}
		switch {
		case err == nil:
		case notify.Permanent(err):
			if outcome, rec, err = j.failed(ctx, ch, err); err == nil {
				rep.Failed++
				failed = append(failed, ch)
				break
			}
			fallthrough // the platform owner could not be told yet
		default:
			// Transient, retries spent: leave it for a later run, later
			// each time (1, 2, 4 … 30 minutes), and not before the vendor
			// asked.
			wait := min(cmpDur(s.RetryIn, DefaultRetryIn)<<min(n.Attempts-1, 10), maxRetryIn)
			var ne *notify.Error
			if errors.As(err, &ne) && ne.After > wait {
				wait = ne.After
			}
			j.log.Warn("delivery postponed", "channel", ch, "reason", notify.Reason(err), "retry_in", wait.String(), "error", err)
			n.Claim, n.ClaimedUntil = "", s.now().Add(wait)
			// The caller's deadline may be what stopped us (Slack's 3 s):
			// giving the notification back must not wait for the lease.
			saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			err := j.save(saveCtx, nil)
			cancel()
			if err != nil {
				return rep, err
			}
			rep.Waiting++
			return rep, nil
		}
		if n.Done == nil {
			n.Done = map[string]string{}
		}
		n.Done[ch] = outcome
		if err := j.save(ctx, rec); err != nil {
			return rep, err
		}
	}
	n.Sent, n.Claim = s.now(), ""
	if err := j.save(ctx, nil); err != nil {
		return rep, err
	}
	rep.Sent++
	s.measure(n, failed)
	return rep, nil
}

// measure records a sent notification's metrics. Counted here, after the
// write that marks it sent, each is counted once however often delivery
// was retried.
func (s *Sender) measure(n *state.Notification, failed []string) {
	m := s.Metrics
	if m == nil {
		return
	}
	m.Count(metrics.NotificationsSent, 1)
	for _, ch := range failed {
		m.Count(metrics.NotificationFailures, 1)
		m.Count(metrics.NotificationFailures, 1, "Channel", ch)
	}
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

func (s *Sender) giveUpAfter() time.Duration { return cmpDur(s.GiveUpAfter, DefaultGiveUpAfter) }

// givenUp reports whether a transient failure has lasted too long.
func (j *job) givenUp(err error) bool {
	var ne *notify.Error
	if errors.As(err, &ne) && ne.Global {
		return false
	}
	return j.s.now().Sub(j.n.Created) > j.s.giveUpAfter()
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// record is an audit record to append to the alert's trail.
type record struct{ action, channel, detail string }

// send delivers the notification on one channel and says what happened.
func (j *job) send(ctx context.Context, ch string) (string, *record, error) {
	switch ch {
	case "slack":
		return j.slack(ctx)
	case "pagerduty":
		return j.page(ctx)
	case "digest":
		// Kept for the owner's daily digest (sent by the escalator).
		return "kept for the digest of " + j.n.Owner, &record{audit.Notified, ch, "kept for the daily digest of " + j.n.Owner}, nil
	case lifecycle.Events:
		return j.publish(ctx)
	}
	return "", nil, &notify.Error{Reason: "unknown channel " + ch, Err: fmt.Errorf("unknown channel %q", ch)}
}

func (j *job) slack(ctx context.Context) (string, *record, error) {
	s, n, v := j.s, j.n, j.view
	if s.Slack == nil {
		return "", nil, &notify.Error{Retry: true, Global: true, Reason: "slack is not configured", Err: errors.New("slack is not configured (no bot token)")}
	}
	channel := cmpStr(s.SlackChannel, v.Owner.Channel)
	if channel == "" {
		return "", nil, &notify.Error{Reason: "no slack channel", Err: fmt.Errorf("owner %s has no slack channel", n.Owner)}
	}
	if n.Kind == state.NoticeDigest {
		return j.digest(ctx, channel)
	}
	msg := slacknotify.Render(v)
	var done []string
	// The group's messages in other channels (the owners before an
	// escalation or a reassignment) show the same state; they are told
	// in their thread when the group moved on. Updating is idempotent
	// and replies are tagged like posts: a retry repeats nothing.
	for _, ch := range slices.Sorted(maps.Keys(j.d.Slack)) {
		if ch == channel {
			continue
		}
		ts := j.d.Slack[ch].TS
		if err := s.Slack.Update(ctx, ch, ts, msg); err != nil {
			return "", nil, err
		}
		what := "updated " + ch + " " + ts
		if (n.Kind == state.NoticeEscalated || n.Kind == state.NoticeReassigned) && n.Lifecycle.From != n.Owner {
			reply, err := s.Slack.Post(ctx, ch, ts, slacknotify.Reply(v), n.ID, n.Attempts > 1)
			if err != nil {
				return "", nil, err
			}
			what += ", replied " + reply
		}
		done = append(done, what)
	}
	prev, posted := j.d.Slack[channel]
	if !posted {
		// The group's first message here: its opening, an escalation or a
		// reassignment to a new owner, or an update whose opening failed.
		ts, err := s.Slack.Post(ctx, channel, "", msg, n.ID, n.Attempts > 1)
		if err != nil {
			return "", nil, err
		}
		if j.d.Slack == nil {
			j.d.Slack = map[string]state.SlackMessage{}
		}
		j.d.Slack[channel] = state.SlackMessage{TS: ts, Owner: n.Owner}
		j.dChanged = true
		done = append(done, "posted "+channel+" "+ts)
		return strings.Join(done, "; "), &record{audit.Notified, "slack", fmt.Sprintf("posted to %s, message %s", channel, ts)}, nil
	}
	if err := s.Slack.Update(ctx, channel, prev.TS, msg); err != nil {
		return "", nil, err
	}
	reply, err := s.Slack.Post(ctx, channel, prev.TS, slacknotify.Reply(v), n.ID, n.Attempts > 1)
	if err != nil {
		return "", nil, err
	}
	done = append(done, "updated "+channel+" "+prev.TS+", replied "+reply)
	return strings.Join(done, "; "),
		&record{audit.Notified, "slack", fmt.Sprintf("updated message %s in %s, thread reply %s", prev.TS, channel, reply)}, nil
}

// digest posts an owner's digest of the notifications kept for it in the
// period the notification covers (nothing when there were none).
func (j *job) digest(ctx context.Context, channel string) (string, *record, error) {
	s, n := j.s, j.n
	entries, err := s.Store.Digest(ctx, n.Owner, n.Since, n.Created)
	if err != nil {
		return "", nil, &notify.Error{Retry: true, Reason: "could not read the digest", Err: err}
	}
	if len(entries) == 0 {
		return "nothing to digest", nil, nil
	}
	views := make([]*notify.View, len(entries))
	for i := range entries {
		views[i] = notify.NewView(s.Config, &entries[i].Notice)
	}
	owner := notify.Owner(s.Config, n.Owner)
	day := n.Created.In(ownerZone(s.Config, n.Owner)).Format("Mon 2 Jan 2006")
	ts, err := s.Slack.Post(ctx, channel, "", slacknotify.Digest(owner, day, views), n.ID, n.Attempts > 1)
	if err != nil {
		return "", nil, err
	}
	return fmt.Sprintf("posted digest of %d to %s %s", len(entries), channel, ts), nil, nil
}

func ownerZone(cfg *config.Config, id string) *time.Location {
	if o := cfg.Owners[id]; o != nil && o.Timezone != nil {
		return o.Timezone
	}
	return time.UTC
}

// publish puts the notification's lifecycle event on the bus. Consumers
// deduplicate by the detail's id (the notification's), since a retry after
// a lost answer publishes it again.
func (j *job) publish(ctx context.Context) (string, *record, error) {
	detailType, detail, ok := lifecycle.Event(j.n)
	if !ok {
		return "no event for a " + j.n.Kind + " notification", nil, nil
	}
	if j.s.Bus == nil {
		return "not published (no event bus configured)", nil, nil
	}
	if err := j.s.Bus.Publish(ctx, bus.Entry{DetailType: detailType, Detail: detail, Time: j.n.Created, Resources: nil}); err != nil {
		if bus.Permanent(err) {
			return "", nil, &notify.Error{Reason: "eventbridge refused the event", Err: err}
		}
		return "", nil, &notify.Error{Retry: true, Reason: "eventbridge unavailable", Err: err}
	}
	return "published " + detailType, nil, nil
}

func (j *job) page(ctx context.Context) (string, *record, error) {
	s, n, v := j.s, j.n, j.view
	if ts, ok := j.d.Slack[cmpStr(s.SlackChannel, v.Owner.Channel)]; ok {
		v.SlackLink = slackLink(s.SlackTeam, cmpStr(s.SlackChannel, v.Owner.Channel), ts.TS)
	}
	ev, ok := pdnotify.Event(v)
	if !ok {
		return "no page for an update", nil, nil
	}
	if s.Pager == nil {
		return "", nil, &notify.Error{Reason: "pagerduty is not configured", Err: errors.New("pagerduty is not configured")}
	}
	if ev.Action != pdnotify.Trigger {
		// Acknowledge or resolve every incident of the group, where it
		// was triggered (each owner's routing key).
		var done []string
		for _, owner := range slices.Sorted(maps.Keys(j.d.Pages)) {
			p := j.d.Pages[owner]
			status := map[string]string{pdnotify.Acknowledge: "acknowledged", pdnotify.Resolve: "resolved"}[ev.Action]
			if p.Status == "resolved" || p.Status == status {
				continue
			}
			if err := s.Pager.Send(ctx, p.RoutingKey, ev); err != nil {
				return "", nil, err
			}
			p.Status, j.dChanged = status, true
			done = append(done, status+" "+ev.DedupKey+" of "+owner)
		}
		if len(done) == 0 {
			return "nothing to " + ev.Action + " (no open incident)", nil, nil
		}
		return strings.Join(done, "; "), &record{audit.Notified, "pagerduty", strings.Join(done, "; ")}, nil
	}
	ref := ""
	if o := s.Config.Owners[n.Owner]; o != nil {
		ref = o.PagerDuty.RoutingKey
	}
	if ref == "" {
		if n.Kind != state.NoticeOpened {
			// Escalated to someone who is not paged: Slack tells them.
			return "not paged: " + n.Owner + " has no pagerduty routing_key", nil, nil
		}
		return "", nil, &notify.Error{Reason: "no pagerduty routing key", Err: fmt.Errorf("owner %s has no pagerduty routing_key", n.Owner)}
	}
	if err := s.Pager.Send(ctx, ref, ev); err != nil {
		return "", nil, err
	}
	if j.d.Pages == nil {
		j.d.Pages = map[string]*state.Page{}
	}
	j.d.Pages[n.Owner], j.dChanged = &state.Page{DedupKey: ev.DedupKey, RoutingKey: ref, Status: "triggered"}, true
	return "triggered " + ev.DedupKey, &record{audit.Notified, "pagerduty", fmt.Sprintf("triggered incident %s for %s", ev.DedupKey, n.Owner)}, nil
}

// failed handles a channel that refused the notification for good: the
// model's platform owner is told on Slack (with the alert, so that it is
// not lost), and the trail says so. If telling them fails transiently, the
// error is returned and the notification waits for a later run; if it
// fails for good, the log is the last resort — stakeout's own alarms
// watch its errors.
func (j *job) failed(ctx context.Context, ch string, cause error) (string, *record, error) {
	s, n, v := j.s, j.n, j.view
	reason := notify.Reason(cause)
	target := n.Owner
	if ch == "slack" {
		target = cmpStr(s.SlackChannel, v.Owner.Channel)
	}
	platform := ""
	if m := s.Config.Models[n.Model]; m != nil {
		platform = m.Owners["platform"]
	}
	p := notify.Owner(s.Config, platform)
	pch := cmpStr(s.SlackChannel, p.Channel)
	var told string
	switch {
	case s.Slack == nil || pch == "":
		told = "nobody could be told: no platform owner channel"
	case ch == "slack" && pch == target:
		told = "nobody could be told: the platform owner's channel is the one failing"
	default:
		msg := slacknotify.Failure(v, ch, target, reason)
		_, err := s.Slack.Post(ctx, pch, "", msg, n.ID+"/failed/"+ch, n.Attempts > 1)
		switch {
		case err == nil:
			told = "told " + p.ID + " in " + pch
		case notify.Permanent(err):
			told = "telling " + p.ID + " failed too: " + notify.Reason(err)
		default:
			return "", nil, err
		}
	}
	j.log.Error("delivery failed for good", "channel", ch, "target", target, "reason", reason, "reported", told, "error", cause)
	return "failed: " + reason + "; " + told, &record{audit.DeliveryFailed, ch, fmt.Sprintf("%s to %s failed: %s; %s", ch, target, reason, told)}, nil
}

// save writes the notification's progress, the group's delivery record and
// an audit record in one commit, re-reading the alert (the audit chain's
// head) and the delivery record when they changed meanwhile. It fails if
// the claim was lost.
func (j *job) save(ctx context.Context, rec *record) error {
	for range commitTries {
		c := &state.Commit{Notices: []*state.Notification{j.n}}
		if j.dChanged {
			c.Deliveries = []*state.Delivery{j.d}
		}
		if rec != nil {
			a, err := j.s.Store.GetAlert(ctx, j.n.Alert.ID)
			if err != nil {
				return fmt.Errorf("read alert %s: %w", j.n.Alert.ID, err)
			}
			if a != nil {
				c.Alerts = []*state.Alert{a}
				c.Audit = []audit.Record{j.audit(a, rec)}
			}
		}
		if rec != nil && rec.channel == "digest" {
			c.Digest = []state.DigestEntry{{Owner: j.n.Owner, At: j.s.now(), Notice: *j.n.Clone()}}
		}
		err := j.s.Store.Commit(ctx, c)
		if err == nil {
			j.n.Version++
			if j.dChanged {
				j.d.Version++
				j.dChanged = false
			}
			return nil
		}
		if !errors.Is(err, state.ErrConflict) {
			return fmt.Errorf("record delivery of %s: %w", j.n.ID, err)
		}
		// Who moved? Our claim lost → stop; the group's record → merge.
		cur, err := j.s.Store.GetNotice(ctx, j.n.ID)
		if err != nil {
			return fmt.Errorf("read notification %s: %w", j.n.ID, err)
		}
		if cur == nil || cur.Claim != j.n.Claim || cur.Version != j.n.Version {
			return fmt.Errorf("notification %s: claim lost (held past its lease?): %w", j.n.ID, state.ErrConflict)
		}
		if j.dChanged {
			fresh, err := j.s.Store.GetDelivery(ctx, j.n.Group)
			if err != nil {
				return fmt.Errorf("read delivery of %s: %w", j.n.Group, err)
			}
			j.d = merge(fresh, j.d)
		}
	}
	return fmt.Errorf("record delivery of %s: %w after %d tries", j.n.ID, state.ErrConflict, commitTries)
}

// merge applies what this sender learnt (mine) onto the stored record.
func merge(stored, mine *state.Delivery) *state.Delivery {
	out := stored.Clone()
	if out.Slack == nil && len(mine.Slack) > 0 {
		out.Slack = map[string]state.SlackMessage{}
	}
	for _, ch := range slices.Sorted(maps.Keys(mine.Slack)) {
		if _, ok := out.Slack[ch]; !ok {
			out.Slack[ch] = mine.Slack[ch]
		}
	}
	if out.Pages == nil && len(mine.Pages) > 0 {
		out.Pages = map[string]*state.Page{}
	}
	for owner, p := range mine.Pages {
		cp := *p
		out.Pages[owner] = &cp
	}
	return out
}

func (j *job) audit(a *state.Alert, rec *record) audit.Record {
	n := j.n
	r := audit.Record{Alert: a.ID, At: j.s.now(), Recorded: j.s.now(), Action: rec.action, Actor: "sender",
		Model: a.Model, Version: a.ModelVersion, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric, Feature: a.Feature,
		Segment: a.Segment, Severity: a.Severity, Role: n.Role, Owner: n.Owner, Notify: []string{rec.channel},
		Group: n.Group, Detail: n.Kind + " notification " + n.ID + ": " + rec.detail, ConfigDigest: j.s.Config.Digest}
	a.AuditSeq, a.AuditHash = r.Seal(a.AuditSeq, a.AuditHash)
	return r
}

// slackLink is a link to a message: the workspace's archive URL when the
// team domain is known, Slack's redirect otherwise.
func slackLink(team, channel, ts string) string {
	p := "p" + strings.Replace(ts, ".", "", 1)
	if team != "" {
		return "https://" + team + ".slack.com/archives/" + channel + "/" + p
	}
	return "https://slack.com/archives/" + channel + "/" + p
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

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
