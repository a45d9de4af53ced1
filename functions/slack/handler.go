package main

import (
	"context"
	"log/slog"

	"github.com/stakeout-ml/stakeout/internal/funcurl"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// newApp builds the Slack app from the environment (internal/setup; the
// signing secret is SLACK_SIGNING_SECRET's reference, resolved per request
// from the cache, so that a rotated secret is picked up).
func newApp(ctx context.Context, getenv func(string) string, log *slog.Logger) (funcurl.LambdaHandler, error) {
	d, err := setup.Load(ctx, getenv, log, setup.EnvSlackSigning)
	if err != nil {
		return nil, err
	}
	return metrics.Flushing(d.Metrics, log, funcurl.Handler(d.SlackApp())), nil
}
