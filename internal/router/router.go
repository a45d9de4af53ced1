// Package router is the router function's work: one EventBridge event in,
// its alerts applied (internal/pipeline), one log line per alert changed,
// its metrics counted, and the notifications it queued delivered, with a
// periodic sweep of the outbox. The Lambda function (functions/router) and
// `stakeout serve` run this same Handler.
package router

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// SweepEvery is how often a handler also drains the outbox of what earlier
// events could not deliver (a Slack outage, a crash between commit and
// delivery). The escalator drains it every minute as well.
const SweepEvery = time.Minute

// SweepLimit bounds one sweep: the rest waits for the next.
const SweepLimit = 25

// Store is what the router reads and writes: the pipeline's records, and
// the signals and model versions it sees (silence detection, rollbacks).
type Store interface {
	pipeline.Store
	pipeline.Sightings
	pipeline.Timelines
}

// Handler applies one EventBridge event per call, then delivers the
// notifications it queued. It is safe for concurrent use.
type Handler struct {
	proc    *pipeline.Processor
	sender  *deliver.Sender
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics.Recorder // nil: none recorded

	// queued, when set, is called instead of delivering (DeferDelivery).
	queued func()

	mu        sync.Mutex
	lastSweep time.Time
}

// New returns the handler of events for cfg's models on st, delivering
// through sender, counting into rec (nil: no metrics) and logging to log,
// on the clock now.
func New(cfg *config.Config, st Store, sender *deliver.Sender, rec *metrics.Recorder, log *slog.Logger, now func() time.Time) *Handler {
	return &Handler{
		proc:    &pipeline.Processor{Config: cfg, Store: st, Now: now, Log: log, Sightings: st, Timelines: st},
		sender:  sender,
		log:     log,
		now:     now,
		metrics: rec,
	}
}

// SetWindows makes the groups the handler opens gather their updates in
// w rather than the default windows (stakeout serve --update-window). It
// is called before the handler is used.
func (h *Handler) SetWindows(w state.Windows) { h.proc.Windows = w }

// DeferDelivery makes Handle return once the event is committed, calling
// queued when it queued notifications, for a drain elsewhere to deliver.
// stakeout serve does: EventBridge answers PutEvents at once and invokes
// the router later, so a caller never waits on Slack there; the function
// delivers within its invocation, which nobody waits for. It is called
// before the handler is used.
func (h *Handler) DeferDelivery(queued func()) { h.queued = queued }

// Handle applies the event. It returns an error only for a transient fault
// (the store unavailable, throttled, conflicts that did not settle), so
// that Lambda and EventBridge retry; an event that can never succeed has
// been quarantined with its reason, and is acknowledged. The metrics are
// flushed before it returns.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	defer h.flush(ctx)
	out, err := h.proc.Process(ctx, raw)
	log := h.log.With("event_id", out.EventID, "model", out.Model)
	if err != nil {
		log.ErrorContext(ctx, "event not applied, will be retried", "error", err)
		return err
	}
	h.measure(out)
	h.report(ctx, log, out)
	// The event is recorded; delivering is the outbox's business from here.
	// A delivery failure is not the event's: it is never retried for it
	// (the notification waits in the outbox), so no error is returned.
	if h.queued != nil {
		if len(out.Queued) > 0 {
			h.queued()
		}
		return nil
	}
	ids := make([]string, len(out.Queued))
	for i, n := range out.Queued {
		ids[i] = n.ID
	}
	rep, err := h.sender.Deliver(ctx, ids)
	if err != nil {
		log.ErrorContext(ctx, "delivery interrupted; the outbox keeps the rest", "error", err)
	}
	if h.sweepDue() {
		swept, err := h.sender.Drain(ctx, SweepLimit)
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

// report logs what became of an applied event.
func (h *Handler) report(ctx context.Context, log *slog.Logger, out pipeline.Outcome) {
	if out.Late != "" {
		// Late readings open and resolve nothing: said, so that a monitor
		// sending them is noticed.
		log.WarnContext(ctx, "event late", "reason", out.Late)
	}
	log.InfoContext(ctx, "event applied", "duplicate", out.Duplicate, "quarantined", out.Quarantined, "ignored", out.Ignored,
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
}

// sweepDue reports whether this handler should drain the outbox now.
func (h *Handler) sweepDue() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := h.now(); now.Sub(h.lastSweep) >= SweepEvery {
		h.lastSweep = now
		return true
	}
	return false
}

// measure records what became of the event.
func (h *Handler) measure(out pipeline.Outcome) {
	m := h.metrics
	m.Count(metrics.EventsReceived, 1)
	if out.Quarantined != "" {
		m.Count(metrics.EventsQuarantined, 1)
	}
	if out.Late != "" {
		m.Count(metrics.EventsLate, 1)
	}
	if out.Ignored != "" {
		m.Count(metrics.EventsIgnored, 1)
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

func (h *Handler) flush(ctx context.Context) {
	if err := h.metrics.Flush(); err != nil {
		h.log.ErrorContext(ctx, "metrics not written", "error", err)
	}
}
