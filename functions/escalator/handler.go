package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// drainLimit bounds the outbox notifications one run sends besides its own:
// the rest are next minute's.
const drainLimit = 50

// handler runs one escalator step per invocation.
type handler struct {
	esc     *escalator.Escalator
	sender  *deliver.Sender
	log     *slog.Logger
	metrics *metrics.Recorder
}

// newHandler builds the clients once per container (internal/setup reads
// the environment).
func newHandler(ctx context.Context, getenv func(string) string, log *slog.Logger) (*handler, error) {
	d, err := setup.Load(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return &handler{esc: &escalator.Escalator{Config: d.Config, Store: d.Store, Now: time.Now, Log: log},
		sender: d.Sender, log: log, metrics: d.Metrics}, nil
}

// handle runs what is due, delivers what that queued, and drains the
// outbox of what earlier deliveries left (a Slack outage, a crash between
// commit and delivery). The Scheduler's payload is not needed: the time is
// the clock's. An error (the store unavailable) fails the invocation for
// the Scheduler's retry policy and stakeout's alarms; the next minute's run
// picks up whatever this one left.
func (h *handler) handle(ctx context.Context, _ json.RawMessage) error {
	defer func() {
		if err := h.metrics.Flush(); err != nil {
			h.log.ErrorContext(ctx, "metrics not written", "error", err)
		}
	}()
	rep, tickErr := h.esc.Tick(ctx)
	sent, err := h.sender.Deliver(ctx, rep.Queued)
	if err != nil {
		h.log.ErrorContext(ctx, "delivery interrupted; the outbox keeps the rest", "error", err)
	}
	drained, err := h.sender.Drain(ctx, drainLimit)
	if err != nil {
		h.log.ErrorContext(ctx, "outbox drain interrupted", "error", err)
	}
	sent.Add(drained)
	h.metrics.Count(metrics.AlertsOpened, float64(rep.SilenceOpened))
	h.log.InfoContext(ctx, "escalator run", "escalated", rep.Escalated, "snoozes_ended", rep.SnoozesEnded,
		"silence_opened", rep.SilenceOpened, "silence_resolved", rep.SilenceResolved, "digests", rep.Digests,
		"sent", sent.Sent, "waiting", sent.Waiting, "failed_channels", sent.Failed)
	return tickErr
}
