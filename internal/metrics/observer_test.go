package metrics_test

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// observed keeps what an Observer is given, one line per value. A
// Recorder calls it under its lock, so it needs none of its own.
type observed struct{ got []string }

func (o *observed) Observe(name, unit string, value float64, dims []metrics.Dim) {
	o.got = append(o.got, fmt.Sprintf("%s %s %g %v", name, unit, value, dims))
}

func TestObserverIsGivenEachValueWhenRecordedWithItsFullDimensionSet(t *testing.T) {
	var out bytes.Buffer
	o := &observed{}
	rec := metrics.New(&out, namespace, clock, metrics.WithObserver(o)).With(map[string]string{"Function": "router"})

	rec.Count("AlertsOpened", 1)
	rec.Count("AlertsOpened", 2, "Owner", "credit-ds", "Model", "credit-approval")
	rec.Milliseconds("NotificationLag", 1500*time.Microsecond, "Owner", "credit-ds")
	rec.Count("AlertsOpened", 1, "Owner")                              // odd arguments
	rec.Count("bad\nname", 1)                                          // dropped: not observed
	rec.Milliseconds("NotificationLag", 3*time.Second, "Function", "") // bad value

	want := []string{
		"AlertsOpened Count 1 [{Function router}]",
		"AlertsOpened Count 2 [{Function router} {Model credit-approval} {Owner credit-ds}]",
		"NotificationLag Milliseconds 1.5 [{Function router} {Owner credit-ds}]",
		"AlertsOpened Count 1 [{Function router} {InvalidDimensions OddArguments}]",
		"NotificationLag Milliseconds 3000 [{Function router} {InvalidDimensions BadValue}]",
	}
	if diff := cmp.Diff(want, o.got); diff != "" {
		t.Fatalf("observed before Flush (-want +got):\n%s", diff)
	}
	err := rec.Flush()
	if err == nil || !strings.Contains(err.Error(), `drop metric "bad\nname"`) {
		t.Errorf("Flush error %v, want the dropped metric reported", err)
	}
	if n := strings.Count(out.String(), "\n"); n != 5 {
		t.Errorf("Flush wrote %d EMF lines, want 5 (one per dimension set) as without an observer:\n%s", n, out.String())
	}
	if len(o.got) != len(want) {
		t.Errorf("Flush gave the observer %d more values", len(o.got)-len(want))
	}
}

func TestRecorderToDiscardStillFeedsItsObserverAndReportsDrops(t *testing.T) {
	o := &observed{}
	rec := metrics.New(io.Discard, namespace, clock, metrics.WithObserver(o))
	rec.Count("EventsReceived", 3, "Stack", "demo")
	rec.Milliseconds("TimeToAcknowledge", 2*time.Minute)
	rec.Count("EventsReceived", math.Inf(1))

	want := []string{
		"EventsReceived Count 3 [{Stack demo}]",
		"TimeToAcknowledge Milliseconds 120000 []",
	}
	if diff := cmp.Diff(want, o.got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
	err := rec.Flush()
	if err == nil || !strings.Contains(err.Error(), `drop metric "EventsReceived": value is not a finite number`) {
		t.Errorf("Flush error %v, want the infinite count reported", err)
	}
}

func TestNilWriterGivesNoRecorderEvenWithAnObserver(t *testing.T) {
	o := &observed{}
	rec := metrics.New(nil, namespace, clock, metrics.WithObserver(o))
	rec.Count("EventsReceived", 1)
	if rec != nil || len(o.got) != 0 {
		t.Errorf("New(nil, …) = %v, observed %v; want a nil Recorder that records nothing", rec, o.got)
	}
}
