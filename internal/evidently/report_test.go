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
