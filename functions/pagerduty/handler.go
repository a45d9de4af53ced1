package main

import (
	"context"
	"log/slog"

	"github.com/stakeout-ml/stakeout/internal/funcurl"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// newApp builds the webhook receiver from the environment (internal/setup;
// the signing secret is PAGERDUTY_WEBHOOK_SECRET's reference).
func newApp(ctx context.Context, getenv func(string) string, log *slog.Logger) (funcurl.LambdaHandler, error) {
	d, err := setup.Load(ctx, getenv, log, setup.EnvPagerDutyWebhook)
	if err != nil {
		return nil, err
	}
	return metrics.Flushing(d.Metrics, log, funcurl.Handler(d.PagerDutyApp())), nil
}
