package notifytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PagerDuty/go-pagerduty"
)

func newPagerDutyClient(t *testing.T, opts ...PagerDutyOption) (*PagerDuty, *pagerduty.Client) {
	t.Helper()
	p := NewPagerDuty(t, opts...)
	return p, pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(p.URL()))
}

func assertNoViolations(t *testing.T, p *PagerDuty) {
	t.Helper()
	for _, v := range p.Violations() {
		t.Errorf("unexpected violation: %s", v)
	}
}

func trigger(p *PagerDuty, dedupKey string) *pagerduty.V2Event {
	return &pagerduty.V2Event{
		RoutingKey: p.RoutingKey(),
		Action:     "trigger",
		DedupKey:   dedupKey,
		Payload: &pagerduty.V2Payload{
			Summary:  "CPU above 90% on web-1",
			Source:   "web-1",
			Severity: "critical",
			Details:  map[string]any{"cpu": 93.5},
		},
		Links: []any{map[string]any{"href": "https://grafana.example/d/cpu", "text": "dashboard"}},
	}
}

func action(p *PagerDuty, act, dedupKey string) *pagerduty.V2Event {
	return &pagerduty.V2Event{RoutingKey: p.RoutingKey(), Action: act, DedupKey: dedupKey}
}

// statusCode digs the HTTP status out of what go-pagerduty returns: its
// Client answers Events API failures with the REST API's APIError.
func statusCode(err error) int {
	var apiErr pagerduty.APIError
	if errors.As(err, &apiErr) {
		return apiErr.StatusCode
	}
	return 0
}

func TestPagerDutyIncidentLifecycle(t *testing.T) {
	p, client := newPagerDutyClient(t)
	ctx := context.Background()
	steps := []struct {
		event      *pagerduty.V2Event
		wantStatus string
		wantNumber int
	}{
		{trigger(p, "alert-1"), StatusTriggered, 1},
		{trigger(p, "alert-1"), StatusTriggered, 1}, // a repeat trigger joins the open incident
		{action(p, "acknowledge", "alert-1"), StatusAcknowledged, 1},
		{action(p, "resolve", "alert-1"), StatusResolved, 1},
		{trigger(p, "alert-1"), StatusTriggered, 2}, // a trigger after resolve opens a new one
	}
	for i, st := range steps {
		resp, err := client.ManageEventWithContext(ctx, st.event)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if resp.Status != "success" || resp.Message != "Event processed" || resp.DedupKey != "alert-1" {
			t.Errorf("step %d: response %+v", i, resp)
		}
		inc, ok := p.Incident("alert-1")
		if !ok || inc.Status != st.wantStatus || inc.Number != st.wantNumber {
			t.Errorf("step %d: incident %+v, want %s #%d", i, inc, st.wantStatus, st.wantNumber)
		}
	}
	if got := p.Incidents("alert-1"); len(got) != 2 || len(got[0].Events) != 4 || len(got[1].Events) != 1 {
		t.Errorf("Incidents() = %+v, want two with 4 and 1 events", got)
	}
	events := p.Events()
	if len(events) != 5 || p.Calls() != 5 {
		t.Fatalf("%d events in %d calls, want 5", len(events), p.Calls())
	}
	first := events[0]
	if first.Payload == nil || first.Payload.Severity != "critical" || first.Payload.CustomDetails["cpu"] != 93.5 ||
		len(first.Links) != 1 || first.Links[0].Text != "dashboard" || len(first.Body) == 0 {
		t.Errorf("parsed event = %+v", first)
	}
	assertNoViolations(t, p)
}

// A trigger under the key of an acknowledged incident is appended to it:
// the incident stays acknowledged, nothing new is opened (nobody paged).
// Resolved, the key opens a new incident.
func TestPagerDutyTriggerOnAnAcknowledgedIncidentPagesNobody(t *testing.T) {
	p, client := newPagerDutyClient(t)
	ctx := context.Background()
	for _, ev := range []*pagerduty.V2Event{trigger(p, "k"), action(p, "acknowledge", "k"), trigger(p, "k")} {
		if _, err := client.ManageEventWithContext(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	incs := p.Incidents("k")
	if len(incs) != 1 || incs[0].Status != StatusAcknowledged || len(incs[0].Events) != 3 {
		t.Fatalf("incidents %+v, want one, acknowledged, with the second trigger appended", incs)
	}
	if open := p.Open(); len(open) != 1 || open[0].DedupKey != "k" {
		t.Errorf("Open() = %+v, want the acknowledged incident", open)
	}
	for _, ev := range []*pagerduty.V2Event{action(p, "resolve", "k"), trigger(p, "k")} {
		if _, err := client.ManageEventWithContext(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if inc, _ := p.Incident("k"); inc.Number != 2 || inc.Status != StatusTriggered {
		t.Errorf("after a resolve, a trigger made %+v; want incident 2, triggered", inc)
	}
	assertNoViolations(t, p)
}

func TestPagerDutyTriggerWithoutDedupKeyGetsOne(t *testing.T) {
	p, client := newPagerDutyClient(t)
	resp, err := client.ManageEventWithContext(context.Background(), trigger(p, ""))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.DedupKey) != 32 {
		t.Errorf("dedup_key = %q, want a generated key", resp.DedupKey)
	}
	inc, ok := p.Incident(resp.DedupKey)
	if !ok || inc.Status != StatusTriggered || !inc.Events[0].GeneratedKey {
		t.Errorf("incident %+v for the generated key", inc)
	}
}

func TestPagerDutyDropsAcknowledgeAndResolveWithoutOpenIncident(t *testing.T) {
	other := "otherkey" + strings.Repeat("0", 24)
	tests := []struct {
		name  string
		setup []*pagerduty.V2Event
		event *pagerduty.V2Event
	}{
		{"resolve of an unknown key", nil, &pagerduty.V2Event{RoutingKey: DefaultRoutingKey, Action: "resolve", DedupKey: "nope"}},
		{"acknowledge of a resolved key", []*pagerduty.V2Event{
			{RoutingKey: DefaultRoutingKey, Action: "trigger", DedupKey: "k", Payload: &pagerduty.V2Payload{Summary: "s", Source: "h", Severity: "info"}},
			{RoutingKey: DefaultRoutingKey, Action: "resolve", DedupKey: "k"},
		}, &pagerduty.V2Event{RoutingKey: DefaultRoutingKey, Action: "acknowledge", DedupKey: "k"}},
		{"resolve through another routing key", []*pagerduty.V2Event{
			{RoutingKey: DefaultRoutingKey, Action: "trigger", DedupKey: "k", Payload: &pagerduty.V2Payload{Summary: "s", Source: "h", Severity: "info"}},
		}, &pagerduty.V2Event{RoutingKey: other, Action: "resolve", DedupKey: "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := newPagerDutyClient(t, WithRoutingKeys(DefaultRoutingKey, other))
			for _, ev := range append(tt.setup, tt.event) {
				if _, err := client.ManageEventWithContext(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			events := p.Events()
			if last := events[len(events)-1]; !last.Dropped {
				t.Errorf("last event %+v was not dropped", last)
			}
			if inc, ok := p.Incident(tt.event.DedupKey); ok && inc.Status == StatusAcknowledged {
				t.Errorf("dropped event changed the incident: %+v", inc)
			}
			assertNoViolations(t, p)
		})
	}
}

func TestPagerDutyRejectsInvalidEvents(t *testing.T) {
	valid := func() map[string]any {
		return map[string]any{
			"routing_key":  DefaultRoutingKey,
			"event_action": "trigger",
			"dedup_key":    "k",
			"payload":      map[string]any{"summary": "s", "source": "h", "severity": "error"},
		}
	}
	payload := func(m map[string]any) map[string]any { return m["payload"].(map[string]any) }
	tests := []struct {
		name    string
		mutate  func(m map[string]any)
		wantErr string // a substring of one of the errors
	}{
		{"missing payload.source", func(m map[string]any) { delete(payload(m), "source") }, "missing property 'source'"},
		{"severity high", func(m map[string]any) { payload(m)["severity"] = "high" }, "/payload/severity"},
		{"unknown event_action", func(m map[string]any) { m["event_action"] = "escalate" }, "/event_action"},
		{"missing routing_key", func(m map[string]any) { delete(m, "routing_key") }, "missing property 'routing_key'"},
		{"custom_details that are not an object", func(m map[string]any) { payload(m)["custom_details"] = "cpu=93" }, "/payload/custom_details"},
		{"link without href", func(m map[string]any) { m["links"] = []any{map[string]any{"text": "x"}} }, "/links/0"},
		{"trigger without payload", func(m map[string]any) { delete(m, "payload") }, "'payload' is missing"},
		{"dedup_key over 255 characters", func(m map[string]any) { m["dedup_key"] = strings.Repeat("k", 256) }, "'dedup_key' is too long"},
		{"summary over 1024 characters", func(m map[string]any) { payload(m)["summary"] = strings.Repeat("s", 1025) }, "'payload.summary' is too long"},
		{"resolve without dedup_key", func(m map[string]any) { m["event_action"] = "resolve"; delete(m, "dedup_key"); delete(m, "payload") }, "'dedup_key' is missing"},
		{"routing key of the wrong length", func(m map[string]any) { m["routing_key"] = "short" }, "Length of 'routing_key' is incorrect"},
		{"unknown routing key", func(m map[string]any) { m["routing_key"] = strings.Repeat("a", 32) }, "Invalid routing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPagerDuty(t)
			m := valid()
			tt.mutate(m)
			body, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			status, resp := postRaw(t, p, body)
			if status != http.StatusBadRequest || resp.Status != "invalid event" || resp.Message != "Event object is invalid" {
				t.Fatalf("answer %d %+v, want 400 invalid event", status, resp)
			}
			if !containsSubstring(resp.Errors, tt.wantErr) {
				t.Errorf("errors %q lack %q", resp.Errors, tt.wantErr)
			}
			v := p.Violations()
			if len(v) != 1 || !bytes.Equal(v[0].Body, body) || !containsSubstring(v[0].Errors, tt.wantErr) {
				t.Errorf("Violations() = %v, want the request recorded", v)
			}
			if len(p.Events()) != 0 {
				t.Error("refused event was recorded as accepted")
			}
		})
	}
}

func TestPagerDutyInvalidEventThroughGoPagerDuty(t *testing.T) {
	p, client := newPagerDutyClient(t)
	ev := trigger(p, "k")
	ev.Payload.Severity = "high"
	ev.Payload.Source = ""
	_, err := client.ManageEventWithContext(context.Background(), ev)
	// go-pagerduty's Client decodes Events API failures as the REST API's
	// APIError, which expects {"error": {...}}: the status survives, the
	// Events API's errors list does not.
	var apiErr pagerduty.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusBadRequest || apiErr.APIError.Valid {
		t.Errorf("error = %#v, want pagerduty.APIError 400 without an error object", err)
	}
	v := p.Violations()
	if len(v) != 1 || !containsSubstring(v[0].Errors, "/payload/severity") {
		t.Errorf("Violations() = %v, want the severity recorded", v)
	}
}

func TestPagerDutyRejectsUnparsableAndOversizedBodies(t *testing.T) {
	tests := []struct {
		name       string
		body       []byte
		wantStatus string
	}{
		{"not JSON", []byte(`{"routing_key":`), "Unrecognized object"},
		{"over 512 KB", append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), 512*1024)...), "invalid event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPagerDuty(t)
			status, resp := postRaw(t, p, tt.body)
			if status != http.StatusBadRequest || resp.Status != tt.wantStatus {
				t.Errorf("answer %d %+v, want 400 %q", status, resp, tt.wantStatus)
			}
			if len(p.Violations()) != 1 {
				t.Errorf("Violations() = %v, want one", p.Violations())
			}
		})
	}
}

func TestPagerDutyRefusesRoutingKeysPagerDutyWouldRefuse(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		NewPagerDuty(ft, WithRoutingKeys("not-32-characters"))
	}()
	if !ft.failed {
		t.Error("NewPagerDuty accepted a malformed routing key")
	}
}

// fatalRecorder turns Fatalf into a recorded failure and a panic, so a test
// can check that a constructor fails its test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.failed = true
	panic("fatal")
}

func TestPagerDutyFaults(t *testing.T) {
	tests := []struct {
		name        string
		fault       Fault
		wantStatus  int
		wantStored  bool
		wantRetryIn string
	}{
		{name: "429 without Retry-After, as documented", fault: Fault{Status: http.StatusTooManyRequests}, wantStatus: 429},
		{name: "429 with an optional Retry-After", fault: Fault{Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second}, wantStatus: 429, wantRetryIn: "30"},
		{name: "500", fault: Fault{Status: http.StatusInternalServerError}, wantStatus: 500},
		{name: "503", fault: Fault{Status: http.StatusServiceUnavailable}, wantStatus: 503},
		{name: "lost response after the event was accepted", fault: Fault{LoseResponse: true}, wantStored: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := newPagerDutyClient(t)
			p.Fail(tt.fault)
			_, err := client.ManageEventWithContext(context.Background(), trigger(p, "k"))
			if err == nil {
				t.Fatal("call succeeded despite the fault")
			}
			if got := statusCode(err); got != tt.wantStatus {
				t.Errorf("status = %d (%v), want %d", got, err, tt.wantStatus)
			}
			var apiErr pagerduty.APIError
			if errors.As(err, &apiErr) && tt.wantStatus >= 429 && !apiErr.Temporary() {
				t.Errorf("%v is not Temporary()", err)
			}
			if _, ok := p.Incident("k"); ok != tt.wantStored {
				t.Errorf("incident stored = %v, want %v", ok, tt.wantStored)
			}
			if p.Calls() != 1 {
				t.Errorf("Calls() = %d, want 1 (go-pagerduty does not retry)", p.Calls())
			}
			if _, err := client.ManageEventWithContext(context.Background(), trigger(p, "k")); err != nil {
				t.Errorf("call after the fault: %v", err)
			}
			assertNoViolations(t, p)
		})
	}

	t.Run("429 Retry-After header", func(t *testing.T) {
		p := NewPagerDuty(t)
		p.Fail(Fault{Status: http.StatusTooManyRequests, RetryAfter: 1500 * time.Millisecond}, Fault{Status: http.StatusTooManyRequests})
		for _, want := range []string{"2", ""} {
			resp, err := http.Post(p.URL()+"/v2/enqueue", "application/json", strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Retry-After"); resp.StatusCode != 429 || got != want {
				t.Errorf("status %d Retry-After %q, want 429 %q", resp.StatusCode, got, want)
			}
		}
	})
}

func TestPagerDutyDelayHonoursClientTimeout(t *testing.T) {
	p, client := newPagerDutyClient(t)
	p.Fail(Fault{Delay: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.ManageEventWithContext(ctx, trigger(p, "k"))
	// go-pagerduty wraps transport errors with %v, so errors.Is cannot see
	// the deadline; the message still says so.
	if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Errorf("error = %v, want a deadline error", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the client waited for the whole delay")
	}
	if len(p.Events()) != 0 {
		t.Error("an abandoned call was applied")
	}
}

func TestPagerDutyConcurrentEvents(t *testing.T) {
	p, client := newPagerDutyClient(t)
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := client.ManageEventWithContext(context.Background(), trigger(p, "shared")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := p.Incidents("shared"); len(got) != 1 || len(got[0].Events) != n {
		t.Errorf("Incidents() = %d incidents, want one with %d events", len(got), n)
	}
}

func TestPagerDutyMissingSchemaFailsTheTest(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { _ = recover() }()
		NewPagerDuty(ft, WithSchemaPath(t.TempDir()+"/missing.json"))
	}()
	if !ft.failed {
		t.Error("NewPagerDuty started without its schema")
	}
}

type pdResponse struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

func postRaw(t *testing.T, p *PagerDuty, body []byte) (int, pdResponse) {
	t.Helper()
	resp, err := http.Post(p.URL()+"/v2/enqueue", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out pdResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decode answer: %v", err)
	}
	return resp.StatusCode, out
}

func containsSubstring(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
