package escalator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
)

// A run delivers what a router committed and never delivered (it crashed
// in between), says what it did in one line, and a second run finds
// nothing left to send.
func TestRunDrainsWhatTheRouterLeft(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	st := memstore.New(clock)
	raw, err := os.ReadFile("../../testdata/events/native/credit-approval-accuracy-drop.json")
	if err != nil {
		t.Fatal(err)
	}
	var detail map[string]any
	if err := json.Unmarshal(raw, &detail); err != nil {
		t.Fatal(err)
	}
	detail["observed_at"] = now.Format(time.RFC3339)
	raw, _ = json.Marshal(detail)
	if out, err := (&pipeline.Processor{Config: cfg, Store: st, Now: clock}).Process(ctx, raw); err != nil || len(out.Queued) == 0 {
		t.Fatalf("router step: %+v %v, want queued notifications", out, err)
	}

	sender, slack, pd := fakeChannels(t, cfg, st, clock)
	var logs, emitted bytes.Buffer
	r := escalator.NewRunner(cfg, st, sender, metrics.New(&emitted, metrics.Namespace, clock), slog.New(slog.NewJSONHandler(&logs, nil)), clock)
	for range 2 {
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(slack.Messages("C0CREDITDS")); got != 1 {
		t.Errorf("Slack messages = %d, want 1 (drained once)", got)
	}
	if got := len(pd.Events()); got != 1 {
		t.Errorf("PagerDuty events = %d, want 1 (drained once)", got)
	}
	if pending, err := st.Pending(ctx, now.Add(24*time.Hour), 10); err != nil || len(pending) != 0 {
		t.Errorf("outbox after the runs: %d pending (%v), want empty", len(pending), err)
	}
	var runs []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"escalator run"`) {
			runs = append(runs, l)
		}
	}
	if len(runs) != 2 || !strings.Contains(runs[0], `"sent":1`) || !strings.Contains(runs[1], `"sent":0`) {
		t.Errorf("want one summary line per run, the first with the notification sent:\n%s", logs.String())
	}
	if !strings.Contains(emitted.String(), `"Namespace":"stakeout"`) {
		t.Errorf("the runs flushed no metrics:\n%s", emitted.String())
	}
}

// fakeChannels is a sender to Slack and PagerDuty test servers, every
// routing key resolving to the fake's.
func fakeChannels(t *testing.T, cfg *config.Config, st deliver.Store, clock func() time.Time) (*deliver.Sender, *notifytest.Slack, *notifytest.PagerDuty) {
	t.Helper()
	slack := notifytest.NewSlack(t, notifytest.WithChannels("C0CREDITDS", "C0FRAUDDSX", "C0MLPLATFM"))
	pd := notifytest.NewPagerDuty(t)
	anyKey := secret.NewEnv(func(string) (string, bool) { return pd.RoutingKey(), true })
	sender := &deliver.Sender{Config: cfg, Store: st, Now: clock, Notifiers: map[string]deliver.Notifier{
		"slack":     &slacknotify.Notifier{API: slacknotify.NewClient(secret.New(slack.Token()), slack.URL())},
		"pagerduty": &pdnotify.Notifier{Config: cfg, Sender: pdnotify.New(anyKey, pd.URL())},
	}}
	return sender, slack, pd
}
