package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
)

// Environment the router reads.
const (
	envConfigDir = "STAKEOUT_CONFIG_DIR" // holds rules/ and owners/ (default: the working directory)
	envTable     = "TABLE_NAME"
	envEndpoint  = "DYNAMODB_ENDPOINT" // optional: DynamoDB Local
)

// handler applies one EventBridge event per invocation.
type handler struct {
	proc *pipeline.Processor
	log  *slog.Logger
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
	log.Info("router ready", "models", len(cfg.Models), "config_digest", cfg.Digest, "table", table)
	return &handler{
		proc: &pipeline.Processor{Config: cfg, Store: dynamostore.New(client, table, time.Now), Now: time.Now, Log: log},
		log:  log,
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
	return nil
}
