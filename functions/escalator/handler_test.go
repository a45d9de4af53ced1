package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// TestRun: the function as the Scheduler invokes it (its payload, the
// clock's time), on DynamoDB Local: the first run starts watching every
// model's expected signals and schedules every owner's digest, and says so
// in one log line.
func TestRun(t *testing.T) {
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	env := map[string]string{setup.EnvConfigDir: "../..", setup.EnvTable: table, setup.EnvEndpoint: dynamotest.Endpoint(), setup.EnvSecrets: "env", setup.EnvAuditKey: audit.Unkeyed}
	var logs bytes.Buffer
	h, err := newHandler(context.Background(), func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// What EventBridge Scheduler sends a Lambda target (its default
	// payload is the schedule's input; stakeout needs none).
	payload := json.RawMessage(`{}`)
	if err := h(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	st := dynamostore.New(dynamotest.Client(t), table, time.Now)
	w, err := st.GetWatch(context.Background(), state.WatchID("credit-approval", "drift", ""))
	if err != nil || w == nil {
		t.Fatalf("credit-approval's drift is not watched: %v %v", w, err)
	}
	if sc, err := st.GetSchedule(context.Background(), "digest/credit-ds"); err != nil || sc == nil || !sc.Next.After(time.Now()) {
		t.Fatalf("credit-ds's digest is not scheduled: %+v %v", sc, err)
	}
	if !strings.Contains(logs.String(), `"msg":"escalator run"`) {
		t.Errorf("no run summary in the logs:\n%s", logs.String())
	}
}
