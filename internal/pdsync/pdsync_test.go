package pdsync_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/lifecycle"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pdnotify"
	"github.com/stakeout-ml/stakeout/internal/pdsync"
	"github.com/stakeout-ml/stakeout/internal/pdwebhook"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signature"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// webhookSecret is a test value, not a credential.
var webhookSecret = []byte("pd-webhook-test-secret-not-real")

// t0 is five minutes after the scenario's third event opened
// credit-approval/accuracy-loss.
var t0 = time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC)

// The sample key of internal/pdwebhook/testdata: model/rule, not a group.
const sampleKey = "stakeout/credit-approval/accuracy-loss"

type env struct {
	t     *testing.T
	cfg   *config.Config
	st    *memstore.Store
	app   *pdsync.App
	group *state.Group
	alert string

	mu        sync.Mutex
	now       time.Time
	delivered []string
}

// loadConfig reads the repository's rules and owners once (the fuzz target
// makes an env per input); nothing changes a loaded configuration.
var loadConfig = sync.OnceValues(func() (*config.Config, error) { return config.Load("../..") })

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, cfg: cfg, now: t0}
	e.st = memstore.New(e.clock)
	e.app = &pdsync.App{Config: cfg, Store: e.st, Now: e.clock,
		WebhookSecret: func(context.Context) ([]byte, error) { return webhookSecret, nil },
		Deliver: func(_ context.Context, ids []string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.delivered = append(e.delivered, ids...)
			return nil
		}}
	p := &pipeline.Processor{Config: cfg, Store: e.st, Now: e.clock}
	for _, raw := range scenario(t)[:3] {
		if _, err := p.Process(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	e.group = e.getGroup()
	if e.group == nil || e.group.Over() || e.group.Acked() || len(e.group.Members) != 1 {
		t.Fatalf("the scenario did not open one unacknowledged accuracy-loss alert: %+v", e.group)
	}
	e.alert = e.group.Members[0]
	return e
}

func scenario(t *testing.T) [][]byte {
	t.Helper()
	f, err := os.Open("../../testdata/scenarios/credit-accuracy-collapse.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, []byte(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) getGroup() *state.Group {
	e.t.Helper()
	g, err := e.st.GetGroup(context.Background(), "credit-approval", "accuracy-loss")
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func (e *env) trail() []audit.Record {
	e.t.Helper()
	recs, err := e.st.AlertRecords(context.Background(), e.alert)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

func (e *env) deliveries() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.delivered)
}

type snapshot struct {
	group     *state.Group
	trail     []audit.Record
	delivered []string
}

func (e *env) snapshot() snapshot {
	return snapshot{group: e.getGroup(), trail: e.trail(), delivered: e.deliveries()}
}

func (e *env) unchanged(s snapshot) {
	e.t.Helper()
	now := e.snapshot()
	if now.group.Version != s.group.Version || !reflect.DeepEqual(now.group, s.group) {
		e.t.Errorf("the group changed:\nbefore %+v\nafter  %+v", s.group, now.group)
	}
	if !reflect.DeepEqual(now.trail, s.trail) {
		e.t.Errorf("the audit trail changed: %d records before, %d after", len(s.trail), len(now.trail))
	}
	if !slices.Equal(now.delivered, s.delivered) {
		e.t.Errorf("notifications were delivered: before %v, after %v", s.delivered, now.delivered)
	}
}

func (e *env) newRecords(s snapshot) []audit.Record {
	e.t.Helper()
	recs := e.trail()
	if len(recs) < len(s.trail) {
		e.t.Fatalf("the audit trail shrank from %d to %d records", len(s.trail), len(recs))
	}
	return recs[len(s.trail):]
}

func actions(recs []audit.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

func (e *env) notice(s snapshot) *state.Notification {
	e.t.Helper()
	ids := e.deliveries()[len(s.delivered):]
	if len(ids) != 1 {
		e.t.Fatalf("delivered %v, want one notification", ids)
	}
	n, err := e.st.GetNotice(context.Background(), ids[0])
	if err != nil || n == nil {
		e.t.Fatalf("notification %s not in the outbox: %v", ids[0], err)
	}
	return n
}

// webhook is PagerDuty's documented example (internal/pdwebhook/testdata)
// with the incident key, and optionally the event type and agent, changed.
// It occurred half a minute before t0 (the example's own date is a week
// earlier, older than any delivery PagerDuty makes).
func webhook(t *testing.T, file, incidentKey string, edit func(ev map[string]any)) []byte {
	t.Helper()
	raw, err := os.ReadFile("../pdwebhook/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	ev := doc["event"].(map[string]any)
	ev["occurred_at"] = t0.Add(-30 * time.Second).Format(time.RFC3339Nano)
	if data, ok := ev["data"].(map[string]any); ok && data["type"] == "incident" {
		if incidentKey == "<null>" {
			data["incident_key"] = nil
		} else {
			data["incident_key"] = incidentKey
		}
	}
	if edit != nil {
		edit(ev)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (e *env) dedupKey() string { return pdnotify.DedupKey(e.group.ID) }

func (e *env) post(body []byte, sig string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Webhook-Id", "test-webhook")
	if sig != "" {
		r.Header.Set(signature.PagerDutySignatureHeader, sig)
	}
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	return w
}

// send posts a webhook signed with the subscription's secret.
func (e *env) send(body []byte) int {
	return e.post(body, signature.SignPagerDuty(webhookSecret, body)).Code
}

func TestAcknowledged(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	if code := e.send(webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)); code != http.StatusNoContent {
		t.Fatalf("status %d, want 204", code)
	}
	g := e.getGroup()
	if g.AckedBy != "pagerduty:PSTKU01" || g.AckedName != "Dana On-Call" || !g.AckedAt.Equal(t0) {
		t.Errorf("acknowledged by %q %q at %v, want pagerduty:PSTKU01 Dana On-Call at %v", g.AckedBy, g.AckedName, g.AckedAt, t0)
	}
	if !g.EscalateAt.IsZero() || !g.Due().Equal(g.ReackAt) || g.ReackAt.Before(t0) {
		t.Errorf("an acknowledgement in PagerDuty must stop the escalation: escalates at %v", g.EscalateAt)
	}
	recs := e.newRecords(before)
	if got := actions(recs); !slices.Equal(got, []string{audit.Acknowledged, audit.Queued}) {
		t.Fatalf("new audit records %v, want [acknowledged queued]", got)
	}
	if recs[0].Actor != "pagerduty:PSTKU01" || !strings.Contains(recs[0].Detail, "incident PSTKI42") {
		t.Errorf("audit record by %q: %q; want by pagerduty:PSTKU01 naming incident PSTKI42", recs[0].Actor, recs[0].Detail)
	}
	n := e.notice(before)
	if n.Kind != state.NoticeAcknowledged || n.Group != g.ID || n.Lifecycle.AckedBy != "pagerduty:PSTKU01" {
		t.Errorf("delivered %+v, want the acknowledgement of %s", n, g.ID)
	}
}

func TestResolved(t *testing.T) {
	for _, c := range []struct {
		name, file string
		edit       func(ev map[string]any)
		by         string
	}{
		{"by a user", "incident_acknowledged.json", func(ev map[string]any) {
			ev["event_type"] = pdwebhook.IncidentResolved
			ev["data"].(map[string]any)["status"] = "resolved"
		}, "pagerduty:PSTKU01"},
		{"with no agent (auto-resolved)", "incident_resolved_no_agent.json", nil, "pagerduty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			if code := e.send(webhook(t, c.file, e.dedupKey(), c.edit)); code != http.StatusNoContent {
				t.Fatalf("status %d, want 204", code)
			}
			g := e.getGroup()
			if g.Resolution != state.ResolvedByPerson || g.ClosedBy != c.by || !g.Over() || g.Open != 0 {
				t.Errorf("after incident.resolved: resolution %q by %q, over %v; want resolved by %s", g.Resolution, g.ClosedBy, g.Over(), c.by)
			}
			a, err := e.st.GetAlert(context.Background(), e.alert)
			if err != nil || a.Status != state.Resolved {
				t.Errorf("alert %s is %v (%v), want resolved", e.alert, a.Status, err)
			}
			recs := e.newRecords(before)
			if got := actions(recs); !slices.Equal(got, []string{audit.Resolved, audit.Queued}) {
				t.Errorf("new audit records %v, want [resolved queued]", got)
			}
			for _, r := range recs {
				if r.Actor != c.by {
					t.Errorf("audit %s by %q, want %s", r.Action, r.Actor, c.by)
				}
			}
			if n := e.notice(before); n.Kind != state.NoticeResolved {
				t.Errorf("delivered a %s notification, want resolved", n.Kind)
			}
		})
	}
}

// TestIgnored: incidents stakeout did not trigger, and events it does not
// act on, are answered 204 (so PagerDuty does not retry) and change nothing.
func TestIgnored(t *testing.T) {
	cases := []struct {
		name string
		body func(e *env) []byte
	}{
		{"another tool's incident", func(e *env) []byte { return webhook(t, "incident_acknowledged.json", "nagios/db-01/disk", nil) }},
		{"no incident key", func(e *env) []byte { return webhook(t, "incident_acknowledged.json", "", nil) }},
		{"a null incident key", func(e *env) []byte { return webhook(t, "incident_acknowledged.json", "<null>", nil) }},
		{"a stakeout key that is no group id", func(e *env) []byte { return webhook(t, "incident_acknowledged.json", sampleKey, nil) }},
		{"an older group of the same rule", func(e *env) []byte {
			return webhook(t, "incident_acknowledged.json", "stakeout/credit-approval/accuracy-loss@20260101T000000Z.1", nil)
		}},
		{"a group of a rule with no group", func(e *env) []byte {
			return webhook(t, "incident_acknowledged.json", "stakeout/credit-approval/schema-break@20260309T060000Z.1", nil)
		}},
		{"a group of an unknown model", func(e *env) []byte {
			return webhook(t, "incident_resolved_no_agent.json", "stakeout/nope/rule@20260309T060000Z.1", nil)
		}},
		{"the right key with a different letter case", func(e *env) []byte {
			return webhook(t, "incident_acknowledged.json", strings.ToUpper(e.dedupKey()), nil)
		}},
		{"incident.annotated", func(e *env) []byte {
			return webhook(t, "incident_annotated.json", e.dedupKey(), nil)
		}},
		{"incident.unacknowledged", func(e *env) []byte {
			return webhook(t, "incident_acknowledged.json", e.dedupKey(), func(ev map[string]any) { ev["event_type"] = pdwebhook.IncidentUnacknowledged })
		}},
		{"incident.triggered", func(e *env) []byte {
			return webhook(t, "incident_acknowledged.json", e.dedupKey(), func(ev map[string]any) { ev["event_type"] = pdwebhook.IncidentTriggered })
		}},
		{"ping", func(e *env) []byte { return webhook(t, "ping.json", "", nil) }},
		{"service.updated", func(e *env) []byte { return webhook(t, "service_updated.json", "", nil) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			if code := e.send(c.body(e)); code != http.StatusNoContent {
				t.Errorf("status %d, want 204", code)
			}
			e.unchanged(before)
		})
	}
}

// TestSignature: only a body signed with the subscription's secret is
// acted on.
func TestSignature(t *testing.T) {
	cases := []struct {
		name string
		sig  func(body []byte) string
		// tamper changes the body after signing.
		tamper bool
		want   int
	}{
		{"one valid signature", func(b []byte) string { return signature.SignPagerDuty(webhookSecret, b) }, false, http.StatusNoContent},
		{"rotation: an old and the current secret", func(b []byte) string {
			return signature.SignPagerDuty([]byte("previous-secret"), b) + "," + signature.SignPagerDuty(webhookSecret, b)
		}, false, http.StatusNoContent},
		{"a future version next to v1", func(b []byte) string {
			return "v2=" + strings.Repeat("ab", 32) + ", " + signature.SignPagerDuty(webhookSecret, b)
		}, false, http.StatusNoContent},
		{"no signature", func([]byte) string { return "" }, false, http.StatusUnauthorized},
		{"wrong secret", func(b []byte) string { return signature.SignPagerDuty([]byte("not-the-secret"), b) }, false, http.StatusUnauthorized},
		{"tampered body", func(b []byte) string { return signature.SignPagerDuty(webhookSecret, b) }, true, http.StatusUnauthorized},
		{"only another version", func(b []byte) string {
			return "v2=" + strings.TrimPrefix(signature.SignPagerDuty(webhookSecret, b), "v1=")
		}, false, http.StatusUnauthorized},
		{"garbage", func([]byte) string { return "v1=nothex" }, false, http.StatusUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			body := webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)
			sig := c.sig(body)
			if c.tamper {
				// Someone else's name on the acknowledgement.
				body = []byte(strings.Replace(string(body), "PSTKU01", "PEVIL99", -1))
			}
			w := e.post(body, sig)
			if w.Code != c.want {
				t.Fatalf("status %d (%s), want %d", w.Code, strings.TrimSpace(w.Body.String()), c.want)
			}
			if c.want == http.StatusUnauthorized {
				e.unchanged(before)
				return
			}
			if g := e.getGroup(); g.AckedBy != "pagerduty:PSTKU01" {
				t.Errorf("a signed webhook was not applied: AckedBy %q", g.AckedBy)
			}
		})
	}
}

// TestUnparseable: a body PagerDuty signed but stakeout cannot read is a
// 400 and changes nothing.
func TestUnparseable(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":              "{not json",
		"empty":                 "",
		"no event":              `{"webhook": {}}`,
		"event without id":      `{"event":{"event_type":"incident.acknowledged","resource_type":"incident","occurred_at":"2026-03-09T06:04:00Z","data":{"type":"incident","id":"P1"}}}`,
		"a bad time":            `{"event":{"id":"x","event_type":"incident.acknowledged","resource_type":"incident","occurred_at":"yesterday","data":{"type":"incident","id":"P1"}}}`,
		"incident without data": `{"event":{"id":"x","event_type":"incident.acknowledged","resource_type":"incident","occurred_at":"2026-03-09T06:04:00Z","data":null}}`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			before := e.snapshot()
			if code := e.send([]byte(body)); code != http.StatusBadRequest {
				t.Errorf("status %d, want 400", code)
			}
			e.unchanged(before)
		})
	}
}

func TestSecretUnavailable(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	e.app.WebhookSecret = func(context.Context) ([]byte, error) { return nil, errors.New("secrets manager unavailable") }
	if code := e.send(webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)); code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", code)
	}
	e.unchanged(before)
}

func TestMethodAndSize(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	body := webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)
	r := httptest.NewRequest(http.MethodGet, "/", strings.NewReader(string(body)))
	r.Header.Set(signature.PagerDutySignatureHeader, signature.SignPagerDuty(webhookSecret, body))
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d, want 405", w.Code)
	}
	big := append(body[:len(body)-1:len(body)-1], []byte(`,"pad":"`+strings.Repeat("a", pdwebhook.MaxBody)+`"}`)...)
	if code := e.send(big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over MaxBody: status %d, want 413", code)
	}
	e.unchanged(before)
}

// TestRedelivery: PagerDuty delivers at least once. The same webhook twice,
// or an acknowledgement of a group already acknowledged (in Slack, or the
// echo of stakeout's own acknowledge event), changes nothing the second
// time and is still a 204, so PagerDuty stops retrying.
func TestRedelivery(t *testing.T) {
	t.Run("the same acknowledgement twice", func(t *testing.T) {
		e := newEnv(t)
		body := webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)
		if code := e.send(body); code != http.StatusNoContent {
			t.Fatalf("first delivery: status %d", code)
		}
		before := e.snapshot()
		if code := e.send(body); code != http.StatusNoContent {
			t.Errorf("redelivery: status %d, want 204", code)
		}
		e.unchanged(before)
		if n := len(slices.DeleteFunc(actions(e.trail()), func(a string) bool { return a != audit.Acknowledged })); n != 1 {
			t.Errorf("%d acknowledged records, want 1", n)
		}
	})
	t.Run("acknowledged in Slack first", func(t *testing.T) {
		e := newEnv(t)
		m := &lifecycle.Manager{Config: e.cfg, Store: e.st, Now: e.clock}
		if res, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Acknowledge, Group: e.group.ID,
			By: lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}}); err != nil || !res.Done {
			t.Fatalf("acknowledge in Slack: %+v %v", res, err)
		}
		before := e.snapshot()
		if code := e.send(webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)); code != http.StatusNoContent {
			t.Errorf("status %d, want 204", code)
		}
		e.unchanged(before)
		if g := e.getGroup(); g.AckedBy != "slack:U012ABCDE" {
			t.Errorf("AckedBy %q, want the first acknowledgement (slack:U012ABCDE) kept", g.AckedBy)
		}
	})
	t.Run("the same resolution twice", func(t *testing.T) {
		e := newEnv(t)
		body := webhook(t, "incident_resolved_no_agent.json", e.dedupKey(), nil)
		if code := e.send(body); code != http.StatusNoContent {
			t.Fatalf("first delivery: status %d", code)
		}
		before := e.snapshot()
		if code := e.send(body); code != http.StatusNoContent {
			t.Errorf("redelivery: status %d, want 204", code)
		}
		e.unchanged(before)
	})
	t.Run("an acknowledgement after the resolution", func(t *testing.T) {
		e := newEnv(t)
		if code := e.send(webhook(t, "incident_resolved_no_agent.json", e.dedupKey(), nil)); code != http.StatusNoContent {
			t.Fatalf("resolution: status %d", code)
		}
		before := e.snapshot()
		if code := e.send(webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)); code != http.StatusNoContent {
			t.Errorf("late acknowledgement: status %d, want 204", code)
		}
		e.unchanged(before)
	})
}

// TestConcurrentRedelivery: PagerDuty may deliver the same webhook twice at
// once; one acknowledgement is recorded.
func TestConcurrentRedelivery(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	body := webhook(t, "incident_acknowledged.json", e.dedupKey(), nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if code := e.send(body); code != http.StatusNoContent {
				t.Errorf("status %d, want 204", code)
			}
		})
	}
	wg.Wait()
	if got := actions(e.newRecords(before)); !slices.Equal(got, []string{audit.Acknowledged, audit.Queued}) {
		t.Errorf("new audit records %v, want one acknowledgement", got)
	}
	if d := e.deliveries(); len(d) != 1 {
		t.Errorf("delivered %v, want one notification", d)
	}
}

// TestSnoozeSurvivesTheEcho: a snooze in Slack sends PagerDuty an
// acknowledge event (pdnotify: snoozed → acknowledge), and PagerDuty then
// sends incident.acknowledged for it. That echo must not turn the snooze
// into a permanent acknowledgement: when the snooze ends the escalation
// must start again.
func TestSnoozeSurvivesTheEcho(t *testing.T) {
	e := newEnv(t)
	until := t0.Add(4 * time.Hour)
	m := &lifecycle.Manager{Config: e.cfg, Store: e.st, Now: e.clock}
	if res, err := m.Apply(context.Background(), lifecycle.Change{Action: lifecycle.Snooze, Group: e.group.ID, Until: until,
		By: lifecycle.Actor{ID: "slack:U012ABCDE", Name: "ana"}}); err != nil || !res.Done {
		t.Fatalf("snooze in Slack: %+v %v", res, err)
	}
	// What PagerDuty sends after stakeout's own acknowledge event: the
	// agent is the Events API integration, not a person.
	body := webhook(t, "incident_acknowledged.json", e.dedupKey(), func(ev map[string]any) {
		ev["agent"] = map[string]any{"id": "PSTKS01", "type": "service_reference", "summary": "ML models (stakeout)",
			"self": "https://api.pagerduty.com/services/PSTKS01", "html_url": "https://stakeout-example.pagerduty.com/services/PSTKS01"}
	})
	before := e.snapshot()
	if code := e.send(body); code != http.StatusNoContent {
		t.Errorf("status %d, want 204", code)
	}
	g := e.getGroup()
	if !g.SnoozedUntil.Equal(until) || g.Due() != until {
		t.Errorf("after PagerDuty's echo: snoozed until %v, due %v, acked by %q; want the snooze until %v kept", g.SnoozedUntil, g.Due(), g.AckedBy, until)
	}
	e.unchanged(before)
}
