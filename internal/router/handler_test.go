package router

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/setup"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// world is what a handler under test talks to.
type world struct {
	st    *dynamostore.Store
	slack *notifytest.Slack
	pd    *notifytest.PagerDuty
	logs  *bytes.Buffer
}

// build makes the handler as the Lambda function does (functions/router).
func build(getenv func(string) string, log *slog.Logger) (*Handler, error) {
	d, err := setup.Load(context.Background(), getenv, log)
	if err != nil {
		return nil, err
	}
	return New(d.Config, d.Store, d.Sender, d.Metrics, log, time.Now), nil
}

// newTestHandler builds the handler as the Lambda does, from the example
// configuration and environment, on a fresh DynamoDB Local table, with
// Slack and PagerDuty test servers and secrets from the environment.
func newTestHandler(t *testing.T) (*Handler, *dynamostore.Store, *bytes.Buffer) {
	h, w := newTestWorld(t)
	return h, w.st, w.logs
}

func newTestWorld(t *testing.T) (*Handler, world) {
	t.Helper()
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	// DynamoDB Local takes any credentials: placeholders, not secrets.
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	slack := notifytest.NewSlack(t, notifytest.WithChannels("C0CREDITDS", "C0FRAUDDSX", "C0MLPLATFM"))
	pd := notifytest.NewPagerDuty(t)
	env := map[string]string{setup.EnvConfigDir: "../..", setup.EnvTable: table, setup.EnvEndpoint: dynamotest.Endpoint(),
		setup.EnvSecrets: "env", setup.EnvAuditKey: audit.Unkeyed, setup.EnvSlackToken: "secret:stakeout/slack-bot-token", setup.EnvSlackAPI: slack.URL(), setup.EnvPagerDutyURL: pd.URL(),
		secret.EnvVar("secret:stakeout/slack-bot-token"): slack.Token()}
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cfg.Owners {
		if o.PagerDuty.RoutingKey != "" {
			env[secret.EnvVar(o.PagerDuty.RoutingKey)] = pd.RoutingKey()
		}
	}
	var logs bytes.Buffer
	h, err := build(func(k string) string { return env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, r := range slack.Rejections() {
			t.Errorf("Slack refused: %s", r)
		}
		for _, v := range pd.Violations() {
			t.Errorf("PagerDuty refused: %s", v)
		}
	})
	return h, world{st: dynamostore.New(dynamotest.Client(t), table, nil), slack: slack, pd: pd, logs: &logs}
}

func TestHandleEventBridgeEvents(t *testing.T) {
	h, w := newTestWorld(t)
	st, logs := w.st, w.logs
	ctx := context.Background()
	for _, f := range []string{"envelope/credit-approval-accuracy-drop.json", "cloudwatch/single-metric-alarm.json"} {
		raw, err := os.ReadFile("../../testdata/events/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Handle(ctx, raw); err != nil {
			t.Fatalf("handle(%s): %v", f, err)
		}
		if err := h.Handle(ctx, raw); err != nil { // EventBridge delivers again
			t.Fatalf("handle(%s) again: %v", f, err)
		}
	}
	// Delivered once each, despite the redelivery, to Slack and PagerDuty.
	if pending, err := st.Pending(ctx, time.Now().Add(24*time.Hour), 10); err != nil || len(pending) != 0 {
		t.Errorf("outbox after delivery: %d pending, %v; want empty", len(pending), err)
	}
	for ch, rule := range map[string]string{"C0CREDITDS": "accuracy-loss", "C0FRAUDDSX": "monitor-feature-drift"} {
		if msgs := w.slack.Messages(ch); len(msgs) != 1 || !strings.Contains(string(msgs[0].Blocks), rule) {
			t.Errorf("%s has %d messages, want one about %s", ch, len(msgs), rule)
		}
	}
	keys := map[string]bool{}
	for _, ev := range w.pd.Events() {
		keys[ev.DedupKey] = true
	}
	if len(w.pd.Events()) != 2 || len(keys) != 2 {
		t.Errorf("PagerDuty got %d events for %d incidents, want one trigger per alert (both models page at these stakes)", len(w.pd.Events()), len(keys))
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
	if err := h.Handle(context.Background(), raw); err != nil {
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
	if err := h.Handle(context.Background(), raw); err == nil || !errors.Is(err, errUnavailable) {
		t.Errorf("handle with DynamoDB unavailable = %v, want the fault", err)
	}
}

var errUnavailable = errors.New("dynamodb: service unavailable")

// failing is the real store with DynamoDB down: reads fail.
type failing struct{ pipeline.Store }

func (failing) GetSeries(context.Context, signal.SeriesKey) (*state.Series, error) {
	return nil, errUnavailable
}

// A notification Slack refused to take for now waits in the outbox, and a
// later invocation's sweep delivers it, once.
func TestSweepDeliversWhatWaited(t *testing.T) {
	h, w := newTestWorld(t)
	ctx := context.Background()
	clock := time.Now()
	h.now = func() time.Time { return clock }
	h.sender.Now = h.now
	h.lastSweep = clock // a sweep just ran in this container
	down := make([]notifytest.Fault, 10)
	for i := range down {
		down[i] = notifytest.Fault{Status: 503}
	}
	w.slack.Fail("chat.postMessage", down...)
	raw, _ := os.ReadFile("../../testdata/events/envelope/credit-approval-accuracy-drop.json")
	if err := h.Handle(ctx, raw); err != nil {
		t.Fatalf("handle: %v (a delivery failure is not the event's)", err)
	}
	if msgs := w.slack.Messages("C0CREDITDS"); len(msgs) != 0 {
		t.Fatalf("Slack down, yet %d messages", len(msgs))
	}
	if pending, _ := w.st.Pending(ctx, time.Now().Add(24*time.Hour), 10); len(pending) != 1 {
		t.Fatalf("%d pending, want the notification kept", len(pending))
	}
	for w.slack.Calls("chat.postMessage") < len(down) {
		// Slack's outage lasts a while: later invocations' sweeps meet
		// the rest of the queued failures.
		clock = clock.Add(2 * time.Minute)
		h.Handle(ctx, []byte(`{"id":"quiet-`+clock.Format("150405")+`","detail-type":"ML Model Signal","source":"t","detail":{"model":"credit-approval","kind":"drift","metric":"psi","feature":"age","value":0.01,"observed_at":"2026-03-01T00:00:00Z"}}`))
	}
	clock = clock.Add(2 * time.Minute)
	if err := h.Handle(ctx, raw); err != nil { // a redelivery: nothing new, but the sweep runs
		t.Fatal(err)
	}
	if msgs := w.slack.Messages("C0CREDITDS"); len(msgs) != 1 {
		t.Errorf("%d messages after the sweep, want 1", len(msgs))
	}
	if pending, _ := w.st.Pending(ctx, time.Now().Add(24*time.Hour), 10); len(pending) != 0 {
		t.Errorf("%d pending after the sweep, want 0", len(pending))
	}
}

// A rule over its evaluation budget: an error line naming the rule and
// its owner, the RuleErrors metric, and the owner told on Slack.
func TestHandleReportsRuleErrors(t *testing.T) {
	h, w := newTestWorld(t)
	fsys := fstest.MapFS{"rules/m.yaml": {Data: []byte(`model: m
stakes: high
owners: {data: credit-ds, model: credit-ds, platform: ml-platform, product: lending-product}
expect: [{kind: drift, every: 1d}]
rules:
  - {name: every-pair, when: 'all(lineage.xs, {all(lineage.xs, {# >= 0})})', severity: high, owner: model}
  - {name: psi, when: 'value > 0.25', severity: high, owner: model}
`)}}
	for _, dir := range []string{"owners", "rules"} {
		files, _ := filepath.Glob("../../" + dir + "/*.yaml")
		for _, f := range files {
			if data, err := os.ReadFile(f); err == nil && (dir == "owners" || filepath.Base(f) == "stakes.yaml") {
				fsys[dir+"/"+filepath.Base(f)] = &fstest.MapFile{Data: data}
			}
		}
	}
	cfg, err := config.LoadFS(fsys, ".")
	if err != nil || len(cfg.Errors()) > 0 {
		t.Fatalf("config: %v %v", err, cfg.Errors())
	}
	h.proc.Config = cfg
	var metricsOut bytes.Buffer
	h.metrics = metrics.New(&metricsOut, metrics.Namespace, time.Now)
	xs := strings.Repeat("1,", 2999) + "1"
	raw := []byte(`{"version":"0","id":"big-1","detail-type":"ML Model Signal","source":"t","detail":{"model":"m","kind":"drift","metric":"psi","value":0.4,"observed_at":"` +
		time.Now().UTC().Format(time.RFC3339) + `","lineage":{"xs":[` + xs + `]}}}`)
	if err := h.Handle(context.Background(), raw); err != nil {
		t.Fatalf("handle: %v", err)
	}
	logs := w.logs.String()
	if !strings.Contains(logs, `"msg":"rule error"`) || !strings.Contains(logs, `"rule":"every-pair"`) || !strings.Contains(logs, `"owner":"credit-ds"`) {
		t.Errorf("no error line naming the rule and its owner:\n%s", logs)
	}
	if !strings.Contains(metricsOut.String(), `"`+metrics.RuleErrors+`":1`) {
		t.Errorf("metrics %s, want %s counted", metricsOut.String(), metrics.RuleErrors)
	}
	var told bool
	for _, m := range w.slack.Messages("C0CREDITDS") {
		told = told || strings.Contains(string(m.Blocks), "every-pair could not be evaluated")
	}
	if !told {
		t.Errorf("credit-ds's channel has no message about every-pair: %d messages", len(w.slack.Messages("C0CREDITDS")))
	}
}

// With delivery deferred (stakeout serve), Handle returns once the event
// is committed, says that it queued, and leaves the notifications in the
// outbox for a drain: the caller never waits on a channel.
func TestDeferredDeliveryLeavesTheOutboxToADrain(t *testing.T) {
	h, w := newTestWorld(t)
	queued := 0
	h.DeferDelivery(func() { queued++ })
	raw, err := os.ReadFile("../../testdata/events/envelope/credit-approval-accuracy-drop.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := h.Handle(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if queued != 1 {
		t.Errorf("queued called %d times, want once", queued)
	}
	if n := len(w.slack.Messages("C0CREDITDS")); n != 0 {
		t.Errorf("Slack got %d messages from a deferred Handle, want none", n)
	}
	pending, err := w.st.Pending(ctx, time.Now().Add(time.Minute), 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("outbox after a deferred Handle: %d pending, %v; want the opening", len(pending), err)
	}
	if err := h.Handle(ctx, raw); err != nil { // a duplicate queues nothing
		t.Fatal(err)
	}
	if queued != 1 {
		t.Errorf("queued called %d times after a duplicate, want still once", queued)
	}
}
