package slacknotify

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// API posts and updates messages (*Client, or replay's printer).
type API interface {
	// Post posts m (in threadTS's thread when set), tagged with key; when
	// mayExist, it first looks for a message tagged with key.
	Post(ctx context.Context, channel, threadTS string, m Message, key string, mayExist bool) (string, error)
	Update(ctx context.Context, channel, ts string, m Message) error
}

// Notifier is the Slack receiver of the delivery core: one message per
// alert group and channel, posted once and then updated in place with a
// thread reply per change.
type Notifier struct {
	API API
	// Channel, when set, replaces every owner's channel (to try the
	// messages in one's own workspace).
	Channel string
	// Team, when set, makes message links (for PagerDuty) point into the
	// workspace: https://<team>.slack.com/archives/…
	Team string
}

// Notify makes one attempt to deliver m on Slack.
func (s *Notifier) Notify(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	n, v := m.Notice, m.View
	channel := cmp.Or(s.Channel, v.Owner.Channel)
	if channel == "" {
		return deliver.Result{}, &notify.Error{Reason: "no slack channel", Err: fmt.Errorf("owner %s has no slack channel", n.Owner)}
	}
	switch n.Kind {
	case state.NoticeDigest:
		ts, err := s.API.Post(ctx, channel, "", Digest(v.Owner, m.DigestDay, m.Digest), n.ID, m.Retry)
		if err != nil {
			return deliver.Result{}, err
		}
		return deliver.Result{Outcome: fmt.Sprintf("posted digest of %d to %s %s", len(m.Digest), channel, ts)}, nil
	case state.NoticeDeliveryFailed:
		return s.failure(ctx, m, channel)
	case state.NoticeLabels:
		// A verdict on an alert often long over: its thread is told, the
		// message (the group's state) stays as it is.
		return s.threadOnly(ctx, m, channel, "labels arrived")
	}
	d := m.Delivery
	if m.Stale {
		return s.staleUpdate(ctx, m, channel)
	}
	msg := Render(v)
	var done []string
	// The group's messages in other channels (the owners before an
	// escalation or a reassignment) show the same state; they are told
	// in their thread when the group moved on. Updating is idempotent
	// and replies are tagged like posts: a retry repeats nothing.
	for _, ch := range slices.Sorted(maps.Keys(d.Slack)) {
		if ch == channel {
			continue
		}
		ts := d.Slack[ch].TS
		if err := s.API.Update(ctx, ch, ts, msg); err != nil {
			return deliver.Result{}, err
		}
		what := "updated " + ch + " " + ts
		if (n.Kind == state.NoticeEscalated || n.Kind == state.NoticeReassigned) && n.Lifecycle.From != n.Owner {
			reply, err := s.API.Post(ctx, ch, ts, Reply(v), n.ID, m.Retry)
			if err != nil {
				return deliver.Result{}, err
			}
			what += ", replied " + reply
		}
		done = append(done, what)
	}
	prev, posted := d.Slack[channel]
	if !posted {
		// The group's first message here: its opening, an escalation or a
		// reassignment to a new owner, or an update whose opening failed.
		ts, err := s.API.Post(ctx, channel, "", msg, n.ID, m.Retry)
		if err != nil {
			return deliver.Result{}, err
		}
		s.remember(d, channel, ts, n.Owner)
		done = append(done, "posted "+channel+" "+ts)
		return deliver.Result{Outcome: strings.Join(done, "; "), Audit: fmt.Sprintf("posted to %s, message %s", channel, ts), Changed: true}, nil
	}
	if err := s.API.Update(ctx, channel, prev.TS, msg); err != nil {
		return deliver.Result{}, err
	}
	reply, err := s.API.Post(ctx, channel, prev.TS, Reply(v), n.ID, m.Retry)
	if err != nil {
		return deliver.Result{}, err
	}
	done = append(done, "updated "+channel+" "+prev.TS+", replied "+reply)
	return deliver.Result{Outcome: strings.Join(done, "; "),
		Audit: fmt.Sprintf("updated message %s in %s, thread reply %s", prev.TS, channel, reply)}, nil
}

// staleUpdate tells, in the thread only, of the alerts that joined a
// group which has ended since: its message already says how it ended.
func (s *Notifier) staleUpdate(ctx context.Context, m *deliver.Message, channel string) (deliver.Result, error) {
	return s.threadOnly(ctx, m, channel, "the group has ended")
}

// threadOnly replies in the group's thread in channel, leaving its
// message as it is (why says why), if the group has a message there.
func (s *Notifier) threadOnly(ctx context.Context, m *deliver.Message, channel, why string) (deliver.Result, error) {
	prev, ok := m.Delivery.Slack[channel]
	if !ok {
		return deliver.Result{Outcome: "not told: the group ended before it had a message in " + channel, Noop: true}, nil
	}
	reply, err := s.API.Post(ctx, channel, prev.TS, Reply(m.View), m.Notice.ID, m.Retry)
	if err != nil {
		return deliver.Result{}, err
	}
	return deliver.Result{Outcome: "replied " + reply + " (" + why + ": message left as it is)",
		Audit: fmt.Sprintf("thread reply %s to message %s in %s (%s)", reply, prev.TS, channel, why)}, nil
}

// failure tells the owner that another channel failed them: in the
// group's thread, with the message updated to say so, or — when the group
// has no message in the channel — as a message of its own carrying the
// alert, so that nothing is lost with what failed.
func (s *Notifier) failure(ctx context.Context, m *deliver.Message, channel string) (deliver.Result, error) {
	n, v, f := m.Notice, m.View, m.Notice.Failure
	if prev, ok := m.Delivery.Slack[channel]; ok {
		// The message says so too, unless the group has ended since (its
		// message then says how, and stays as it is).
		if !m.Stale {
			if err := s.API.Update(ctx, channel, prev.TS, Render(v)); err != nil {
				return deliver.Result{}, err
			}
		}
		reply, err := s.API.Post(ctx, channel, prev.TS, FailureReply(v), n.ID, m.Retry)
		if err != nil {
			return deliver.Result{}, err
		}
		return deliver.Result{Outcome: "told in the thread of " + channel + " " + prev.TS + ", reply " + reply,
			Audit: fmt.Sprintf("%s failure told in the thread of message %s in %s", f.Channel, prev.TS, channel)}, nil
	}
	ts, err := s.API.Post(ctx, channel, "", Failure(v, f.Channel, f.Notice, f.Reason), n.ID, m.Retry)
	if err != nil {
		return deliver.Result{}, err
	}
	return deliver.Result{Outcome: "told in " + channel + " " + ts, Audit: fmt.Sprintf("%s failure told in %s, message %s", f.Channel, channel, ts)}, nil
}

// remember records the group's message in channel, with its link.
func (s *Notifier) remember(d *state.Delivery, channel, ts, owner string) {
	if d.Slack == nil {
		d.Slack = map[string]state.SlackMessage{}
	}
	d.Slack[channel] = state.SlackMessage{TS: ts, Owner: owner, Link: link(s.Team, channel, ts)}
}

// link is a link to a message: the workspace's archive URL when the team
// domain is known, Slack's redirect otherwise.
func link(team, channel, ts string) string {
	p := "p" + strings.Replace(ts, ".", "", 1)
	if team != "" {
		return "https://" + team + ".slack.com/archives/" + channel + "/" + p
	}
	return "https://slack.com/archives/" + channel + "/" + p
}
