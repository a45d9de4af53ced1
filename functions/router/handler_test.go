package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// newTestHandler builds the handler as the Lambda does, from the example
// configuration and environment, on a fresh DynamoDB Local table.
func newTestHandler(t *testing.T) (*handler, *dynamostore.Store, *bytes.Buffer) {
	t.Helper()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	env := map[string]string{envConfigDir: "../..", envTable: table, envEndpoint: dynamotest.Endpoint()}
	var logs bytes.Buffer
	h, err := newHandler(context.Background(), func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return h, dynamostore.New(dynamotest.Client(t), table, nil), &logs
}

func TestHandleEventBridgeEvents(t *testing.T) {
	h, st, logs := newTestHandler(t)
	ctx := context.Background()
	for _, f := range []string{"envelope/credit-approval-accuracy-drop.json", "cloudwatch/single-metric-alarm.json"} {
		raw, err := os.ReadFile("../../testdata/events/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.handle(ctx, raw); err != nil {
			t.Fatalf("handle(%s): %v", f, err)
		}
		if err := h.handle(ctx, raw); err != nil { // EventBridge delivers again
			t.Fatalf("handle(%s) again: %v", f, err)
		}
	}
	pending, err := st.Pending(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range pending {
		got = append(got, n.Rule+"→"+n.Owner)
	}
	if strings.Join(got, " ") != "accuracy-loss→credit-ds monitor-feature-drift→fraud-ds" {
		t.Errorf("notifications queued: %v, want one per alert despite redelivery", got)
	}
	if !strings.Contains(logs.String(), `"duplicate":true`) {
		t.Errorf("redelivery not logged as a duplicate:\n%s", logs.String())
	}
}

// An event that can never succeed is quarantined and acknowledged (nil),
// not retried forever.
func TestHandleQuarantines(t *testing.T) {
	h, _, logs := newTestHandler(t)
	raw := []byte(`{"version":"0","id":"bad-1","detail-type":"ML Model Signal","source":"t","detail":{"model":"credit-scoring","kind":"drift","metric":"psi","value":1,"observed_at":"2026-03-01T00:00:00Z"}}`)
	if err := h.handle(context.Background(), raw); err != nil {
		t.Errorf("handle(unknown model) = %v, want nil (quarantined)", err)
	}
	if !strings.Contains(logs.String(), "event quarantined") || !strings.Contains(logs.String(), "credit-scoring") {
		t.Errorf("quarantine not logged with its reason:\n%s", logs.String())
	}
}

// A store fault is transient: the handler returns it so Lambda retries.
func TestHandleReturnsTransientFaults(t *testing.T) {
	h, _, _ := newTestHandler(t)
	h.proc.Store = failing{h.proc.Store}
	raw, _ := os.ReadFile("../../testdata/events/envelope/credit-approval-accuracy-drop.json")
	if err := h.handle(context.Background(), raw); err == nil || !errors.Is(err, errUnavailable) {
		t.Errorf("handle with DynamoDB unavailable = %v, want the fault", err)
	}
}

var errUnavailable = errors.New("dynamodb: service unavailable")

// failing is the real store with DynamoDB down: reads fail.
type failing struct{ pipeline.Store }

func (failing) GetSeries(context.Context, signal.SeriesKey) (*state.Series, error) {
	return nil, errUnavailable
}

func TestStartupNeedsATable(t *testing.T) {
	_, err := newHandler(context.Background(), func(k string) string {
		if k == envConfigDir {
			return "../.."
		}
		return ""
	}, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if err == nil || !strings.Contains(err.Error(), envTable) {
		t.Errorf("newHandler without %s = %v, want an error naming it", envTable, err)
	}
}
