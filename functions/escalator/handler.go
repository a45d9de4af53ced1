package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// newHandler builds the clients once per container (internal/setup reads
// the environment); escalator.Runner does the work of each run. The
// Scheduler's payload is not needed: the time is the clock's. An error
// (the store unavailable) fails the invocation for the Scheduler's retry
// policy and stakeout's alarms.
func newHandler(ctx context.Context, getenv func(string) string, log *slog.Logger) (func(context.Context, json.RawMessage) error, error) {
	d, err := setup.Load(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	r := escalator.NewRunner(d.Config, d.Store, d.Sender, d.Metrics, log, time.Now)
	return func(ctx context.Context, _ json.RawMessage) error { return r.Run(ctx) }, nil
}
