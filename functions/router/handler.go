package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/notify"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// Environment the router reads.
const (
	envConfigDir = "STAKEOUT_CONFIG_DIR" // holds rules/ and owners/ (default: the working directory)
	envTable     = "TABLE_NAME"
	envEndpoint  = "DYNAMODB_ENDPOINT" // optional: DynamoDB Local
	// envSlackToken is the bot token's secret reference
	// (secret:<Secrets Manager name or ARN>[#json-field]).
	envSlackToken = "SLACK_BOT_TOKEN_SECRET"
	// envSecrets set to "env" resolves secret references from environment
	// variables (STAKEOUT_SECRET_<NAME>) instead of Secrets Manager: for
	// running the function outside AWS.
	envSecrets        = "STAKEOUT_SECRETS"
	envSlackAPI       = "SLACK_API_URL"        // optional: another Slack API base URL (tests)
	envSlackTeam      = "SLACK_TEAM_DOMAIN"    // optional: <team>.slack.com, for message links
	envPagerDutyURL   = "PAGERDUTY_EVENTS_URL" // optional: another Events API endpoint (tests)
	envSecretsManager = "SECRETSMANAGER_ENDPOINT"
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

// newHandler builds the clients once, before the first event: the
// configuration (models with errors are logged and not served, the others
// are), the DynamoDB store, the pipeline.
func newHandler(ctx context.Context, getenv func(string) string, log *slog.Logger) (*handler, error) {
	dir := getenv(envConfigDir)
	if dir == "" {
		dir = "."
	}
	cfg, err := config.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("load configuration from %s: %w", dir, err)
	}
	for _, p := range cfg.Errors() {
		log.Error("configuration problem", "problem", p.String())
	}
	for id, m := range cfg.Broken {
		log.Error("model not served", "model", id, "reason", m.Broken)
	}
	if len(cfg.Models) == 0 {
		return nil, fmt.Errorf("no model loaded from %s", dir)
	}
	table := getenv(envTable)
	if table == "" {
		return nil, fmt.Errorf("%s is not set", envTable)
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	client := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		if ep := getenv(envEndpoint); ep != "" {
			o.BaseEndpoint = &ep
		}
	})
	var secrets secret.Resolver
	if getenv(envSecrets) == "env" {
		secrets = secret.NewEnv(func(k string) (string, bool) { v := getenv(k); return v, v != "" })
	} else {
		secrets = secret.NewSecretsManager(secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
			if ep := getenv(envSecretsManager); ep != "" {
				o.BaseEndpoint = &ep
			}
		}))
	}
	st := dynamostore.New(client, table, time.Now)
	sender := &deliver.Sender{Config: cfg, Store: st, Now: time.Now, Log: log, SlackTeam: getenv(envSlackTeam),
		Pager: pdnotify.New(secrets, getenv(envPagerDutyURL), notify.DefaultPolicy)}
	if ref := getenv(envSlackToken); ref != "" {
		sender.Slack = slacknotify.NewClientFromSecret(secrets, ref, getenv(envSlackAPI), notify.DefaultPolicy)
	} else {
		log.Error("no Slack bot token configured: Slack notifications will fail and be reported", "variable", envSlackToken)
	}
	log.Info("router ready", "models", len(cfg.Models), "config_digest", cfg.Digest, "table", table)
	return &handler{
		proc:   &pipeline.Processor{Config: cfg, Store: st, Now: time.Now, Log: log},
		sender: sender,
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
