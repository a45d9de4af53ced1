package deliver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/notifytest"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pdsync"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// A page that must reach someone again opens the group's next PagerDuty
// incident: a trigger under the key of the open one would be appended to
// it and page nobody (pdnotify.IncidentKey). These tests follow such pages
// through the sender to the PagerDuty test server, on DynamoDB Local.

// change applies c as of now, as Slack, PagerDuty or the escalator would,
// and delivers what it queued.
func (e *env) change(c lifecycle.Change) lifecycle.Result {
	e.t.Helper()
	m := &lifecycle.Manager{Config: e.cfg, Store: e.st, Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now }}
	res, err := m.Apply(context.Background(), c)
	if err != nil || !res.Done {
		e.t.Fatalf("%s %s: %+v, %v", c.Action, c.Group, res, err)
	}
	e.deliver(res.Queued)
	return res
}

var ana = lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}

// ackedAccuracyLoss opens credit-approval/accuracy-loss (critical: Slack
// and a page, reack_after 4h), has ana acknowledge it, and returns the
// group's id.
func (e *env) ackedAccuracyLoss() string {
	e.t.Helper()
	ids := e.observe(accuracyDrop)
	if len(ids) != 1 {
		e.t.Fatalf("queued %v, want the opening", ids)
	}
	e.deliver(ids)
	group := strings.TrimSuffix(ids[0], "#1")
	e.advance(5 * time.Minute)
	e.change(lifecycle.Change{Action: lifecycle.Acknowledge, Group: group, By: ana})
	if inc, ok := e.pd.Incident(pdnotify.DedupKey(group)); !ok || inc.Status != notifytest.StatusAcknowledged {
		e.t.Fatalf("incident %+v, want acknowledged", inc)
	}
	return group
}

// reack runs the escalator's reack of group, due 4h after ana's
// acknowledgement.
func (e *env) reack(group string) lifecycle.Result {
	e.t.Helper()
	e.advance(4 * time.Hour)
	return e.change(lifecycle.Change{Action: lifecycle.Reack, Group: group, By: lifecycle.Escalator})
}

// openIncidents are the dedup keys of the incidents left open.
func (e *env) openIncidents() []string {
	var keys []string
	for _, inc := range e.pd.Open() {
		keys = append(keys, inc.DedupKey+" "+inc.Status)
	}
	return keys
}

func TestAnAcknowledgedGroupAskedAgainAfterReackAfterOpensATriggeredIncident(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	group := e.ackedAccuracyLoss()
	res := e.reack(group)

	second := pdnotify.IncidentKey(group, 1)
	if inc, ok := e.pd.Incident(second); !ok || inc.Status != notifytest.StatusTriggered || inc.Number != 1 {
		t.Fatalf("incident %s = %+v, want a new one, triggered (paging ana again)", second, inc)
	}
	if first, _ := e.pd.Incident(pdnotify.DedupKey(group)); first.Status != notifytest.StatusResolved {
		t.Errorf("the acknowledged incident is %s, want resolved: superseded by %s", first.Status, second)
	}
	if open := e.openIncidents(); len(open) != 1 {
		t.Errorf("open incidents %v, want only the new one", open)
	}
	// Retried, the notification sends nothing again.
	calls := e.pd.Calls()
	e.deliver(res.Queued)
	if e.pd.Calls() != calls {
		t.Errorf("a redelivery made %d more PagerDuty calls, want none", e.pd.Calls()-calls)
	}
}

// drift opens credit-approval/feature-drift (testdata/growing-group, its
// severity high: Slack and a page in the critical stakes) with these rule
// lines changed.
func pagingDrift(t *testing.T, from, to string) option {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../../testdata/growing-group")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules", "credit-approval.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rules := strings.Replace(string(b), "    severity: warning\n", "    severity: high\n", 1)
	rules = strings.Replace(rules, from, to, 1)
	if rules == string(b) || !strings.Contains(rules, to) {
		t.Fatalf("%s has no %q to change", path, from)
	}
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return func(o *envOptions) { o.configDir = dir }
}

func drift(feature string, value float64) string {
	b, _ := json.Marshal(value)
	return `"model":"credit-approval","kind":"drift","metric":"psi","feature":"` + feature + `","value":` + string(b)
}

func TestARaisedAcknowledgedGroupPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo, pagingDrift(t, "escalate_when: {members: 10}", "escalate_when: {members: 3}"))
	ids := e.observe(drift("income", 0.31))
	e.deliver(ids)
	group := strings.TrimSuffix(ids[0], "#1")
	e.advance(time.Minute)
	e.change(lifecycle.Change{Action: lifecycle.Acknowledge, Group: group, By: ana})
	e.advance(time.Minute)
	e.observe(drift("debt_to_income", 0.3))
	raised := e.observe(drift("tenure", 0.3)) // the third: escalate_when members 3
	if len(raised) != 1 || !strings.HasPrefix(raised[0], group+"#") {
		t.Fatalf("queued %v, want the raise of %s", raised, group)
	}
	e.deliver(raised)
	key := pdnotify.IncidentKey(group, 1)
	inc, ok := e.pd.Incident(key)
	if !ok || inc.Status != notifytest.StatusTriggered || inc.Events[0].Payload.Severity != "critical" {
		t.Fatalf("incident %s = %+v, want a new one, triggered at critical", key, inc)
	}
	if open := e.openIncidents(); len(open) != 1 {
		t.Errorf("open incidents %v, want only the raise's (the acknowledged one superseded)", open)
	}
}

func TestAFlappingReopenPagesOnceAndEditsTheSlackMessageInPlace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo, pagingDrift(t, "escalate_when: {members: 10}", "flapping: {opens: 2, within: 6h, quiet_for: 1h}"))
	var all []string
	for i := range 10 { // an oscillation every 10 minutes
		ids := e.observe(drift("income", 0.31))
		if i == 0 && len(ids) == 1 {
			all = append(all, strings.TrimSuffix(ids[0], "#1"))
		}
		e.deliver(ids)
		e.advance(5 * time.Minute)
		e.deliver(e.observe(drift("income", 0.05)))
		e.advance(5 * time.Minute)
	}
	if len(all) != 1 {
		t.Fatal("the first breach opened no group")
	}
	group := all[0]
	if posts := e.slack.Calls("chat.postMessage") - len(e.slack.Replies(creditChannel, e.slack.Messages(creditChannel)[0].TS)); posts != 1 {
		t.Errorf("%d Slack messages posted (besides thread replies), want one, edited in place", posts)
	}
	var triggers []string
	for _, ev := range e.pd.Events() {
		if ev.EventAction == "trigger" {
			triggers = append(triggers, ev.DedupKey)
		}
	}
	if want := []string{pdnotify.DedupKey(group), pdnotify.IncidentKey(group, 1)}; strings.Join(triggers, " ") != strings.Join(want, " ") {
		t.Errorf("triggers %v, want %v: the opening, then the reopening once", triggers, want)
	}
	if open := e.openIncidents(); len(open) != 1 || open[0] != pdnotify.IncidentKey(group, 1)+" triggered" {
		t.Errorf("open incidents %v, want the reopening's, triggered", open)
	}
}

func TestResolvingAGroupResolvesEveryIncidentItOpened(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	group := e.ackedAccuracyLoss()
	e.reack(group)
	e.advance(15 * time.Minute) // nobody answers: ml-platform is paged
	e.change(lifecycle.Change{Action: lifecycle.Timeout, Group: group, By: lifecycle.Escalator})
	d, err := e.st.GetDelivery(context.Background(), group)
	if err != nil || len(d.Pages) != 3 {
		t.Fatalf("pages %+v (%v), want credit-ds's two incidents and ml-platform's", d, err)
	}
	e.advance(time.Minute)
	e.change(lifecycle.Change{Action: lifecycle.Resolve, Group: group, By: ana})
	if open := e.openIncidents(); len(open) != 0 {
		t.Errorf("open incidents %v after the group was resolved, want none", open)
	}
	if n := len(e.pd.Incidents(pdnotify.DedupKey(group))) + len(e.pd.Incidents(pdnotify.IncidentKey(group, 1))); n != 2 {
		t.Errorf("%d incidents, want 2 (the first, and the one reack_after opened)", n)
	}
}

// pagerDutyWebhook signs PagerDuty's documented example of event type on
// the incident with key incidentKey, made 30s ago, and sends it to app.
func (e *env) pagerDutyWebhook(app *pdsync.App, id, eventType, incidentKey string) {
	e.t.Helper()
	raw, err := os.ReadFile("../pdwebhook/testdata/incident_acknowledged.json")
	if err != nil {
		e.t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		e.t.Fatal(err)
	}
	ev := doc["event"].(map[string]any)
	ev["id"], ev["event_type"], ev["occurred_at"] = id, eventType, e.now.Add(-30*time.Second).Format(time.RFC3339Nano)
	ev["data"].(map[string]any)["incident_key"] = incidentKey
	body, err := json.Marshal(doc)
	if err != nil {
		e.t.Fatal(err)
	}
	secret := []byte("pd-webhook-test-secret-not-real")
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	r.Header.Set(signature.PagerDutySignatureHeader, signature.SignPagerDuty(secret, body))
	w := httptest.NewRecorder()
	app.WebhookSecret = func(context.Context) ([]byte, error) { return secret, nil }
	app.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		e.t.Fatalf("webhook %s: %d %s", id, w.Code, w.Body.String())
	}
}

func TestAPagerDutyAcknowledgeOnALaterIncidentAcknowledgesTheGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, onDynamo)
	group := e.ackedAccuracyLoss()
	e.reack(group)
	e.advance(time.Minute)
	app := &pdsync.App{Config: e.cfg, Store: e.st, Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now },
		Deliver: func(ctx context.Context, ids []string) error { _, err := e.sender.Deliver(ctx, ids); return err }}
	getGroup := func() *state.Group {
		g, err := e.st.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
		if err != nil || g == nil {
			t.Fatalf("group: %v %v", g, err)
		}
		return g
	}

	// PagerDuty tells of stakeout's own resolution of the superseded
	// incident: the group stays open.
	e.pagerDutyWebhook(app, "pd-resolved-first", "incident.resolved", pdnotify.DedupKey(group))
	if g := getGroup(); g.Over() || g.Acked() {
		t.Fatalf("after the superseded incident's resolution: over %v, acked by %q; want open, unacknowledged", g.Over(), g.AckedBy)
	}
	e.pagerDutyWebhook(app, "pd-acked-second", "incident.acknowledged", pdnotify.IncidentKey(group, 1))
	if g := getGroup(); g.AckedBy != "pagerduty:PSTKU01" || !g.EscalateAt.IsZero() {
		t.Errorf("acknowledged by %q, escalates at %v; want Dana's (pagerduty:PSTKU01), no escalation", g.AckedBy, g.EscalateAt)
	}
	if inc, _ := e.pd.Incident(pdnotify.IncidentKey(group, 1)); inc.Status != notifytest.StatusAcknowledged {
		t.Errorf("incident %s is %s, want acknowledged", inc.DedupKey, inc.Status)
	}
}
