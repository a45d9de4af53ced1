// Package pdsync keeps stakeout in step with PagerDuty: it receives
// PagerDuty's webhooks (v3) behind a Lambda Function URL, and an incident
// acknowledged or resolved there acknowledges (stopping the escalation) or
// resolves the stakeout alert group it was triggered for — reflected in
// the Slack message and the audit trail like a button press in Slack.
//
// Every request is verified first (X-PagerDuty-Signature: one or more
// v1=<HMAC-SHA256 of the raw body>, any match): anything else gets 401 and
// changes nothing. Incidents stakeout did not trigger (their incident_key
// is not one of its dedup keys) are logged and ignored. PagerDuty wants an
// answer within 5 seconds; the work is bounded by Budget.
package pdsync

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/funcurl"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
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

// dedupPrefix starts every dedup key stakeout triggers with (pdnotify).
const dedupPrefix = "stakeout/"

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
	log := a.log().With("pagerduty_event", ev.ID, "event_type", ev.Type)
	action := map[string]string{pdwebhook.IncidentAcknowledged: lifecycle.Acknowledge, pdwebhook.IncidentResolved: lifecycle.Resolve}[ev.Type]
	if action == "" || ev.Incident == nil {
		log.InfoContext(ctx, "PagerDuty event ignored (stakeout acts on incident.acknowledged and incident.resolved)")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	group, ok := strings.CutPrefix(ev.Incident.IncidentKey, dedupPrefix)
	if !ok {
		log.InfoContext(ctx, "PagerDuty incident not stakeout's: ignored", "incident", ev.Incident.ID, "incident_key", ev.Incident.IncidentKey)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	by := lifecycle.Actor{ID: "pagerduty", Name: "PagerDuty"}
	if ev.Agent.ID != "" {
		by = lifecycle.Actor{ID: "pagerduty:" + ev.Agent.ID, Name: ev.Agent.Summary}
	}
	m := &lifecycle.Manager{Config: a.Config, Store: a.Store, Now: a.Now, Log: a.Log}
	// An acknowledgement may be PagerDuty echoing stakeout's own (a
	// snooze acknowledges the incident): it never undoes a snooze.
	res, err := m.Apply(ctx, lifecycle.Change{Action: action, Group: group, By: by, Echo: action == lifecycle.Acknowledge,
		Reason: "in PagerDuty, incident " + ev.Incident.ID})
	if err != nil {
		log.ErrorContext(ctx, "PagerDuty change not applied; PagerDuty will retry", "group", group, "error", err)
		http.Error(w, "stakeout could not record the change; please retry", http.StatusServiceUnavailable)
		return
	}
	log.InfoContext(ctx, "PagerDuty change", "group", group, "action", action, "done", res.Done, "message", res.Message)
	if res.Done && a.Deliver != nil && len(res.Queued) > 0 {
		if err := a.Deliver(ctx, res.Queued); err != nil {
			log.WarnContext(ctx, "Slack update left to the outbox", "error", err)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
