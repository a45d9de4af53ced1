package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/stakeout-ml/stakeout/internal/pdsync"
	"github.com/stakeout-ml/stakeout/internal/setup"
)

// newApp builds the webhook receiver from the environment (internal/setup;
// the signing secret is PAGERDUTY_WEBHOOK_SECRET's reference).
func newApp(ctx context.Context, getenv func(string) string, log *slog.Logger) (*pdsync.App, error) {
	d, err := setup.Load(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	log.Info("pagerduty function ready", "models", len(d.Config.Models), "config_digest", d.Config.Digest)
	return &pdsync.App{Config: d.Config, Store: d.Store, Now: time.Now, Log: log, Deliver: d.Deliver,
		WebhookSecret: d.SecretBytes(setup.EnvPagerDutyWebhook)}, nil
}
