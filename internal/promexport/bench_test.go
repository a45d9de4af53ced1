package promexport_test

import (
	"io"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/promexport"
)

var (
	countDims = []metrics.Dim{{Name: "Function", Value: "router"}, {Name: "Owner", Value: "credit-ds"}, {Name: "Stack", Value: "demo"}}
	durDims   = []metrics.Dim{{Name: "Function", Value: "router"}, {Name: "Stack", Value: "demo"}}
)

// BenchmarkObserve is one observation of a series that exists, the
// steady state of a running serve: a count under three dimensions, or a
// duration under two.
// Target: ≤ 2 µs per observation — beside the milliseconds an alert
// takes through the pipeline, and dozens of observations per alert.
func BenchmarkObserve(b *testing.B) {
	exp := promexport.New(metrics.Namespace)
	b.Run("count", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			exp.Observe(metrics.AlertsOpened, metrics.UnitCount, 1, countDims)
		}
	})
	b.Run("duration", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			exp.Observe(metrics.NotificationLag, metrics.UnitMilliseconds, 180, durDims)
		}
	})
	// Target: ≤ 2 µs per observation with every core observing.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				exp.Observe(metrics.AlertsOpened, metrics.UnitCount, 1, countDims)
			}
		})
	})
}

// BenchmarkRecordForExporter is what code pays to record in serve: a
// Recorder writing to io.Discard, with the Exporter as its observer,
// recording a count with an extra dimension.
// Target: ≤ 2 µs per recorded value.
func BenchmarkRecordForExporter(b *testing.B) {
	exp := promexport.New(metrics.Namespace)
	rec := metrics.New(io.Discard, metrics.Namespace, nil, metrics.WithObserver(exp)).
		With(map[string]string{"Stack": "demo", "Function": "router"})
	b.ReportAllocs()
	for b.Loop() {
		rec.Count(metrics.AlertsOpened, 1, "Owner", "credit-ds")
		rec.Milliseconds(metrics.NotificationLag, 180*time.Millisecond)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/value")
}
