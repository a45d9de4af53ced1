package looptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/bustest"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/deliver"
	"github.com/stakeout-ml/stakeout/internal/dynamostore"
	"github.com/stakeout-ml/stakeout/internal/dynamotest"
	"github.com/stakeout-ml/stakeout/internal/escalator"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pdsync"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/secret"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/slackapp"
	"github.com/stakeout-ml/stakeout/internal/slacknotify"
	"github.com/stakeout-ml/stakeout/internal/state"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// Every test has its own table, test servers and clock, so they run in
// parallel (t.Parallel): most of their time is spent waiting on DynamoDB
// Local and the test servers.

// Test-only secrets: obviously not real ones.
var (
	slackSigning = []byte("test-slack-signing-secret-not-real")
	pdWebhook    = []byte("test-pagerduty-webhook-secret-not-real")
)

var channels = []string{"C0CREDITDS", "C0MLPLATFM", "C0DATAPLAT", "C0HEADOFML", "C0LENDPROD", "C0LISTENPM", "C0PERSNLDS"}

// world is the whole of stakeout wired to real parts: DynamoDB Local, the
// Slack, PagerDuty and EventBridge test servers, and the functions' HTTP
// handlers; the clock is the test's.
type world struct {
	t     *testing.T
	cfg   *config.Config
	st    *dynamostore.Store
	slack *notifytest.Slack
	pd    *notifytest.PagerDuty
	eb    *bustest.Server

	router *pipeline.Processor
	sender *deliver.Sender
	esc    *escalator.Escalator
	slackH http.Handler
	pdH    http.Handler

	mu  sync.Mutex
	now time.Time
}

func newWorld(t *testing.T, start time.Time) *world {
	t.Helper()
	cfg, err := config.Load("../..")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, cfg: cfg, now: start}
	table := dynamotest.TableName(t)
	if err := dynamostore.CreateTable(context.Background(), dynamotest.Client(t), table); err != nil {
		t.Fatal(err)
	}
	w.st = dynamostore.New(dynamotest.Client(t), table, w.clock)
	w.slack = notifytest.NewSlack(t, notifytest.WithChannels(channels...))
	w.pd = notifytest.NewPagerDuty(t, notifytest.WithRoutingKeys(notifytest.DefaultRoutingKey))
	w.eb = bustest.New(t)
	keys := map[string]string{}
	for _, o := range cfg.Owners {
		if o.PagerDuty.RoutingKey != "" {
			keys[secret.EnvVar(o.PagerDuty.RoutingKey)] = notifytest.DefaultRoutingKey
		}
	}
	secrets := secret.NewEnv(func(k string) (string, bool) { v, ok := keys[k]; return v, ok })
	w.router = &pipeline.Processor{Config: cfg, Store: w.st, Now: w.clock, Sightings: w.st}
	w.sender = &deliver.Sender{Config: cfg, Store: w.st, Now: w.clock, Sleep: deliver.Sleep, Notifiers: map[string]deliver.Notifier{
		"slack":        &slacknotify.Notifier{API: slacknotify.NewClient(secret.New(w.slack.Token()), w.slack.URL())},
		"pagerduty":    &pdnotify.Notifier{Config: cfg, Sender: pdnotify.New(secrets, w.pd.URL())},
		deliver.Events: &bus.Notifier{Bus: bus.New(w.eb.Client(t), "default")}}}
	// Silence watching is TestSilence's: here it would open alerts for
	// every monitor the test does not feed.
	w.esc = &escalator.Escalator{Config: cfg, Store: w.st, Now: w.clock, Signals: []string{}}
	deliverIDs := func(ctx context.Context, ids []string) error { _, err := w.sender.Deliver(ctx, ids); return err }
	w.slackH = &slackapp.App{Config: cfg, Store: w.st, Now: w.clock, Deliver: deliverIDs,
		SigningSecret: func(context.Context) ([]byte, error) { return slackSigning, nil }}
	w.pdH = &pdsync.App{Config: cfg, Store: w.st, Now: w.clock, Deliver: deliverIDs,
		WebhookSecret: func(context.Context) ([]byte, error) { return pdWebhook, nil }}
	t.Cleanup(func() {
		for _, r := range w.slack.Rejections() {
			t.Errorf("Slack refused a call: %s", r)
		}
		for _, v := range w.pd.Violations() {
			t.Errorf("PagerDuty refused an event: %s", v)
		}
	})
	return w
}

func (w *world) clock() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.now }

func (w *world) set(t time.Time) { w.mu.Lock(); defer w.mu.Unlock(); w.now = t }

// event applies one EventBridge event through the router and delivers
// what it queued, as the router function does.
func (w *world) event(raw string) {
	w.t.Helper()
	out, err := w.router.Process(context.Background(), []byte(raw))
	if err != nil || out.Quarantined != "" {
		w.t.Fatalf("event: %v %s", err, out.Quarantined)
	}
	var ids []string
	for _, n := range out.Queued {
		ids = append(ids, n.ID)
	}
	if _, err := w.sender.Deliver(context.Background(), ids); err != nil {
		w.t.Fatal(err)
	}
}

// tick runs the escalator function's work at the current time.
func (w *world) tick() escalator.Report {
	w.t.Helper()
	rep, err := w.esc.Tick(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.sender.Deliver(context.Background(), rep.Queued); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.sender.Drain(context.Background(), 50); err != nil {
		w.t.Fatal(err)
	}
	return rep
}

// press sends a signed block_actions interaction, as Slack does.
func (w *world) press(user, actionID, value, option, group, responseID string) *httptest.ResponseRecorder {
	w.t.Helper()
	act := map[string]any{"action_id": actionID, "block_id": "g:" + group, "type": "button", "value": value}
	if option != "" {
		act = map[string]any{"action_id": actionID, "block_id": "g:" + group, "type": "static_select",
			"selected_option": map[string]any{"value": option, "text": map[string]any{"type": "plain_text", "text": option}}}
	}
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]any{"id": user, "name": "user-" + strings.ToLower(user)},
		"response_url": w.slack.ResponseURL(responseID), "actions": []any{act},
		"container": map[string]any{"type": "message", "channel_id": "C0CREDITDS"}})
	body := "payload=" + url.QueryEscape(string(payload))
	return w.slackRequest(body, w.clock())
}

func (w *world) slackRequest(body string, at time.Time) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ts := at.Unix()
	r.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	r.Header.Set("X-Slack-Signature", signature.SignSlack(slackSigning, ts, []byte(body)))
	rec := httptest.NewRecorder()
	w.slackH.ServeHTTP(rec, r)
	return rec
}

// webhook sends a signed PagerDuty v3 webhook about the group's incident.
func (w *world) webhook(eventType, group, agentID string) *httptest.ResponseRecorder {
	w.t.Helper()
	body := fmt.Sprintf(`{"event":{"id":"01TESTEVENT%d","event_type":%q,"resource_type":"incident","occurred_at":%q,
"agent":{"html_url":"https://example.pagerduty.com/users/%s","id":%q,"self":"https://api.pagerduty.com/users/%s","summary":"Pat On-Call","type":"user_reference"},
"client":null,"data":{"id":"Q1TESTINCIDENT","type":"incident","self":"https://api.pagerduty.com/incidents/Q1TESTINCIDENT",
"html_url":"https://example.pagerduty.com/incidents/Q1TESTINCIDENT","number":42,"status":%q,"incident_key":%q,
"created_at":"2026-03-09T06:00:02Z","title":"test","service":{"html_url":"https://example.pagerduty.com/services/PSVC","id":"PSVC","self":"https://api.pagerduty.com/services/PSVC","summary":"credit","type":"service_reference"},
"assignees":[],"escalation_policy":{"html_url":"","id":"PEP","self":"","summary":"","type":"escalation_policy_reference"},"teams":[],"priority":null,"urgency":"high","conference_bridge":null,"resolve_reason":null}}}`,
		w.clock().Unix(), eventType, w.clock().UTC().Format(time.RFC3339), agentID, agentID, agentID,
		map[string]string{"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}[eventType], pdnotify.DedupKey(group))
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-PagerDuty-Signature", "v1=00ff,"+signature.SignPagerDuty(pdWebhook, []byte(body)))
	rec := httptest.NewRecorder()
	w.pdH.ServeHTTP(rec, r)
	return rec
}

func (w *world) group(model, rule string) *state.Group {
	w.t.Helper()
	g, err := w.st.GetGroup(context.Background(), model, rule)
	if err != nil || g == nil {
		w.t.Fatalf("group %s/%s: %v %v", model, rule, g, err)
	}
	return g
}

func scenario(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("../../testdata/scenarios/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			lines = append(lines, s)
		}
	}
	return lines
}

// TestTheLoop: open → nobody acknowledges → escalation at exactly the
// right tick → acknowledged from Slack → no further escalation → resolved
// in PagerDuty → resolved in Slack, with the audit trail checked record by
// record.
func TestTheLoop(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 9, 6, 0, 5, 0, time.UTC)
	w := newWorld(t, t0)
	events := scenario(t, "credit-accuracy-collapse.jsonl")
	for _, e := range events[:3] {
		w.event(e) // the third collapses accuracy: accuracy-loss opens (critical: slack + pagerduty, ack within 15m)
	}
	g := w.group("credit-approval", "accuracy-loss")
	alert := g.Members[0]
	if g.Owner != "credit-ds" || !g.EscalateAt.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("group opened with owner %s escalating at %s, want credit-ds at %s", g.Owner, g.EscalateAt, t0.Add(15*time.Minute))
	}
	opened := w.slack.Messages("C0CREDITDS")
	if len(opened) != 1 || len(w.pd.Events()) != 1 {
		t.Fatalf("after opening: %d messages in C0CREDITDS, %d PagerDuty events; want 1 and 1", len(opened), len(w.pd.Events()))
	}

	// One second before the deadline nothing happens; at the first tick
	// at or after it, the group escalates to ml-platform.
	w.set(t0.Add(15*time.Minute - time.Second))
	if rep := w.tick(); rep.Escalated != 0 {
		t.Fatalf("escalated %d at %s, a second before the deadline", rep.Escalated, w.clock())
	}
	w.set(t0.Add(15 * time.Minute))
	if rep := w.tick(); rep.Escalated != 1 {
		t.Fatalf("escalated %d at the deadline, want 1", rep.Escalated)
	}
	g = w.group("credit-approval", "accuracy-loss")
	if g.Owner != "ml-platform" || g.Step != 1 || !g.EscalateAt.Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("after escalation: owner %s step %d next %s", g.Owner, g.Step, g.EscalateAt)
	}
	if msgs := w.slack.Messages("C0MLPLATFM"); len(msgs) != 1 || !bytes.Contains(msgs[0].Blocks, []byte("escalated 1 time")) {
		t.Fatalf("ml-platform was not told in its channel: %d messages", len(msgs))
	}
	if replies := w.slack.Replies("C0CREDITDS", opened[0].TS); len(replies) != 1 || !bytes.Contains(replies[0].Blocks, []byte("Escalated to")) {
		t.Fatalf("the original thread was not told of the escalation: %d replies", len(replies))
	}

	// Someone who is no owner presses Acknowledge: told no, nothing moves.
	w.set(t0.Add(17 * time.Minute))
	before := w.group("credit-approval", "accuracy-loss")
	trail := w.trail(alert)
	if rec := w.press("U0STRANGER", slacknotify.ActionAcknowledge, g.ID, "", g.ID, "stranger"); rec.Code != http.StatusOK {
		t.Fatalf("press: %d %s", rec.Code, rec.Body)
	}
	if r := w.slack.Responses("stranger"); len(r) != 1 || r[0].ResponseType != "ephemeral" || !strings.Contains(r[0].Text, "Not allowed") {
		t.Fatalf("the stranger was not told no, ephemerally: %+v", r)
	}
	if after := w.group("credit-approval", "accuracy-loss"); after.Version != before.Version || len(w.trail(alert)) != len(trail) {
		t.Fatal("an unauthorised press changed the group or the trail")
	}

	// A member of ml-platform acknowledges from Slack.
	w.set(t0.Add(18 * time.Minute))
	if rec := w.press("U01MLP0002", slacknotify.ActionAcknowledge, g.ID, "", g.ID, "ack"); rec.Code != http.StatusOK {
		t.Fatalf("press: %d %s", rec.Code, rec.Body)
	}
	g = w.group("credit-approval", "accuracy-loss")
	// Escalation stopped; due only when reack_after (critical: 4h) asks again.
	if g.AckedBy != "slack:U01MLP0002" || !g.EscalateAt.IsZero() || !g.Due().Equal(g.AckedAt.Add(4*time.Hour)) {
		t.Fatalf("acknowledged by %q, due %s", g.AckedBy, g.Due())
	}
	for _, ch := range []string{"C0CREDITDS", "C0MLPLATFM"} {
		m := w.slack.Messages(ch)[0]
		if !bytes.Contains(m.Blocks, []byte("acknowledged by \\u003c@U01MLP0002\\u003e")) && !bytes.Contains(m.Blocks, []byte("acknowledged by <@U01MLP0002>")) {
			t.Errorf("%s message does not show the acknowledgement: %s", ch, m.Blocks)
		}
		if bytes.Contains(m.Blocks, []byte(slacknotify.ActionAcknowledge)) {
			t.Errorf("%s message still offers Acknowledge", ch)
		}
	}
	acks := 0
	for _, e := range w.pd.Events() {
		if e.EventAction == "acknowledge" {
			acks++
		}
	}
	if acks == 0 {
		t.Error("the acknowledgement did not reach PagerDuty")
	}

	// No further escalation, however long it stays open.
	for _, m := range []time.Duration{30, 45, 60, 120} {
		w.set(t0.Add(m * time.Minute))
		if rep := w.tick(); rep.Escalated != 0 {
			t.Fatalf("escalated at +%dm after the acknowledgement", m)
		}
	}

	// Resolved in PagerDuty.
	w.set(t0.Add(3 * time.Hour))
	if rec := w.webhook("incident.resolved", g.ID, "PUSER01"); rec.Code != http.StatusNoContent {
		t.Fatalf("webhook: %d %s", rec.Code, rec.Body)
	}
	g = w.group("credit-approval", "accuracy-loss")
	if !g.Over() || g.ClosedBy != "pagerduty:PUSER01" {
		t.Fatalf("not resolved from PagerDuty: %+v", g.Lifecycle)
	}
	for _, ch := range []string{"C0CREDITDS", "C0MLPLATFM"} {
		if m := w.slack.Messages(ch)[0]; !bytes.Contains(m.Blocks, []byte("Resolved")) || bytes.Contains(m.Blocks, []byte(slacknotify.ActionResolve)) {
			t.Errorf("%s message not shown resolved", ch)
		}
	}
	// A retried webhook changes nothing.
	n := len(w.trail(alert))
	if rec := w.webhook("incident.resolved", g.ID, "PUSER01"); rec.Code != http.StatusNoContent || len(w.trail(alert)) != n {
		t.Fatalf("a retried webhook: %d, trail %d → %d", rec.Code, n, len(w.trail(alert)))
	}

	// The trail, record by record.
	type rec struct{ action, actor, owner string }
	want := []rec{
		{audit.Opened, "router", "credit-ds"},
		{audit.Queued, "router", "credit-ds"},
		{audit.Notified, "sender", "credit-ds"}, // slack
		{audit.Notified, "sender", "credit-ds"}, // pagerduty
		{audit.Escalated, "escalator", "ml-platform"},
		{audit.Queued, "escalator", "ml-platform"},
		{audit.Notified, "sender", "ml-platform"}, // slack
		{audit.Notified, "sender", "ml-platform"}, // pagerduty
		{audit.Acknowledged, "slack:U01MLP0002", "ml-platform"},
		{audit.Queued, "slack:U01MLP0002", "ml-platform"},
		{audit.Notified, "sender", "ml-platform"}, // slack
		{audit.Notified, "sender", "ml-platform"}, // pagerduty acknowledge
		{audit.Resolved, "pagerduty:PUSER01", "ml-platform"},
		{audit.Queued, "pagerduty:PUSER01", "ml-platform"},
		{audit.Notified, "sender", "ml-platform"}, // slack
		{audit.Notified, "sender", "ml-platform"}, // pagerduty resolve
	}
	got := w.trail(alert)
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("record %d missing: want %+v", i+1, want[i])
		case i >= len(want):
			t.Errorf("record %d unexpected: %s by %s (%s)", i+1, got[i].Action, got[i].Actor, got[i].Detail)
		case got[i].Action != want[i].action || got[i].Actor != want[i].actor || got[i].Owner != want[i].owner:
			t.Errorf("record %d = %s by %s for %s (%s), want %+v", i+1, got[i].Action, got[i].Actor, got[i].Owner, got[i].Detail, want[i])
		}
	}
	if err := audit.Verify(got); err != nil {
		t.Error(err)
	}
	if at := got[4].At; !at.Equal(t0.Add(15 * time.Minute)) {
		t.Errorf("escalation recorded at %s, want %s", at, t0.Add(15*time.Minute))
	}

	// The lifecycle events on EventBridge, in order, each once.
	var types []string
	for _, e := range w.eb.Events() {
		types = append(types, e.DetailType)
		var d map[string]any
		if err := json.Unmarshal(e.Detail, &d); err != nil || d["group"] != g.ID || d["model"] != "credit-approval" {
			t.Errorf("%s detail: %s", e.DetailType, e.Detail)
		}
		if e.Source != bus.Source {
			t.Errorf("source %q", e.Source)
		}
	}
	if got, want := strings.Join(types, ", "), "Alert Opened, Alert Escalated, Alert Acknowledged, Alert Resolved"; got != want {
		t.Errorf("events = %s, want %s", got, want)
	}
}

func (w *world) trail(alert string) []audit.Record {
	w.t.Helper()
	recs, err := w.st.AlertRecords(context.Background(), alert)
	if err != nil {
		w.t.Fatal(err)
	}
	return recs
}
