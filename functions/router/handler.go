package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/stakeout-ml/stakeout/internal/router"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// newHandler builds the clients once, before the first event (see
// internal/setup for the environment it reads), with the compact
// configuration its build wrote beside it when there is one (see
// setup.LoadRouter); internal/router does the work of each event.
func newHandler(ctx context.Context, getenv func(string) string, log *slog.Logger) (*router.Handler, error) {
	d, err := setup.LoadRouter(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	return router.New(d.Config, d.Store, d.Sender, d.Metrics, log, time.Now), nil
}
