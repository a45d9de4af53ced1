package escalator

import (
	"context"
	"log/slog"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// DrainLimit bounds the outbox notifications one run sends besides its
// own: the rest are the next run's.
const DrainLimit = 50

// Runner is one scheduled run of the escalator, as the escalator function
// and `stakeout serve` make it every minute: what is due (Tick), the
// notifications that queued delivered, the outbox drained of what earlier
// deliveries left (a Slack outage, a crash between commit and delivery),
// one summary line logged and the metrics flushed.
type Runner struct {
	Escalator *Escalator
	Sender    *deliver.Sender
	Metrics   *metrics.Recorder // nil: none recorded
	Log       *slog.Logger
}

// NewRunner returns the run of the escalator over cfg's models on st,
// delivering through sender, counting into rec (nil: no metrics) and
// logging to log, on the clock now.
func NewRunner(cfg *config.Config, st Store, sender *deliver.Sender, rec *metrics.Recorder, log *slog.Logger, now func() time.Time) *Runner {
	return &Runner{Escalator: &Escalator{Config: cfg, Store: st, Now: now, Log: log}, Sender: sender, Metrics: rec, Log: log}
}

// Run runs what is due and delivers. Its error is the Tick's (the store
// unavailable): the caller's retry or alarm is for that; the next run
// picks up whatever this one left. A delivery that failed is not an error:
// the notification waits in the outbox.
func (r *Runner) Run(ctx context.Context) error {
	log := r.Log
	if log == nil {
		log = r.Escalator.log()
	}
	defer func() {
		if err := r.Metrics.Flush(); err != nil {
			log.ErrorContext(ctx, "metrics not written", "error", err)
		}
	}()
	rep, tickErr := r.Escalator.Tick(ctx)
	sent, err := r.Sender.Deliver(ctx, rep.Queued)
	if err != nil {
		log.ErrorContext(ctx, "delivery interrupted; the outbox keeps the rest", "error", err)
	}
	drained, err := r.Sender.Drain(ctx, DrainLimit)
	if err != nil {
		log.ErrorContext(ctx, "outbox drain interrupted", "error", err)
	}
	sent.Add(drained)
	r.Metrics.Count(metrics.AlertsOpened, float64(rep.SilenceOpened))
	log.InfoContext(ctx, "escalator run", "escalated", rep.Escalated, "snoozes_ended", rep.SnoozesEnded, "reacked", rep.Reacked,
		"silence_opened", rep.SilenceOpened, "silence_resolved", rep.SilenceResolved, "digests", rep.Digests, "drills_unanswered", rep.DrillsUnanswered, "deferred", rep.Deferred,
		"sent", sent.Sent, "waiting", sent.Waiting, "failed_channels", sent.Failed)
	return tickErr
}
