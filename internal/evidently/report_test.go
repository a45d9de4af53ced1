package evidently

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Both layouts give the same class and column; only v0.7.16+ names the
// method and threshold Evidently resolved.
func TestParseReadsBothLayouts(t *testing.T) {
	newer := `{"metrics":[{"id":"1","metric_name":"ValueDrift(column=age,method=Wasserstein distance (normed),threshold=0.1)",
		"config":{"type":"evidently:metric_v2:ValueDrift","column":"age","method":"Wasserstein distance (normed)","threshold":0.1},"value":0.2}],"tests":[]}`
	older := `{"metrics":[{"id":"1","metric_id":"ValueDrift(column=age,method=Wasserstein distance (normed),threshold=0.1)","value":0.2}],"tests":[]}`
	for name, data := range map[string]string{LayoutName: newer, LayoutID: older} {
		r, err := Parse([]byte(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m := r.Metrics[0]
		want := map[string]string{"column": "age", "method": "Wasserstein distance (normed)", "threshold": "0.1"}
		if m.Class != "ValueDrift" || m.Layout != name || !cmp.Equal(m.Params, want) {
			t.Errorf("%s: %s %s %v, want ValueDrift %s %v", name, m.Class, m.Layout, m.Params, name, want)
		}
	}
}

// A p-value drifts at or under its threshold, a distance at or over it.
func TestValueDriftSaysWhetherTheColumnDrifted(t *testing.T) {
	for _, tc := range []struct {
		method string
		value  float64
		metric string
		want   string
	}{
		{"K-S p_value", 0.01, "ks_p_value", "true"},
		{"K-S p_value", 0.5, "ks_p_value", "false"},
		{"psi", 0.3, "psi", "true"},
		{"PSI", 0.05, "psi", "false"},
		{"my custom p_value", 0.01, "my_custom_p_value", "true"},
	} {
		m := Metric{Name: "ValueDrift", Class: "ValueDrift", Value: []byte(ftoa(tc.value)),
			Params: map[string]string{"column": "x", "method": tc.method, "threshold": "0.1"}}
		if tc.metric == "ks_p_value" || tc.metric == "my_custom_p_value" {
			m.Params["threshold"] = "0.05"
		}
		got, err := Events(&Report{Metrics: []Metric{m}}, Options{Model: "m", ObservedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil || len(got.Events) != 1 {
			t.Fatalf("%s %v: %+v, %v", tc.method, tc.value, got, err)
		}
		ev := got.Events[0]
		if ev.Metric != tc.metric || ev.Labels["drift_detected"] != tc.want || ev.Feature != "x" {
			t.Errorf("%s %v: metric %s drift_detected %s feature %s; want %s %s x", tc.method, tc.value, ev.Metric, ev.Labels["drift_detected"], ev.Feature, tc.metric, tc.want)
		}
	}
}

// Each of Evidently's drift methods, by its name and by the display name a
// resolved config carries, drifts as its stattest decides: a p-value under
// the threshold (K-S and Cramer-von Mises: at or under), a distance at or
// over it (energy distance: over it). At the threshold itself the methods
// part ways, so each is checked there and on either side. Source:
// src/evidently/legacy/calculations/stattests/*.py of evidentlyai/evidently
// (v0.7.0 to v0.7.21 alike).
func TestEachDriftMethodDriftsAsEvidentlyDecides(t *testing.T) {
	const lt, le, ge, gt = "<", "<=", ">=", ">"
	for _, tc := range []struct {
		names  []string
		metric string
		op     string
	}{
		{[]string{"ks", "K-S p_value"}, "ks_p_value", le},
		{[]string{"chisquare", "chi-square p_value"}, "chisquare_p_value", lt},
		{[]string{"z", "Z-test p_value"}, "z_p_value", lt},
		{[]string{"anderson", "Anderson-Darling"}, "anderson_p_value", lt},
		{[]string{"cramer_von_mises", "Cramer-von Mises"}, "cramer_von_mises_p_value", le},
		{[]string{"mannw", "Mann-Whitney U-rank test"}, "mannw_p_value", lt},
		{[]string{"es", "Epps-Singleton"}, "es_p_value", lt},
		{[]string{"t_test"}, "t_test_p_value", lt},
		{[]string{"g_test"}, "g_test_p_value", lt},
		{[]string{"fisher_exact", "Fisher's Exact test"}, "fisher_exact_p_value", lt},
		{[]string{"TVD", "Total-Variation-Distance"}, "tvd_p_value", lt},
		{[]string{"empirical_mmd"}, "empirical_mmd_p_value", lt},
		{[]string{"psi", "PSI"}, "psi", ge},
		{[]string{"wasserstein", "Wasserstein distance (normed)"}, "wasserstein", ge},
		{[]string{"jensenshannon", "Jensen-Shannon distance"}, "jensenshannon", ge},
		{[]string{"kl_div", "Kullback-Leibler divergence"}, "kl_div", ge},
		{[]string{"hellinger", "Hellinger distance"}, "hellinger", ge},
		{[]string{"ed", "Energy-distance"}, "energy_distance", gt},
		{[]string{"abs_text_content_drift", "Absolute text content drift"}, "abs_text_content_drift", gt},
	} {
		for _, name := range tc.names {
			for _, v := range []float64{0.05, 0.1, 0.2} {
				m := Metric{Name: "ValueDrift", Class: "ValueDrift", Value: []byte(ftoa(v)),
					Params: map[string]string{"column": "x", "method": name, "threshold": "0.1"}}
				got, err := Events(&Report{Metrics: []Metric{m}}, Options{Model: "m", ObservedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
				if err != nil || len(got.Events) != 1 {
					t.Fatalf("%s %v: %+v, %v", name, v, got, err)
				}
				want := map[string]bool{lt: v < 0.1, le: v <= 0.1, ge: v >= 0.1, gt: v > 0.1}[tc.op]
				ev := got.Events[0]
				if ev.Metric != tc.metric || ev.Labels["drift_detected"] != strconv.FormatBool(want) {
					t.Errorf("method %q, score %v, threshold 0.1: metric %s drift_detected %q; want %s %v (drift when score %s threshold)",
						name, v, ev.Metric, ev.Labels["drift_detected"], tc.metric, want, tc.op)
				}
			}
		}
	}
}

// The percentile text drift's threshold is a percentile of a random
// classifier's ROC AUC, not a bound on the score: the report does not say
// whether the column drifted, and nothing claims it did.
func TestPercentileTextDriftClaimsNoVerdict(t *testing.T) {
	m := Metric{Name: "ValueDrift", Class: "ValueDrift", Value: []byte("0.99"),
		Params: map[string]string{"column": "x", "method": "Percentile text content drift", "threshold": "0.95"}}
	got, err := Events(&Report{Metrics: []Metric{m}}, Options{Model: "m", ObservedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(got.Events) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	if ev := got.Events[0]; ev.Metric != "perc_text_content_drift" || ev.Baseline != nil || ev.Labels["drift_detected"] != "" {
		t.Errorf("metric %s baseline %v drift_detected %q; want perc_text_content_drift, no baseline, no verdict", ev.Metric, ev.Baseline, ev.Labels["drift_detected"])
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// A JSON that is not a 0.7 report says what it is instead.
func TestParseRefusesWhatIsNotA07Report(t *testing.T) {
	for in, want := range map[string]string{
		`{"metric_results":[]}`:                    "full snapshot",
		`{"model":"m"}`:                            `it has no "metrics"`,
		`{"metrics":[{"id":"1","value":1}]}`:       `neither "metric_name"`,
		`{"metrics":[{"metric":"X","result":{}}]}`: "legacy report of Evidently 0.4–0.6",
		`{"metrics":[{"metric_id":"RowCount()"}]}`: `no "value"`,
		"{\"metrics\":\n[":                         "malformed JSON at line 2",
		`{"metrics":[{"metric_name":"X()","config":{"type":"other:X"},"value":1}]}`: "not an Evidently 0.7 metric",
	} {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%s) = %v, want an error containing %q", in, err, want)
		}
	}
}
