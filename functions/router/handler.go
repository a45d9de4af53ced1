package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/stakeout-ml/stakeout/internal/deliver"
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
	proc   *pipeline.Processor
	sender *deliver.Sender
	log    *slog.Logger
	now    func() time.Time

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
	log.Info("router ready", "models", len(d.Config.Models), "config_digest", d.Config.Digest)
	return &handler{
		proc:   &pipeline.Processor{Config: d.Config, Store: d.Store, Now: time.Now, Log: log, Sightings: d.Store},
		sender: d.Sender,
		log:    log,
		now:    time.Now,
	}, nil
}

// handle applies the event. It returns an error only for a transient fault
// (DynamoDB unavailable, throttled, conflicts that did not settle), so that
// Lambda and EventBridge retry; an event that can never succeed has been
// quarantined with its reason, and is acknowledged.
func (h *handler) handle(ctx context.Context, raw json.RawMessage) error {
	out, err := h.proc.Process(ctx, raw)
	if err != nil {
		h.log.ErrorContext(ctx, "event not applied, will be retried", "event_id", out.EventID, "error", err)
		return err
	}
	h.log.InfoContext(ctx, "event applied", "event_id", out.EventID, "model", out.Model, "duplicate", out.Duplicate,
		"quarantined", out.Quarantined, "changes", len(out.Changes), "notifications", len(out.Queued), "wrote", out.Wrote)
	// The event is recorded; delivering is the outbox's business from here.
	// A delivery failure is not the event's: it is never retried for it
	// (the notification waits in the outbox), so no error is returned.
	ids := make([]string, len(out.Queued))
	for i, n := range out.Queued {
		ids[i] = n.ID
	}
	rep, err := h.sender.Deliver(ctx, ids)
	if err != nil {
		h.log.ErrorContext(ctx, "delivery interrupted; the outbox keeps the rest", "event_id", out.EventID, "error", err)
	}
	if h.sweepDue() {
		swept, err := h.sender.Drain(ctx, sweepLimit)
		if err != nil {
			h.log.ErrorContext(ctx, "outbox sweep interrupted", "error", err)
		}
		rep.Add(swept)
	}
	if rep.Sent+rep.Waiting+rep.Failed > 0 {
		h.log.InfoContext(ctx, "notifications delivered", "event_id", out.EventID, "sent", rep.Sent, "waiting", rep.Waiting, "failed_channels", rep.Failed)
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
