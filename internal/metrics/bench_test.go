package metrics_test

import (
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// BenchmarkRecordAndFlush is one busy invocation's metrics: 10 counts (4
// with per-model dimensions, so two dimension sets) and 5 durations, then
// the flush that encodes and writes them.
// Target: ≤ 20 µs per invocation — noise beside a Lambda invocation's
// milliseconds, and the lines themselves are the only I/O.
func BenchmarkRecordAndFlush(b *testing.B) {
	now := func() time.Time { return t0 }
	// Not io.Discard, for which a Recorder keeps nothing to encode.
	var out countingWriter
	rec := metrics.New(&out, namespace, now).With(map[string]string{"Function": "router"})
	b.ReportAllocs()
	for b.Loop() {
		rec.Count("EventsReceived", 1)
		rec.Count("EventsRouted", 1)
		rec.Count("EventsMuted", 0)
		rec.Count("EventsGrouped", 1)
		rec.Count("NotificationsSent", 2)
		rec.Count("NotificationsFailed", 0)
		rec.Count("AlertsOpened", 1, "Model", "credit-approval", "Owner", "credit-ds")
		rec.Count("AlertsResolved", 1, "Model", "credit-approval", "Owner", "credit-ds")
		rec.Count("AlertsOpened", 1, "Model", "credit-approval", "Owner", "credit-ds")
		rec.Count("Escalations", 1, "Model", "credit-approval", "Owner", "credit-ds")
		rec.Milliseconds("DecodeLatency", 120*time.Microsecond)
		rec.Milliseconds("EvaluateLatency", 850*time.Microsecond)
		rec.Milliseconds("StoreLatency", 12*time.Millisecond)
		rec.Milliseconds("NotifyLatency", 180*time.Millisecond)
		rec.Milliseconds("NotifyLatency", 95*time.Millisecond)
		if err := rec.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	if out == 0 {
		b.Fatal("nothing written")
	}
}

// countingWriter counts the bytes written to it and keeps none.
type countingWriter int

func (w *countingWriter) Write(p []byte) (int, error) {
	*w += countingWriter(len(p))
	return len(p), nil
}
