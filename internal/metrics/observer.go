package metrics

import "io"

// Dim is one dimension of a recorded metric.
type Dim struct{ Name, Value string }

// Units of the values a Recorder records: CloudWatch's (API_MetricDatum),
// as written in the EMF lines and given to an Observer.
const (
	UnitCount        = "Count"        // Count's; summed
	UnitMilliseconds = "Milliseconds" // Milliseconds'; every value kept
)

// Observer receives every value a Recorder records, as it is recorded, so
// that a process that does not run in Lambda — stakeout serve — can
// publish the same metrics another way (internal/promexport serves them to
// Prometheus). The Recorder stays the one place code records into.
//
// Observe is called immediately, not at Flush: a long-running process may
// never flush, and a scrape should see a value as soon as it exists. It
// is given exactly what the EMF lines carry: name and unit (UnitCount, n;
// or UnitMilliseconds, one duration), and the full dimension set sorted by
// name, the Recorder's own included, with InvalidDimensions in place of
// dimensions that could not be used. Metrics that Flush reports as dropped
// (invalid name, a value that is not finite) are not observed.
//
// Observe runs under the Recorder's lock, which keeps recording free of
// allocations and hands values over in the order they were recorded. So it
// must be quick, must not call the Recorder, and must not keep dims after
// it returns.
type Observer interface {
	Observe(name, unit string, value float64, dims []Dim)
}

// Option configures a Recorder made by New.
type Option func(*sink)

// WithObserver hands every value recorded to o as well (see Observer).
// With w io.Discard, the Recorder is one for o alone: it keeps no value
// for Flush, so that a process that never flushes does not grow.
func WithObserver(o Observer) Option {
	return func(s *sink) { s.observer = o }
}

// keeps reports whether recorded values are kept for Flush, which only
// writes them: not when they would be written to io.Discard.
func (s *sink) keeps() bool { return s.w != io.Discard }
