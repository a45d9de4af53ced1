package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// sweepEvery is how often a container also drains the outbox of what
// earlier invocations could not deliver (a Slack outage, a crash between
// commit and delivery). The escalator drains it every minute as well.
const sweepEvery = time.Minute

// handler applies one EventBridge event per invocation, then delivers the
// notifications it queued.
type handler struct {
	proc    *pipeline.Processor
	sender  *deliver.Sender
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics.Recorder

	mu        sync.Mutex
	lastSweep time.Time
}

// newHandler builds the clients once, before the first event (see
// internal/setup for the environment it reads).
func newHandler(ctx context.Context, getenv func(string) string, log *slog.Logger) (*handler, error) {
	d, err := setup.Load(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return &handler{
		proc:    &pipeline.Processor{Config: d.Config, Store: d.Store, Now: time.Now, Log: log, Sightings: d.Store},
		sender:  d.Sender,
		log:     log,
		now:     time.Now,
		metrics: d.Metrics,
	}, nil
}

// handle applies the event. It returns an error only for a transient fault
// (DynamoDB unavailable, throttled, conflicts that did not settle), so that
// Lambda and EventBridge retry; an event that can never succeed has been
// quarantined with its reason, and is acknowledged.
func (h *handler) handle(ctx context.Context, raw json.RawMessage) error {
	defer h.flush(ctx)
	out, err := h.proc.Process(ctx, raw)
	log := h.log.With("event_id", out.EventID, "model", out.Model)
	if err != nil {
		log.ErrorContext(ctx, "event not applied, will be retried", "error", err)
		return err
	}
	h.measure(out)
	if out.Late != "" {
		// Late readings open and resolve nothing: said, so that a monitor
		// sending them is noticed.
		log.WarnContext(ctx, "event late", "reason", out.Late)
	}
	log.InfoContext(ctx, "event applied", "duplicate", out.Duplicate, "quarantined", out.Quarantined,
		"rules_evaluated", out.Evaluated, "changes", len(out.Changes), "notifications", len(out.Queued), "wrote", out.Wrote)
	// A rule over its budget is the rule's fault, not the event's: its
	// owner is told by an alert (see pipeline.RuleError); operators by
	// this line and the RuleErrors metric.
	for _, e := range out.RuleErrors {
		log.ErrorContext(ctx, "rule error", "rule", e.Rule, "owner", e.Owner, "reason", e.Reason)
	}
	// One line per alert changed, so that a search for an alert id finds
	// the event that changed it.
	for _, c := range out.Changes {
		log.InfoContext(ctx, "alert "+c.State, "alert_id", c.Alert, "rule", c.Rule, "owner", c.Owner,
			"severity", c.Severity, "value", c.Value, "group", c.Group, "inhibited_by", c.InhibitedBy)
	}
	// The event is recorded; delivering is the outbox's business from here.
	// A delivery failure is not the event's: it is never retried for it
	// (the notification waits in the outbox), so no error is returned.
	ids := make([]string, len(out.Queued))
	for i, n := range out.Queued {
		ids[i] = n.ID
	}
	rep, err := h.sender.Deliver(ctx, ids)
	if err != nil {
		log.ErrorContext(ctx, "delivery interrupted; the outbox keeps the rest", "error", err)
	}
	if h.sweepDue() {
		swept, err := h.sender.Drain(ctx, sweepLimit)
		if err != nil {
			h.log.ErrorContext(ctx, "outbox sweep interrupted", "error", err)
		}
		rep.Add(swept)
	}
	if rep.Sent+rep.Waiting+rep.Failed > 0 {
		log.InfoContext(ctx, "notifications delivered", "sent", rep.Sent, "waiting", rep.Waiting, "failed_channels", rep.Failed)
	}
	return nil
}

// sweepLimit bounds one sweep: the rest waits for the next.
const sweepLimit = 25

// sweepDue reports whether this container should drain the outbox now.
func (h *handler) sweepDue() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := h.now(); now.Sub(h.lastSweep) >= sweepEvery {
		h.lastSweep = now
		return true
	}
	return false
}

// measure records what became of the event.
func (h *handler) measure(out pipeline.Outcome) {
	m := h.metrics
	m.Count(metrics.EventsReceived, 1)
	if out.Quarantined != "" {
		m.Count(metrics.EventsQuarantined, 1)
	}
	if out.Late != "" {
		m.Count(metrics.EventsLate, 1)
	}
	m.Count(metrics.RulesEvaluated, float64(out.Evaluated))
	if n := len(out.RuleErrors); n > 0 {
		m.Count(metrics.RuleErrors, float64(n))
		m.Count(metrics.RuleErrors, float64(n), "Model", out.Model)
	}
	for _, c := range out.Changes {
		switch c.State {
		case "opened", "reopened":
			m.Count(metrics.AlertsOpened, 1)
			m.Count(metrics.AlertsOpened, 1, "Model", c.Model)
			m.Count(metrics.AlertsOpened, 1, "Owner", c.Owner)
		case "suppressed":
			m.Count(metrics.AlertsSuppressed, 1)
			m.Count(metrics.AlertsSuppressed, 1, "Model", c.Model)
		}
	}
}

func (h *handler) flush(ctx context.Context) {
	if err := h.metrics.Flush(); err != nil {
		h.log.ErrorContext(ctx, "metrics not written", "error", err)
	}
}
