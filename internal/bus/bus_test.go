package bus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/bus"
	"github.com/stakeout-ml/stakeout/internal/bustest"
)

// fast keeps retry tests quick while still going through the backoff.
var fast = bus.Retry{Tries: 5, Initial: time.Millisecond, Max: 5 * time.Millisecond}

type alert struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Summary string `json:"summary,omitempty"`
}

func newPublisher(t *testing.T, s *bustest.Server, busName string) *bus.Publisher {
	t.Helper()
	p := bus.New(s.Client(t), busName)
	p.Retry = fast
	return p
}

func alerts(n int) []bus.Entry {
	out := make([]bus.Entry, n)
	for i := range out {
		out[i] = bus.Entry{DetailType: bus.AlertOpened, Detail: alert{ID: fmt.Sprintf("a%02d", i), Model: "credit"}}
	}
	return out
}

// ids is the alert ids of the events the server accepted, in order.
func ids(t *testing.T, s *bustest.Server) []string {
	t.Helper()
	var out []string
	for _, e := range s.Events() {
		var a alert
		if err := json.Unmarshal(e.Detail, &a); err != nil {
			t.Fatalf("event detail %s: %v", e.Detail, err)
		}
		out = append(out, a.ID)
	}
	return out
}

func idsOf(entries []bus.Entry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Detail.(alert).ID)
	}
	return out
}

func TestPublishBatchesByTenEntries(t *testing.T) {
	s := bustest.New(t, bustest.WithBuses("stakeout"))
	es := alerts(23)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	es[0].Resources = []string{"arn:aws:sagemaker:us-east-1:123456789012:endpoint/credit"}
	es[0].Time = at
	if err := newPublisher(t, s, "stakeout").Publish(context.Background(), es...); err != nil {
		t.Fatalf("Publish(23 entries) = %v", err)
	}
	if got := s.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3 (10 + 10 + 3)", got)
	}
	if diff := cmp.Diff(idsOf(es), ids(t, s)); diff != "" {
		t.Errorf("published alerts mismatch (-want +got):\n%s", diff)
	}
	got := s.Events()
	for _, e := range got {
		if e.Source != bus.Source || e.Bus != "stakeout" || e.DetailType != bus.AlertOpened {
			t.Fatalf("event = %s on %q from %q, want %s on \"stakeout\" from %q", e.DetailType, e.Bus, e.Source, bus.AlertOpened, bus.Source)
		}
	}
	if !got[0].Time.Equal(at) || !slices.Equal(got[0].Resources, es[0].Resources) {
		t.Errorf("first event Time %v Resources %v, want %v %v", got[0].Time, got[0].Resources, at, es[0].Resources)
	}
}

func TestPublishBatchesBySize(t *testing.T) {
	s := bustest.New(t)
	// Five 100 KB events: two fit in 256 KB, so three calls.
	es := alerts(5)
	for i := range es {
		a := es[i].Detail.(alert)
		a.Summary = strings.Repeat("x", 100*1024)
		es[i].Detail = a
	}
	if err := newPublisher(t, s, "").Publish(context.Background(), es...); err != nil {
		t.Fatalf("Publish(5 × 100 KB) = %v", err)
	}
	if got := s.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3", got)
	}
	if diff := cmp.Diff(idsOf(es), ids(t, s)); diff != "" {
		t.Errorf("published alerts mismatch (-want +got):\n%s", diff)
	}
}

func TestPublishRetriesOnlyFailedEntries(t *testing.T) {
	for _, code := range []string{"ThrottlingException", "InternalFailure"} {
		t.Run(code, func(t *testing.T) {
			s := bustest.New(t)
			s.Fail(2, code) // the first two entries of the first call
			es := alerts(5)
			if err := newPublisher(t, s, "").Publish(context.Background(), es...); err != nil {
				t.Fatalf("Publish = %v", err)
			}
			if got := s.Calls(); got != 2 {
				t.Errorf("Calls() = %d, want 2", got)
			}
			// Each alert exactly once: the three that succeeded were not
			// sent again, the two that failed follow them.
			want := []string{"a02", "a03", "a04", "a00", "a01"}
			if diff := cmp.Diff(want, ids(t, s)); diff != "" {
				t.Errorf("published alerts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishRetriesFailedCalls(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
	}{
		{"throttled", 400},
		{"internal error", 500},
		{"unavailable", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bustest.New(t)
			s.FailCalls(2, tc.status)
			es := alerts(13)
			if err := newPublisher(t, s, "").Publish(context.Background(), es...); err != nil {
				t.Fatalf("Publish = %v", err)
			}
			// Two failed calls (the second batch held back each time),
			// then the two batches.
			if got := s.Calls(); got != 4 {
				t.Errorf("Calls() = %d, want 4", got)
			}
			if diff := cmp.Diff(idsOf(es), ids(t, s)); diff != "" {
				t.Errorf("published alerts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishGivesUpAfterTries(t *testing.T) {
	s := bustest.New(t)
	s.FailCalls(100, 400)
	p := newPublisher(t, s, "")
	p.Retry.Tries = 3
	err := p.Publish(context.Background(), alerts(2)...)
	if err == nil {
		t.Fatal("Publish = nil, want an error")
	}
	if got := s.Calls(); got != 3 {
		t.Errorf("Calls() = %d, want 3", got)
	}
	if bus.Permanent(err) {
		t.Errorf("Permanent(%v) = true, want false for throttling", err)
	}
	for _, want := range []string{"2 of 2 events failed", "ThrottlingException", `"Alert Opened"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Publish error %q does not contain %q", err, want)
		}
	}
}

func TestPublishPermanentFailures(t *testing.T) {
	huge := bus.Entry{DetailType: bus.AlertEscalated, Detail: alert{ID: "big", Summary: strings.Repeat("x", 300*1024)}}
	for _, tc := range []struct {
		name      string
		bus       string
		setup     func(*bustest.Server)
		entries   []bus.Entry
		calls     int
		published []string
		msg       []string
		as        any
	}{
		{
			name:      "an entry over 256 KB fails alone and is never sent",
			entries:   []bus.Entry{alerts(1)[0], huge, alerts(2)[1]},
			calls:     1,
			published: []string{"a00", "a01"},
			msg:       []string{"1 of 3 events failed", `entry 1 "Alert Escalated"`, "307", "bytes, over EventBridge's limit of 262144 bytes"},
		},
		{
			name:    "an event bus that does not exist",
			bus:     "nope",
			entries: alerts(3),
			calls:   1,
			msg:     []string{`event bus "nope"`, "3 of 3 events failed", "ResourceNotFoundException: Event bus nope does not exist."},
			as:      new(*types.ResourceNotFoundException),
		},
		{
			name:    "access denied",
			setup:   func(s *bustest.Server) { s.FailCalls(1, 403) },
			entries: alerts(2),
			calls:   1,
			msg:     []string{"2 of 2 events failed", "AccessDeniedException"},
		},
		{
			name:      "an entry EventBridge refuses is not retried",
			setup:     func(s *bustest.Server) { s.Fail(1, "NotAuthorizedForSourceException") },
			entries:   alerts(3),
			calls:     1,
			published: []string{"a01", "a02"},
			msg:       []string{"1 of 3 events failed", `entry 0 "Alert Opened": NotAuthorizedForSourceException`},
		},
		{
			name:    "a detail that is not an object",
			entries: []bus.Entry{{DetailType: bus.RetrainRequested, Detail: []string{"credit"}}},
			msg:     []string{`detail of "Retrain Requested" is an array, not a JSON object`},
		},
		{
			name:    "a detail that does not marshal",
			entries: []bus.Entry{{DetailType: bus.RollbackRequested, Detail: map[string]any{"f": func() {}}}},
			msg:     []string{`marshal detail of "Rollback Requested"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []bustest.Option
			if tc.bus == "" {
				tc.bus = "stakeout"
				opts = append(opts, bustest.WithBuses("stakeout"))
			}
			s := bustest.New(t, opts...)
			if tc.setup != nil {
				tc.setup(s)
			}
			err := newPublisher(t, s, tc.bus).Publish(context.Background(), tc.entries...)
			if !bus.Permanent(err) {
				t.Fatalf("Permanent(%v) = false, want true", err)
			}
			for _, want := range tc.msg {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Publish error %q does not contain %q", err, want)
				}
			}
			if tc.as != nil && !errors.As(err, tc.as) {
				t.Errorf("errors.As(%v, %T) = false, want true", err, tc.as)
			}
			if got := s.Calls(); got != tc.calls {
				t.Errorf("Calls() = %d, want %d", got, tc.calls)
			}
			if diff := cmp.Diff(tc.published, ids(t, s)); diff != "" {
				t.Errorf("published alerts mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublishFailureListsEveryEntry(t *testing.T) {
	s := bustest.New(t)
	s.Fail(1, "MalformedDetail")
	es := append(alerts(2), bus.Entry{DetailType: bus.AlertResolved, Detail: "not an object"})
	err := newPublisher(t, s, "").Publish(context.Background(), es...)
	var e *bus.Error
	if !errors.As(err, &e) {
		t.Fatalf("Publish = %v, want a *bus.Error", err)
	}
	var got []string
	for _, f := range e.Failures {
		got = append(got, fmt.Sprintf("%d %s %s transient=%v", f.Index, f.DetailType, f.Code, f.Transient))
	}
	want := []string{"0 Alert Opened MalformedDetail transient=false", "2 Alert Resolved  transient=false"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Failures mismatch (-want +got):\n%s", diff)
	}
	if e.Total != 3 {
		t.Errorf("Total = %d, want 3", e.Total)
	}
}

func TestPublishRespectsTheDeadline(t *testing.T) {
	s := bustest.New(t)
	s.FailCalls(1000, 500)
	p := newPublisher(t, s, "")
	// The first wait (about a minute) would end past the 20 s deadline:
	// Publish returns the failure then, while its caller still has time
	// to record it, rather than sleeping into the deadline.
	p.Retry = bus.Retry{Tries: 50, Initial: time.Minute, Max: time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := p.Publish(ctx, alerts(3)...)
	if ctx.Err() != nil {
		t.Errorf("Publish returned at or after its deadline (%v), want before it", ctx.Err())
	}
	if err == nil || bus.Permanent(err) {
		t.Fatalf("Publish = %v (permanent %v), want a transient error", err, err != nil && bus.Permanent(err))
	}
	if n := s.Calls(); n != 1 {
		t.Errorf("Calls() = %d, want 1: no wait that ends past the deadline", n)
	}
	if !strings.Contains(err.Error(), "3 of 3 events failed") || !strings.Contains(err.Error(), "InternalException") {
		t.Errorf("Publish error %q, want it to say 3 of 3 failed with InternalException", err)
	}
}

func TestPublishWithEndedContext(t *testing.T) {
	s := bustest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := newPublisher(t, s, "").Publish(ctx, alerts(2)...)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Publish(canceled) = %v, want context.Canceled", err)
	}
	if bus.Permanent(err) {
		t.Errorf("Permanent(%v) = true, want false: the events can be published later", err)
	}
	if got := len(s.Events()); got != 0 {
		t.Errorf("Events() = %d, want none", got)
	}
}

func TestPublishDoesNotEscapeHTML(t *testing.T) {
	s := bustest.New(t)
	a := alert{ID: "a1", Model: "<credit & risk>", Summary: "p99 > 2s"}
	if err := newPublisher(t, s, "").Publish(context.Background(), bus.Entry{DetailType: bus.AlertOpened, Detail: a}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	got := string(s.Events()[0].Detail)
	want := `{"id":"a1","model":"<credit & risk>","summary":"p99 > 2s"}`
	if got != want {
		t.Errorf("published detail = %s, want %s", got, want)
	}
}

func TestPublishNothing(t *testing.T) {
	s := bustest.New(t)
	if err := newPublisher(t, s, "").Publish(context.Background()); err != nil {
		t.Errorf("Publish() = %v, want nil", err)
	}
	if got := s.Calls(); got != 0 {
		t.Errorf("Calls() = %d, want 0", got)
	}
}

// A publisher of others' events (stakeout publish) sends them under their
// source, which the router's rule may filter on.
func TestPublishUnderAnotherSource(t *testing.T) {
	s := bustest.New(t)
	p := newPublisher(t, s, "")
	p.Source = "com.example.monitoring"
	if err := p.Publish(context.Background(), bus.Entry{DetailType: "ML Model Signal", Detail: map[string]string{"model": "m"}}); err != nil {
		t.Fatal(err)
	}
	if got := s.Events(); len(got) != 1 || got[0].Source != "com.example.monitoring" {
		t.Errorf("events %+v, want one from com.example.monitoring", got)
	}
}
