package promexport_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/stakeout-ml/stakeout/internal/metrics"
	"github.com/stakeout-ml/stakeout/internal/promexport"
)

func clock() time.Time { return time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC) }

// newRecorder is serve's set-up: a Recorder for the exporter alone, under
// the router's dimensions.
func newRecorder(t *testing.T) (*metrics.Recorder, *httptest.Server) {
	t.Helper()
	exp := promexport.New(metrics.Namespace)
	srv := httptest.NewServer(exp.Handler())
	t.Cleanup(srv.Close)
	rec := metrics.New(io.Discard, metrics.Namespace, clock, metrics.WithObserver(exp))
	return rec.With(map[string]string{"Stack": "demo", "Function": "router"}), srv
}

// scrape fetches the text format and parses it with Prometheus's own
// parser, under the legacy name rules that every Prometheus accepts.
func scrape(t *testing.T, srv *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("scrape Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, body)
	}
	return families
}

// samples flattens families into one value per sample, keyed as the text
// format writes them (histogram buckets left out; see buckets).
func samples(families map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			ls := labels(m)
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name+ls] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+ls] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+ls] = m.GetHistogram().GetSampleSum()
			default:
				out[name+ls+" of type "+f.GetType().String()] = 0
			}
		}
	}
	return out
}

// routerKey is the sample key of name with the router's labels and ls.
func routerKey(name string, ls ...string) string {
	ls = append(ls, `function="router"`, `stack="demo"`)
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

func labels(m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	return "{" + strings.Join(ls, ",") + "}"
}

// buckets gives the cumulative count of each bucket bound (+Inf
// included) of the histogram series of key (see routerKey).
func buckets(t *testing.T, families map[string]*dto.MetricFamily, key string) map[float64]uint64 {
	t.Helper()
	name, _, _ := strings.Cut(key, "{")
	for _, m := range families[name].GetMetric() {
		if name+labels(m) == key {
			out := map[float64]uint64{}
			for _, b := range m.GetHistogram().GetBucket() {
				out[b.GetUpperBound()] = b.GetCumulativeCount()
			}
			return out
		}
	}
	t.Fatalf("no series %s", key)
	return nil
}

func TestScrapeCarriesEachCountAndDurationUnderTheDimensionsItWasRecordedWith(t *testing.T) {
	rec, srv := newRecorder(t)

	rec.Count(metrics.AlertsOpened, 1)
	rec.Count(metrics.AlertsOpened, 1, "Model", "credit-approval")
	rec.Count(metrics.AlertsOpened, 1, "Owner", "credit-ds")
	rec.Count(metrics.AlertsOpened, 2, "Owner", "credit-ds")
	rec.Count(metrics.AlertsOpened, 1, "Owner", "fraud-ds")
	rec.Count(metrics.EventsReceived, 0)
	rec.Milliseconds(metrics.NotificationLag, 1500*time.Millisecond)
	rec.Milliseconds(metrics.NotificationLag, 250*time.Millisecond)
	rec.Milliseconds(metrics.TimeToAcknowledge, 90*time.Minute, "Owner", "credit-ds")
	rec.Count(metrics.AlertsOpened, 1, "Owner") // odd arguments

	families := scrape(t, srv)
	want := map[string]float64{
		routerKey(`stakeout_alerts_opened_total`):                                      1,
		routerKey(`stakeout_alerts_opened_total`, `model="credit-approval"`):           1,
		routerKey(`stakeout_alerts_opened_total`, `owner="credit-ds"`):                 3,
		routerKey(`stakeout_alerts_opened_total`, `owner="fraud-ds"`):                  1,
		routerKey(`stakeout_alerts_opened_total`, `invalid_dimensions="OddArguments"`): 1,
		routerKey(`stakeout_events_received_total`):                                    0,
		routerKey(`stakeout_notification_lag_seconds_count`):                           2,
		routerKey(`stakeout_notification_lag_seconds_sum`):                             1.75,
		routerKey(`stakeout_time_to_acknowledge_seconds_count`, `owner="credit-ds"`):   1,
		routerKey(`stakeout_time_to_acknowledge_seconds_sum`, `owner="credit-ds"`):     5400,
	}
	if diff := cmp.Diff(want, samples(families)); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}

	lag := buckets(t, families, routerKey("stakeout_notification_lag_seconds"))
	for bound, n := range map[float64]uint64{0.1: 0, 0.25: 1, 1: 1, 2.5: 2, 14400: 2} {
		if lag[bound] != n {
			t.Errorf("notification lag bucket le=%g holds %d, want %d", bound, lag[bound], n)
		}
	}
	if got := len(lag); got != len(promexport.Buckets)+1 {
		t.Errorf("%d buckets, want %d and +Inf", got, len(promexport.Buckets))
	}
	tta := buckets(t, families, routerKey("stakeout_time_to_acknowledge_seconds", `owner="credit-ds"`))
	if tta[3600] != 0 || tta[7200] != 1 {
		t.Errorf("90 minutes to acknowledge in buckets le=3600: %d, le=7200: %d; want 0 and 1", tta[3600], tta[7200])
	}

	for name, want := range map[string]string{
		"stakeout_alerts_opened_total":         "stakeout's CloudWatch metric AlertsOpened (unit Count).",
		"stakeout_notification_lag_seconds":    "stakeout's CloudWatch metric NotificationLag (unit Milliseconds), in seconds.",
		"stakeout_time_to_acknowledge_seconds": "stakeout's CloudWatch metric TimeToAcknowledge (unit Milliseconds), in seconds.",
	} {
		if got := families[name].GetHelp(); got != want {
			t.Errorf("%s HELP %q, want %q", name, got, want)
		}
	}
}

func TestEveryStakeoutMetricHasAValidDistinctPrometheusName(t *testing.T) {
	rec, srv := newRecorder(t)
	seen := map[string]string{}
	for _, name := range metrics.Names {
		for _, unit := range []string{metrics.UnitCount, metrics.UnitMilliseconds} {
			prom := promexport.MetricName(metrics.Namespace, name, unit)
			if !model.LegacyValidation.IsValidMetricName(prom) || strings.Contains(prom, ":") {
				t.Errorf("%s (%s) is %q: not a valid Prometheus name", name, unit, prom)
			}
			if other, ok := seen[prom]; ok {
				t.Errorf("%s (%s) and %s are both %q", name, unit, other, prom)
			}
			seen[prom] = name + " (" + unit + ")"
		}
		rec.Count(name, 1, "Model", "credit-approval")
		rec.Milliseconds(name, time.Second, "Owner", "credit-ds")
	}

	families := scrape(t, srv)
	for _, name := range metrics.Names {
		counter := families[promexport.MetricName(metrics.Namespace, name, metrics.UnitCount)]
		histogram := families[promexport.MetricName(metrics.Namespace, name, metrics.UnitMilliseconds)]
		if counter.GetType() != dto.MetricType_COUNTER || histogram.GetType() != dto.MetricType_HISTOGRAM {
			t.Errorf("%s: scraped as %v and %v, want a counter and a histogram", name, counter.GetType(), histogram.GetType())
		}
	}
	for _, want := range []string{"stakeout_alerts_opened_total", "stakeout_notification_lag_seconds", "stakeout_time_to_acknowledge_seconds"} {
		if _, ok := seen[want]; !ok {
			t.Errorf("no metric named %s; names: %v", want, slices.Sorted(func(yield func(string) bool) {
				for k := range seen {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}
}

func TestNamesAreSnakeCasedToPrometheusRules(t *testing.T) {
	for _, c := range []struct{ in, metric, label string }{
		{"AlertsOpened", "stakeout_alerts_opened_total", "alerts_opened"},
		{"HTTPStatus", "stakeout_http_status_total", "http_status"},
		{"P99Latency", "stakeout_p99_latency_total", "p99_latency"},
		{"requests.per-second", "stakeout_requests_per_second_total", "requests_per_second"},
		{"__Internal__", "stakeout_internal_total", "internal"},
		{"9Lives", "stakeout_9_lives_total", "_9_lives"},
		{"EventsTotal", "stakeout_events_total", "events_total"},
		{"Ünïcode", "stakeout_n_code_total", "n_code"},
		{"!!!", "stakeout_unnamed_total", "unnamed"},
	} {
		if got := promexport.MetricName("Stakeout", c.in, metrics.UnitCount); got != c.metric {
			t.Errorf("MetricName(%q) = %q, want %q", c.in, got, c.metric)
		}
		if got := promexport.LabelName(c.in); got != c.label {
			t.Errorf("LabelName(%q) = %q, want %q", c.in, got, c.label)
		}
		if !model.LegacyValidation.IsValidLabelName(promexport.LabelName(c.in)) || strings.HasPrefix(promexport.LabelName(c.in), "__") {
			t.Errorf("LabelName(%q) = %q is not a label name Prometheus allows", c.in, promexport.LabelName(c.in))
		}
	}
	if got := promexport.MetricName("stakeout", "LatencySeconds", metrics.UnitMilliseconds); got != "stakeout_latency_seconds" {
		t.Errorf("a duration already in _seconds: %q", got)
	}
	if got := promexport.MetricName("stakeout", "AlertsOpened", "Bytes"); got != "" {
		t.Errorf("a unit Prometheus export does not know: %q, want \"\"", got)
	}
	if got := promexport.MetricName("", "AlertsOpened", metrics.UnitCount); got != "alerts_opened_total" {
		t.Errorf("no namespace: %q", got)
	}
}

func TestDimensionsThatCollideAsLabelsStayApart(t *testing.T) {
	rec, srv := newRecorder(t)
	rec.Count(metrics.AlertsOpened, 1, "Owner", "credit-ds", "owner", "fraud-ds")
	rec.Milliseconds(metrics.NotificationLag, time.Second, "Le", "x", "le", "y")

	got := samples(scrape(t, srv))
	for _, key := range []string{
		routerKey(`stakeout_alerts_opened_total`, `owner="credit-ds"`, `owner_="fraud-ds"`),
		routerKey(`stakeout_notification_lag_seconds_count`, `le_="x"`, `le__="y"`),
	} {
		if got[key] != 1 {
			t.Errorf("%s = %g, want 1; scraped %v", key, got[key], got)
		}
	}
}

func TestValuesPrometheusCannotTakeAreCountedAsDropped(t *testing.T) {
	exp := promexport.New("stakeout")
	srv := httptest.NewServer(exp.Handler())
	defer srv.Close()
	exp.Observe("Refunds", metrics.UnitCount, -1, nil)
	exp.Observe("Refunds", metrics.UnitCount, -2, nil)
	exp.Observe("QueueBytes", "Bytes", 512, []metrics.Dim{{Name: "Stack", Value: "demo"}})
	exp.Observe("Refunds", metrics.UnitCount, 4, nil)

	want := map[string]float64{
		`stakeout_promexport_dropped_total{metric="Refunds",reason="negative count"}`:                                  1 + 1,
		`stakeout_promexport_dropped_total{metric="QueueBytes",reason="unit Bytes is neither Count nor Milliseconds"}`: 1,
		`stakeout_refunds_total{}`: 4,
	}
	if diff := cmp.Diff(want, samples(scrape(t, srv))); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
}

func TestConcurrentRecordingAndScrapingLoseNothing(t *testing.T) {
	rec, srv := newRecorder(t)
	const workers, each = 8, 500
	owners := []string{"credit-ds", "fraud-ds", "churn-ds"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				owner := owners[(w+i)%len(owners)]
				rec.Count(metrics.AlertsOpened, 1)
				rec.Count(metrics.AlertsOpened, 1, "Owner", owner)
				rec.Milliseconds(metrics.NotificationLag, time.Duration(i)*time.Millisecond, "Owner", owner)
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			scrape(t, srv)
		}
	})
	wg.Wait()

	got := samples(scrape(t, srv))
	if n := got[routerKey(`stakeout_alerts_opened_total`)]; n != workers*each {
		t.Errorf("total %g, want %d", n, workers*each)
	}
	var byOwner, lags float64
	for _, o := range owners {
		byOwner += got[routerKey("stakeout_alerts_opened_total", `owner="`+o+`"`)]
		lags += got[routerKey("stakeout_notification_lag_seconds_count", `owner="`+o+`"`)]
	}
	if byOwner != workers*each || lags != workers*each {
		t.Errorf("by owner %g counts and %g durations, want %d of each", byOwner, lags, workers*each)
	}
}
