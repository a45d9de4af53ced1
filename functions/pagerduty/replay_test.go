package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// TestReplayedWebhook: the function as deployed, on DynamoDB Local. A
// signed acknowledgement acknowledges; after the alert escalated, the same
// webhook sent again (a copy of it verifies forever: PagerDuty signs no
// timestamp) changes nothing, and neither does another acknowledgement
// made before the escalation. Both are answered 204, with the reason logged.
func TestReplayedWebhook(t *testing.T) {
	w := deploytest.New(t, "../../template.yaml", "PagerDutyFunction")
	for _, k := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, w.Env[k])
	}
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	g := openGroup(t, cfg, w)
	var logs bytes.Buffer
	h, err := newApp(context.Background(), func(k string) string { return w.Env[k] }, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ackedAt := time.Now().Add(-30 * time.Second)
	send := func(id string) {
		t.Helper()
		body := acknowledgement(t, id, pdnotify.DedupKey(g.ID), ackedAt)
		req := events.LambdaFunctionURLRequest{RawPath: "/", Body: string(body), Headers: map[string]string{"content-type": "application/json",
			"x-pagerduty-signature": signature.SignPagerDuty([]byte(deploytest.PagerDutyWebhook), body)}}
		req.RequestContext.HTTP.Method = http.MethodPost
		if resp, err := h(context.Background(), req); err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("webhook %s: %d %s %v", id, resp.StatusCode, resp.Body, err)
		}
	}
	group := func() *state.Group {
		t.Helper()
		cur, err := w.Store.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
		if err != nil || cur == nil {
			t.Fatalf("group: %v %v", cur, err)
		}
		return cur
	}
	send("3f1c7a52-7d0e-4c3b-9a61-0f2b8e4d9c10")
	if !group().Acked() {
		t.Fatal("the acknowledgement was not applied")
	}
	m := &lifecycle.Manager{Config: cfg, Store: w.Store, Now: time.Now}
	if res, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Escalate, Group: g.ID,
		By: lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}}); err != nil || !res.Done {
		t.Fatalf("escalate: %+v %v", res, err)
	}
	escalated := group()
	send("3f1c7a52-7d0e-4c3b-9a61-0f2b8e4d9c10")
	send("4a2d8b63-8e1f-4d4c-8b72-1a3c9f5e0d21")
	if after := group(); after.Acked() || after.Version != escalated.Version || after.Owner != "ml-platform" {
		t.Errorf("after the replays: with %s, acked by %q, version %d (was %d); want ml-platform's, unacknowledged, unchanged",
			after.Owner, after.AckedBy, after.Version, escalated.Version)
	}
	recs, err := w.Store.AlertRecords(context.Background(), g.Members[0])
	if err != nil {
		t.Fatal(err)
	}
	acks := 0
	for _, r := range recs {
		if r.Action == audit.Acknowledged {
			acks++
		}
	}
	if acks != 1 {
		t.Errorf("%d acknowledgements recorded, want 1", acks)
	}
	for _, reason := range []string{"applied before", "before the alert's current cycle began"} {
		if !strings.Contains(logs.String(), reason) {
			t.Errorf("no log line says %q:\n%s", reason, logs.String())
		}
	}
}

// openGroup runs the router over the scenario's first events on the
// world's table: credit-approval/accuracy-loss opens.
func openGroup(t *testing.T, cfg *config.Config, w *deploytest.World) *state.Group {
	t.Helper()
	w.Route(t, cfg, "../../testdata/scenarios/credit-accuracy-collapse.jsonl", 3)
	g, err := w.Store.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
	if err != nil || g == nil || g.Acked() {
		t.Fatalf("the scenario opened %+v (%v), want an unacknowledged group", g, err)
	}
	return g
}

// acknowledgement is PagerDuty's documented incident.acknowledged
// (internal/pdwebhook/testdata) for the incident under key, as event id,
// made at `at`.
func acknowledgement(t *testing.T, id, key string, at time.Time) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../internal/pdwebhook/testdata/incident_acknowledged.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Event map[string]any `json:"event"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Event["id"], doc.Event["occurred_at"] = id, at.Format(time.RFC3339Nano)
	doc.Event["data"].(map[string]any)["incident_key"] = key
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
