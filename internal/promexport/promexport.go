// Package promexport serves the metrics stakeout records through
// internal/metrics in the Prometheus text format, for `stakeout serve`,
// which runs outside Lambda and so has no CloudWatch to read its EMF
// lines. An Exporter is a metrics.Observer: a Recorder made with
// metrics.WithObserver(exporter) hands it every value as it is recorded,
// and Handler serves them on GET /metrics. Code keeps recording into the
// Recorder only; this package is the one place that knows Prometheus.
//
//	exp := promexport.New(metrics.Namespace)
//	rec := metrics.New(io.Discard, metrics.Namespace, time.Now, metrics.WithObserver(exp))
//	mux.Handle("GET /metrics", exp.Handler())
//
// # Names
//
// A metric's name is the namespace and the CloudWatch name in snake_case,
// joined by "_" (see MetricName): a count (metrics.UnitCount) becomes a
// counter ending in "_total" — AlertsOpened is stakeout_alerts_opened_total
// — and a duration (metrics.UnitMilliseconds) a histogram in seconds
// ending in "_seconds" — NotificationLag is
// stakeout_notification_lag_seconds, with the buckets of Buckets.
// Dimensions become labels in snake_case (see LabelName): Stack is stack,
// Function is function.
//
// # Dimension sets
//
// In CloudWatch each dimension set of a metric is a metric of its own: the
// router records AlertsOpened once without extra dimensions, once with
// Model, once with Owner, and none of them contains the others. The
// Exporter keeps that: each (metric, set of label names) is its own
// vector, and a scrape shows every series with exactly the labels it was
// recorded with, never an empty label standing for a missing dimension. In
// PromQL a missing label matches "", so the total is
// stakeout_alerts_opened_total{model="",owner=""} and the count by owner
// is sum by (owner) (stakeout_alerts_opened_total{owner!=""}); summing
// the family without such a filter counts each alert once per set it was
// recorded under.
package promexport

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// Buckets are the upper bounds, in seconds, of every duration histogram.
// They span what stakeout times: a stage of the pipeline (milliseconds),
// a notification's lag behind its signal (seconds to minutes), and the
// time an owner takes to acknowledge (minutes to hours).
var Buckets = []float64{
	.001, .0025, .005, .01, .025, .05, .1, .25, .5,
	1, 2.5, 5, 10, 30, 60, 120, 300, 600,
	1800, 3600, 7200, 14400,
}

// Exporter turns recorded metrics into Prometheus metrics in a registry of
// its own (not the global one) and serves them. It is safe for concurrent
// use.
type Exporter struct {
	namespace string
	registry  *prometheus.Registry
	dropped   *prometheus.CounterVec

	mu         sync.RWMutex
	series     map[string]series // by seriesKey
	vecs       map[string]vec    // by metric name and sorted label names
	help       map[string]string // by metric name: the first one's
	collectors []prometheus.Collector
}

// series is one child of a vector: a counter or a histogram.
type series struct {
	counter   prometheus.Counter
	histogram prometheus.Observer
}

type vec struct {
	counters   *prometheus.CounterVec
	histograms *prometheus.HistogramVec
}

var _ metrics.Observer = (*Exporter)(nil)

// New returns an Exporter whose metric names start with namespace (in
// snake_case; in stakeout, metrics.Namespace).
//
// Besides the recorded metrics it exports <namespace>_promexport_dropped_total,
// labelled with the CloudWatch metric name and the reason, counting what
// Prometheus cannot take: a negative count (a Prometheus counter cannot
// go down; CloudWatch sums it) or a unit other than metrics.UnitCount and
// metrics.UnitMilliseconds.
func New(namespace string) *Exporter {
	e := &Exporter{
		namespace: namespace,
		registry:  prometheus.NewRegistry(),
		series:    map[string]series{},
		vecs:      map[string]vec{},
		help:      map[string]string{},
	}
	e.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: prefixed(namespace, "promexport_dropped_total"),
		Help: "Recorded values the Prometheus export could not take, by CloudWatch metric name and reason.",
	}, []string{"metric", "reason"})
	e.registry.MustRegister(e.dropped, collector{e})
	return e
}

// Handler serves the Exporter's metrics in the Prometheus exposition
// formats (text by default), for GET /metrics. A scrape that fails to
// gather answers 500 with the reason rather than a partial page.
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
}

// Observe adds one recorded value (see metrics.Observer): a count to its
// counter, milliseconds to its histogram in seconds. dims must have
// distinct names; a Recorder's always do.
func (e *Exporter) Observe(name, unit string, value float64, dims []metrics.Dim) {
	switch {
	case unit != metrics.UnitCount && unit != metrics.UnitMilliseconds:
		e.dropped.WithLabelValues(name, "unit "+unit+" is neither Count nor Milliseconds").Inc()
		return
	case unit == metrics.UnitCount && value < 0:
		e.dropped.WithLabelValues(name, "negative count").Inc()
		return
	}
	var buf [256]byte
	key := seriesKey(buf[:0], name, unit, dims)
	e.mu.RLock()
	s, ok := e.series[string(key)] // no allocation for the lookup
	e.mu.RUnlock()
	if !ok {
		s = e.add(string(key), name, unit, dims)
	}
	if s.counter != nil {
		s.counter.Add(value)
		return
	}
	s.histogram.Observe(value / 1000)
}

// seriesKey identifies a series by what Observe is given, each string
// length-prefixed so that no two series share a key.
func seriesKey(b []byte, name, unit string, dims []metrics.Dim) []byte {
	b = appendString(b, unit)
	b = appendString(b, name)
	for _, d := range dims {
		b = appendString(b, d.Name)
		b = appendString(b, d.Value)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// add makes the series of key, and its vector if it is the first series
// of its metric name and label names.
func (e *Exporter) add(key, name, unit string, dims []metrics.Dim) series {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s, ok := e.series[key]; ok {
		return s
	}
	fq := MetricName(e.namespace, name, unit)
	labels, values := labelPairs(dims)
	vkey := fq + "\x00" + strings.Join(labels, "\x00")
	v, ok := e.vecs[vkey]
	if !ok {
		v = e.newVec(fq, name, unit, labels)
		e.vecs[vkey] = v
	}
	var s series
	if v.counters != nil {
		s.counter = v.counters.WithLabelValues(values...)
	} else {
		s.histogram = v.histograms.WithLabelValues(values...)
	}
	e.series[key] = s
	return s
}

func (e *Exporter) newVec(fq, name, unit string, labels []string) vec {
	// A family has one help text: the first CloudWatch name's, should
	// two names come to the same Prometheus name.
	help, ok := e.help[fq]
	if !ok {
		help = fmt.Sprintf("stakeout's CloudWatch metric %s (unit Count).", name)
		if unit == metrics.UnitMilliseconds {
			help = fmt.Sprintf("stakeout's CloudWatch metric %s (unit Milliseconds), in seconds.", name)
		}
		e.help[fq] = help
	}
	var v vec
	if unit == metrics.UnitCount {
		v.counters = prometheus.NewCounterVec(prometheus.CounterOpts{Name: fq, Help: help}, labels)
		e.collectors = append(e.collectors, v.counters)
	} else {
		v.histograms = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: fq, Help: help, Buckets: Buckets}, labels)
		e.collectors = append(e.collectors, v.histograms)
	}
	return v
}

// labelPairs gives the label names of dims, sorted, and their values in
// the same order. Names that come out equal (Owner and owner) or reserved
// (le, a histogram's bucket bound) take "_" until they are free.
func labelPairs(dims []metrics.Dim) (names, values []string) {
	type pair struct{ name, value string }
	pairs := make([]pair, 0, len(dims))
	taken := map[string]bool{"le": true}
	for _, d := range dims {
		n := LabelName(d.Name)
		for taken[n] {
			n += "_"
		}
		taken[n] = true
		pairs = append(pairs, pair{n, d.Value})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.name, b.name) })
	for _, p := range pairs {
		names = append(names, p.name)
		values = append(values, p.value)
	}
	return names, values
}

// collector gathers every vector. It describes none, which makes it an
// unchecked collector: the registry cannot know the vectors in advance,
// and vectors of one name with different label names — one per dimension
// set — are allowed only unchecked.
type collector struct{ e *Exporter }

func (collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.e.mu.RLock()
	cs := c.e.collectors // append-only: the prefix read here never changes
	c.e.mu.RUnlock()
	for _, v := range cs {
		v.Collect(ch)
	}
}
