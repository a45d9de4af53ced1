package deliver

import (
	"context"
	"fmt"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// over says why the notification is not to be sent ("" when it is): an
// opening held to its owner's working hours whose group was over by the
// time they began — paging at 09:00 for what resolved at 04:00, then
// resolving straight after, tells nobody anything — and, while the group
// stays over, whatever follows a notification dropped so (its resolution,
// the update of alerts that joined meanwhile).
func (j *job) over(ctx context.Context) (string, error) {
	n := j.n
	held := n.Kind == state.NoticeOpened && !n.Hold.IsZero()
	var after *state.Notification
	if !held {
		p, err := j.predecessor(ctx)
		if err != nil || p == nil || p.Dropped == "" {
			return "", err
		}
		after = p
	}
	g, err := j.s.Store.GetGroup(ctx, n.Model, n.Rule)
	if err != nil {
		return "", fmt.Errorf("read group of %s/%s: %w", n.Model, n.Rule, err)
	}
	if g != nil && g.ID == n.Group && !g.Over() {
		return "", nil
	}
	if held {
		return fmt.Sprintf("held until %s (outside %s's working hours), and the group was over by then", n.Hold.UTC().Format(time.RFC3339), n.Owner), nil
	}
	return "follows " + after.ID + ", dropped (" + after.Dropped + "), and the group is over", nil
}

// predecessor is the group's notification this one follows: the one it
// names (After), else the latest before it that exists.
func (j *job) predecessor(ctx context.Context) (*state.Notification, error) {
	if j.n.After != "" {
		return j.earlier(ctx, -1)
	}
	for k := j.n.Seq() - 1; k >= 1 && j.n.Seq()-k <= maxWalk; k-- {
		if p, err := j.earlier(ctx, k); err != nil || p != nil {
			return p, err
		}
	}
	return nil, nil
}

// drop marks every channel of the notification done without sending it,
// and records why on the alert's trail, in one write.
func (j *job) drop(ctx context.Context, why string) error {
	n := j.n
	if n.Done == nil {
		n.Done = map[string]string{}
	}
	for _, ch := range n.Channels {
		if _, done := n.Done[ch]; !done {
			n.Done[ch] = "dropped: " + why
		}
	}
	n.Dropped, n.Sent, n.Claim, n.ClaimedUntil = why, j.s.now(), "", time.Time{}
	j.log.Info("notification dropped", "reason", why)
	return j.save(ctx, &record{action: audit.Dropped, detail: "not sent: " + why}, nil)
}
