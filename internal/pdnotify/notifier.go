package pdnotify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Sender sends one Events API v2 event (*Client, or replay's printer).
type Sender interface {
	Send(ctx context.Context, routingKeyRef string, ev *pagerduty.V2Event) error
}

// Notifier is the PagerDuty receiver of the delivery core: one incident
// per alert group and owner, triggered, acknowledged and resolved under
// the group's dedup key.
type Notifier struct {
	Config *config.Config
	Sender Sender
}

// Notify makes one attempt to deliver m on PagerDuty.
func (p *Notifier) Notify(ctx context.Context, m *deliver.Message) (deliver.Result, error) {
	n, v, d := m.Notice, m.View, m.Delivery
	for _, msg := range d.Slack {
		if msg.Owner == n.Owner && msg.Link != "" {
			v.SlackLink = msg.Link
		}
	}
	ev, ok := Event(v)
	if !ok {
		return deliver.Result{Outcome: "no page for an update", Noop: true}, nil
	}
	if ev.Action != Trigger {
		return p.follow(ctx, ev, d)
	}
	ref := ""
	if o := p.Config.Owners[n.Owner]; o != nil {
		ref = o.PagerDuty.RoutingKey
	}
	if ref == "" {
		if n.Kind != state.NoticeOpened {
			// Escalated to someone who is not paged: Slack tells them.
			return deliver.Result{Outcome: "not paged: " + n.Owner + " has no pagerduty routing_key", Noop: true}, nil
		}
		return deliver.Result{}, &notify.Error{Reason: "no pagerduty routing key", Err: fmt.Errorf("owner %s has no pagerduty routing_key", n.Owner)}
	}
	if pg := d.Pages[n.Owner]; n.Kind == state.NoticeDeliveryFailed && (m.Stale || pg != nil && pg.Status == "resolved") {
		return deliver.Result{Outcome: "not paged: the group has ended", Noop: true}, nil
	}
	if err := p.Sender.Send(ctx, ref, ev); err != nil {
		return deliver.Result{}, err
	}
	if d.Pages == nil {
		d.Pages = map[string]*state.Page{}
	}
	d.Pages[n.Owner] = &state.Page{DedupKey: ev.DedupKey, RoutingKey: ref, Status: "triggered"}
	what := fmt.Sprintf("triggered incident %s for %s", ev.DedupKey, n.Owner)
	if f := n.Failure; f != nil {
		what = fmt.Sprintf("told %s that %s failed, under incident %s", n.Owner, f.Channel, ev.DedupKey)
	}
	return deliver.Result{Outcome: "triggered " + ev.DedupKey, Audit: what, Changed: true}, nil
}

// follow acknowledges or resolves every incident of the group, where it
// was triggered (each owner's routing key).
func (p *Notifier) follow(ctx context.Context, ev *pagerduty.V2Event, d *state.Delivery) (deliver.Result, error) {
	status := map[string]string{Acknowledge: "acknowledged", Resolve: "resolved"}[ev.Action]
	var done []string
	changed := false
	for _, owner := range slices.Sorted(maps.Keys(d.Pages)) {
		pg := d.Pages[owner]
		if pg.Status == "resolved" || pg.Status == status {
			continue
		}
		if err := p.Sender.Send(ctx, pg.RoutingKey, ev); err != nil {
			// What was done stays recorded for the retry.
			return deliver.Result{Changed: changed}, err
		}
		pg.Status, changed = status, true
		done = append(done, status+" "+ev.DedupKey+" of "+owner)
	}
	if len(done) == 0 {
		return deliver.Result{Outcome: "nothing to " + ev.Action + " (no open incident)", Noop: true}, nil
	}
	return deliver.Result{Outcome: strings.Join(done, "; "), Audit: strings.Join(done, "; "), Changed: true}, nil
}
