package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
)

// newApp builds the Slack app from the environment (internal/setup; the
// signing secret is SLACK_SIGNING_SECRET's reference, resolved per request
// from the cache, so that a rotated secret is picked up).
func newApp(ctx context.Context, getenv func(string) string, log *slog.Logger) (*slackapp.App, error) {
	d, err := setup.Load(ctx, getenv, log)
	if err != nil {
		return nil, err
	}
	log.Info("slack function ready", "models", len(d.Config.Models), "config_digest", d.Config.Digest)
	return &slackapp.App{Config: d.Config, Store: d.Store, Now: time.Now, Log: log, Deliver: d.Deliver,
		SigningSecret: d.SecretBytes(setup.EnvSlackSigning)}, nil
}
