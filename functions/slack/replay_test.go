package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deploytest"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// openGroup runs the router over the scenario's first events on the
// world's DynamoDB Local table: credit-approval/accuracy-loss opens, with
// credit-ds.
func openGroup(t *testing.T, w *deploytest.World) *state.Group {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	w.Route(t, cfg, "../../testdata/scenarios/credit-accuracy-collapse.jsonl", 3)
	g, err := w.Store.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
	if err != nil || g == nil || g.Owner != "credit-ds" {
		t.Fatalf("the scenario opened %+v (%v), want a group with credit-ds", g, err)
	}
	return g
}

// TestReplayedEscalate: the function as deployed, on DynamoDB Local, gets
// one signed "Escalate now" three times within the signature's window. It
// escalates once; each copy is answered 200 and told, ephemerally, that
// it was done.
func TestReplayedEscalate(t *testing.T) {
	w := deploytest.New(t, "../../template.yaml", "SlackFunction")
	for _, k := range []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, w.Env[k])
	}
	g := openGroup(t, w)
	h, err := newApp(context.Background(), func(k string) string { return w.Env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ic := map[string]any{"type": "block_actions", "trigger_id": "13345224609.738474920.8088930838d88f008e0",
		"user": map[string]any{"id": "U012ABCDE", "name": "ana"}, "response_url": w.Slack.ResponseURL("escalate"),
		"team": map[string]any{"id": "T0NOTIFYTEST"}, "channel": map[string]any{"id": "C0CREDITDS"},
		"actions": []any{map[string]any{"type": "static_select", "action_id": slacknotify.ActionMore, "block_id": slacknotify.BlockID(g.ID),
			"action_ts": "1773036300.000100", "selected_option": map[string]any{"value": slacknotify.OptionEscalate,
				"text": map[string]any{"type": "plain_text", "text": "Escalate now"}}}}}
	payload, err := json.Marshal(ic)
	if err != nil {
		t.Fatal(err)
	}
	body := url.Values{"payload": {string(payload)}}.Encode()
	now := time.Now().Unix()
	req := events.LambdaFunctionURLRequest{RawPath: "/", Body: base64.StdEncoding.EncodeToString([]byte(body)), IsBase64Encoded: true,
		Headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "x-slack-request-timestamp": strconv.FormatInt(now, 10),
			"x-slack-signature": signature.SignSlack([]byte(deploytest.SlackSigning), now, []byte(body))}}
	req.RequestContext.HTTP.Method = http.MethodPost
	for i := range 3 {
		if resp, err := h(context.Background(), req); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("copy %d: %d %s %v", i+1, resp.StatusCode, resp.Body, err)
		}
	}
	after, err := w.Store.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
	if err != nil || after.Step != 1 || after.Owner != "ml-platform" {
		t.Fatalf("after one click sent three times: %+v (%v); want step 1, with ml-platform", after, err)
	}
	recs, err := w.Store.AlertRecords(context.Background(), g.Members[0])
	if err != nil {
		t.Fatal(err)
	}
	escalated := 0
	for _, r := range recs {
		if r.Action == audit.Escalated {
			escalated++
		}
	}
	if escalated != 1 {
		t.Errorf("%d escalated records, want 1", escalated)
	}
	replies := w.Slack.Responses("escalate")
	if len(replies) != 2 {
		t.Fatalf("ephemeral replies %+v, want one to each copy", replies)
	}
	for _, r := range replies {
		if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "Already done") {
			t.Errorf("a copy was answered %+v, want an ephemeral \"Already done\"", r)
		}
	}
}
