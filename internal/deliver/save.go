package deliver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// record is an audit record to append to the alert's trail.
type record struct{ action, channel, detail string }

// save writes the notification's progress, the group's delivery record,
// an audit record and the notices queued, in one commit, re-reading the
// alert (the audit chain's head) and the delivery record when they
// changed meanwhile. It fails if the claim was lost.
func (j *job) save(ctx context.Context, rec *record, outbox []*state.Notification) error {
	err := state.OnConflict(ctx, commitTries, func(attempt int) error {
		if attempt > 1 {
			if err := j.reread(ctx); err != nil {
				return err
			}
		}
		c := &state.Commit{Notices: []*state.Notification{j.n}, Outbox: outbox}
		if j.dChanged {
			c.Deliveries = []*state.Delivery{j.d}
		}
		if rec != nil {
			a, err := j.s.Store.GetAlert(ctx, j.n.Alert.ID)
			if err != nil {
				return fmt.Errorf("read alert %s: %w", j.n.Alert.ID, err)
			}
			if a != nil {
				c.Record(a, j.audit(a, rec))
			}
		}
		if rec != nil && rec.channel == Digest {
			c.Digest = []state.DigestEntry{{Owner: j.n.Owner, At: j.s.now(), Notice: *j.n.Clone()}}
		}
		return j.s.Store.Commit(ctx, c)
	})
	if errors.Is(err, errClaimLost) {
		// Another sender holds it now: a conflict for the caller, not
		// one to retry here.
		return fmt.Errorf("notification %s: claim lost (held past its lease?): %w", j.n.ID, state.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("record delivery of %s: %w", j.n.ID, err)
	}
	j.n.Version++
	if j.dChanged {
		j.d.Version++
		j.dChanged, j.dOps = false, nil
	}
	return nil
}

var errClaimLost = errors.New("claim lost")

// reread finds out who moved after a conflict: our claim lost → stop (no
// retry can help); the group's delivery record → merge ours onto it.
func (j *job) reread(ctx context.Context) error {
	cur, err := j.s.Store.GetNotice(ctx, j.n.ID)
	if err != nil {
		return fmt.Errorf("read notification %s: %w", j.n.ID, err)
	}
	// (Compared with the claim taken, not j.n's: the last write gives it
	// up, and may be the one that conflicted.)
	if cur == nil || cur.Claim != j.claim || cur.Version != j.n.Version {
		return errClaimLost
	}
	if !j.dChanged {
		return nil
	}
	fresh, err := j.s.Store.GetDelivery(ctx, j.n.Group)
	if err != nil {
		return fmt.Errorf("read delivery of %s: %w", j.n.Group, err)
	}
	j.d = merge(fresh, j.d)
	for _, op := range j.dOps {
		op(j.d)
	}
	return nil
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
		if cur := out.Pages[owner]; cur != nil && cur.Status == "resolved" {
			continue // resolved meanwhile: this sender's copy is older
		}
		cp := *p
		out.Pages[owner] = &cp
	}
	return out
}

// audit is the record of what the sender did, for the alert's trail
// (sealed onto it by Commit.Record).
func (j *job) audit(a *state.Alert, rec *record) audit.Record {
	n := j.n
	channels := []string{rec.channel}
	if rec.channel == "" {
		channels = n.Channels // about the notification, not one channel
	}
	return audit.Record{Alert: a.ID, At: j.s.now(), Recorded: j.s.now(), Action: rec.action, Actor: "sender",
		Model: a.Model, Version: a.ModelVersion, Rule: a.Rule, Kind: a.Kind, Metric: a.Metric, Feature: a.Feature,
		Segment: a.Segment, Severity: a.Severity, Role: n.Role, Owner: n.Owner, Notify: channels,
		Group: n.Group, Detail: n.Kind + " notification " + n.ID + ": " + rec.detail, ConfigDigest: j.s.Config.Digest}
}
