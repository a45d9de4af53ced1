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

// Notifier is the PagerDuty receiver of the delivery core: an incident
// per alert group, owner and re-page (IncidentKey), triggered,
// acknowledged and resolved under its dedup key.
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
	// Never an incident older than one triggered already: a failure
	// notice about an earlier notification joins the current one.
	v.Repages = max(v.Repages, latestIncident(d))
	ev, ok := Event(v)
	if !ok {
		return deliver.Result{Outcome: "no page for an update", Noop: true}, nil
	}
	if ev.Action != Trigger {
		return p.follow(ctx, ev, d, nil)
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
	key := state.PageKey(n.Owner, v.Repages)
	if pg := d.Pages[key]; n.Kind == state.NoticeDeliveryFailed && (m.Stale || pg != nil && pg.Status == "resolved") {
		return deliver.Result{Outcome: "not paged: the group has ended", Noop: true}, nil
	}
	if err := p.Sender.Send(ctx, ref, ev); err != nil {
		return deliver.Result{}, err
	}
	if d.Pages == nil {
		d.Pages = map[string]*state.Page{}
	}
	d.Pages[key] = &state.Page{DedupKey: ev.DedupKey, RoutingKey: ref, Status: "triggered", Incident: v.Repages}
	what := fmt.Sprintf("triggered incident %s for %s", ev.DedupKey, n.Owner)
	if f := n.Failure; f != nil {
		what = fmt.Sprintf("told %s that %s failed, under incident %s", n.Owner, f.Channel, ev.DedupKey)
	}
	res := deliver.Result{Outcome: "triggered " + ev.DedupKey, Audit: what, Changed: true}
	// The incidents it supersedes are resolved: each acknowledged one
	// would otherwise stay open for as long as the group does, and come
	// back at its ack timeout. (PagerDuty's webhook of their resolution
	// is about an incident no longer the group's: pdsync ignores it.)
	older := func(pg *state.Page) bool { return pg.Incident < v.Repages }
	sup, err := p.follow(ctx, &pagerduty.V2Event{Action: Resolve, Client: "stakeout"}, d, older)
	if err != nil {
		// Triggered (recorded), not all superseded: the retry triggers
		// again (appended to the incident, no second page) and goes on.
		return deliver.Result{Changed: true}, err
	}
	if !sup.Noop {
		res.Outcome += "; superseded: " + sup.Outcome
		res.Audit += "; superseding the group's earlier incidents: " + sup.Audit
	}
	return res, nil
}

// latestIncident is the latest of the group's incidents triggered.
func latestIncident(d *state.Delivery) int {
	latest := 0
	for _, pg := range d.Pages {
		latest = max(latest, pg.Incident)
	}
	return latest
}

// follow acknowledges or resolves every open incident of the group (only
// those `only` selects, when it is set), where it was triggered: under its
// own dedup key, with its owner's routing key.
func (p *Notifier) follow(ctx context.Context, ev *pagerduty.V2Event, d *state.Delivery, only func(*state.Page) bool) (deliver.Result, error) {
	status := map[string]string{Acknowledge: "acknowledged", Resolve: "resolved"}[ev.Action]
	var done []string
	changed := false
	for _, key := range slices.Sorted(maps.Keys(d.Pages)) {
		pg := d.Pages[key]
		if pg.Status == "resolved" || pg.Status == status || only != nil && !only(pg) {
			continue
		}
		send := *ev
		send.DedupKey = pg.DedupKey
		if err := p.Sender.Send(ctx, pg.RoutingKey, &send); err != nil {
			// What was done stays recorded for the retry.
			return deliver.Result{Changed: changed}, err
		}
		pg.Status, changed = status, true
		owner, _, _ := strings.Cut(key, "#")
		done = append(done, status+" "+pg.DedupKey+" of "+owner)
	}
	if len(done) == 0 {
		return deliver.Result{Outcome: "nothing to " + ev.Action + " (no open incident)", Noop: true}, nil
	}
	return deliver.Result{Outcome: strings.Join(done, "; "), Audit: strings.Join(done, "; "), Changed: true}, nil
}
