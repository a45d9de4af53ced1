// Package pdsync keeps stakeout in step with PagerDuty: it receives
// PagerDuty's webhooks (v3) behind a Lambda Function URL, and an incident
// acknowledged or resolved there acknowledges (stopping the escalation) or
// resolves the stakeout alert group it was triggered for — reflected in
// the Slack message and the audit trail like a button press in Slack.
//
// Every request is verified first (X-PagerDuty-Signature: one or more
// v1=<HMAC-SHA256 of the raw body>, any match): anything else gets 401 and
// changes nothing. Incidents stakeout did not trigger (their incident_key
// is not one of its dedup keys) are logged and ignored. Each event acts
// once: a redelivery or a replay of it changes nothing, and neither does an
// event from before the alert's current cycle, or about an incident of the
// group that a later one superseded (see apply). Any of a group's
// incidents (pdnotify.IncidentKey) leads to the group. PagerDuty wants
// an answer within 5 seconds; the work is bounded by Budget.
package pdsync

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/funcurl"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pdwebhook"
	"github.com/stakeout-ml/stakeout/internal/signature"
)

// App answers PagerDuty's webhooks.
type App struct {
	Config *config.Config
	Store  lifecycle.Store
	// Deliver sends what a change queued (deliver.Sender's Deliver).
	Deliver func(ctx context.Context, ids []string) error
	// WebhookSecret returns the webhook subscription's signing secret.
	WebhookSecret func(ctx context.Context) ([]byte, error)
	Now           func() time.Time
	Log           *slog.Logger
	// Budget bounds the work of one request (default 4 s of PagerDuty's 5).
	Budget time.Duration
}

// DefaultBudget leaves a second of PagerDuty's 5 for the network.
const DefaultBudget = 4 * time.Second

func (a *App) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ServeHTTP verifies, parses and applies one webhook.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := funcurl.ReadPost(w, r, pdwebhook.MaxBody)
	if !ok {
		return
	}
	budget := a.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(r.Context(), budget)
	defer cancel()
	secret, err := a.WebhookSecret(ctx)
	if err != nil {
		a.log().ErrorContext(ctx, "no PagerDuty webhook secret", "error", err)
		http.Error(w, "stakeout cannot verify PagerDuty webhooks: its secret is not configured", http.StatusInternalServerError)
		return
	}
	if err := signature.VerifyPagerDuty(secret, r.Header, body); err != nil {
		a.log().WarnContext(ctx, "rejected a PagerDuty webhook", "reason", err.Error(), "remote", r.RemoteAddr)
		http.Error(w, "invalid webhook signature", http.StatusUnauthorized)
		return
	}
	ev, err := pdwebhook.Parse(body)
	if err != nil {
		// Verified, so PagerDuty's: retrying will not fix it. Logged with
		// the reason and acknowledged rather than retried forever.
		a.log().ErrorContext(ctx, "unreadable PagerDuty webhook", "error", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := a.apply(ctx, ev); err != nil {
		http.Error(w, "stakeout could not record the change; please retry", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Retention is how long a webhook's event id is remembered, counted from
// when the event occurred, and the age past which an event is refused, so
// that every event stakeout accepts is remembered for as long as it can
// arrive again. PagerDuty's "Behavior" page (developer.pagerduty.com, source
// github.com/PagerDuty/developer-docs docs/webhooks/02-Behavior.md, "Temporary
// Errors and Retries") says "Webhooks will be periodically retried for up
// to 48 hours", that later webhooks of the same resource wait in a queue
// meanwhile, and that after 3 consecutive dropped webhooks the subscription
// is disabled and its queue dropped: a delivery comes at most about 3 × 48
// hours after its event. A week covers that, with room for clocks.
const Retention = 7 * 24 * time.Hour

// apply acts on a verified webhook. The error (the store failed) asks
// PagerDuty to retry; anything stakeout ignores is logged with why.
//
// Replay protection: PagerDuty's v3 signature covers the body only, with
// no timestamp, so a copy of a signed webhook verifies forever. The event
// is therefore recorded by event.id, which is inside the signed body (the
// X-Webhook-Id header PagerDuty suggests for deduplication is not signed,
// so a replay could change it), in the same write as its change; a copy
// changes nothing while the record lasts (Retention), and after that it is
// refused for its age. An event older than the alert group's current cycle
// (an acknowledgement from before the last escalation) changes nothing
// either, however it arrives; nor does one about an incident the group's
// next one superseded (stakeout resolves those itself: their
// incident.resolved must not resolve the group).
func (a *App) apply(ctx context.Context, ev pdwebhook.Event) error {
	log := a.log().With("pagerduty_event", ev.ID, "event_type", ev.Type)
	action := map[string]string{pdwebhook.IncidentAcknowledged: lifecycle.Acknowledge, pdwebhook.IncidentResolved: lifecycle.Resolve}[ev.Type]
	if action == "" || ev.Incident == nil {
		log.InfoContext(ctx, "PagerDuty event ignored (stakeout acts on incident.acknowledged and incident.resolved)")
		return nil
	}
	group, repages, ok := pdnotify.ParseIncidentKey(ev.Incident.IncidentKey)
	if !ok {
		log.InfoContext(ctx, "PagerDuty incident not stakeout's: ignored", "incident", ev.Incident.ID, "incident_key", ev.Incident.IncidentKey)
		return nil
	}
	log = log.With("group", group, "incident", repages+1, "action", action, "occurred_at", ev.OccurredAt)
	if age := a.now().Sub(ev.OccurredAt); age >= Retention {
		log.WarnContext(ctx, "PagerDuty event ignored", "reason", fmt.Sprintf(
			"it occurred %s ago, longer than PagerDuty retries a delivery (%s): a replay, not a delivery", age.Round(time.Minute), Retention))
		return nil
	}
	by := lifecycle.Actor{ID: "pagerduty", Name: "PagerDuty"}
	if ev.Agent.ID != "" {
		by = lifecycle.Actor{ID: "pagerduty:" + ev.Agent.ID, Name: ev.Agent.Summary}
	}
	m := &lifecycle.Manager{Config: a.Config, Store: a.Store, Now: a.Now, Log: a.Log}
	// An acknowledgement may be PagerDuty echoing stakeout's own (a
	// snooze acknowledges the incident): it never undoes a snooze.
	res, err := m.Apply(ctx, lifecycle.Change{Action: action, Group: group, By: by, Echo: action == lifecycle.Acknowledge,
		Reason: "in PagerDuty, incident " + ev.Incident.ID, At: ev.OccurredAt, Incident: repages + 1,
		Once: lifecycle.Once{ID: "pagerduty:" + ev.ID, Expires: ev.OccurredAt.Add(Retention)}})
	switch {
	case err != nil:
		log.ErrorContext(ctx, "PagerDuty change not applied; PagerDuty will retry", "error", err)
		return err
	case res.Duplicate:
		log.InfoContext(ctx, "PagerDuty event ignored", "reason", "applied before: a redelivery or a replay of the same event id")
		return nil
	case res.Stale:
		log.WarnContext(ctx, "PagerDuty event ignored", "reason", res.Message)
		return nil
	}
	log.InfoContext(ctx, "PagerDuty change", "done", res.Done, "message", res.Message)
	if res.Done && a.Deliver != nil && len(res.Queued) > 0 {
		if err := a.Deliver(ctx, res.Queued); err != nil {
			log.WarnContext(ctx, "Slack update left to the outbox", "error", err)
		}
	}
	return nil
}

func (a *App) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
