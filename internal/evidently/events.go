package evidently

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// Options are what a report does not say: which model, version and
// window it measured, and when.
type Options struct {
	Model, Version, Environment string
	ObservedAt                  time.Time
	WindowStart, WindowEnd      *time.Time
	// Labels are added to every event (the report's own labels win).
	Labels map[string]string
}

// Skipped is a metric that became no event, and why.
type Skipped struct {
	Metric string // its name, as in the report
	Why    string
}

// Converted is what a report became.
type Converted struct {
	Events  []signal.Event
	Skipped []Skipped
}

// kindMetric is the native kind and metric a class of Evidently metric
// becomes (ValueDrift's metric is its method's: see driftMethods).
type kindMetric struct{ kind, metric string }

// classes are the Evidently 0.7 metrics converted. A count metric's value
// is {count, share}: it becomes its share, with the count in
// labels.count; a mean metric's {mean, std} its mean, with labels.std.
var classes = map[string]kindMetric{
	"ValueDrift":             {"drift", ""},
	"DriftedColumnsCount":    {"drift", "drifted_share"},
	"MissingValueCount":      {"data_quality", "missing_share"},
	"DuplicatedRowCount":     {"data_quality", "duplicated_row_share"},
	"DuplicatedColumnsCount": {"data_quality", "duplicated_column_share"},
	"EmptyRowsCount":         {"data_quality", "empty_row_share"},
	"EmptyColumnsCount":      {"data_quality", "empty_column_share"},
	"RowCount":               {"data_quality", "row_count"},
	"ColumnCount":            {"data_quality", "column_count"},
	"Accuracy":               {"quality", "accuracy"},
	"Precision":              {"quality", "precision"},
	"Recall":                 {"quality", "recall"},
	"F1Score":                {"quality", "f1_score"},
	"RocAuc":                 {"quality", "roc_auc"},
	"LogLoss":                {"quality", "log_loss"},
	"MAE":                    {"quality", "mae"},
	"RMSE":                   {"quality", "rmse"},
	"MeanError":              {"quality", "mean_error"},
	"MAPE":                   {"quality", "mape"},
	"R2Score":                {"quality", "r2_score"},
}

// driftMethod is a drift method's metric name and how its score reads:
// a p-value drifts at or under the threshold, a distance at or over it
// (Evidently's legacy/calculations/stattests).
type driftMethod struct {
	metric string
	pValue bool
}

// driftMethods maps Evidently's drift methods, by the name a user passes
// (method="psi") and by the display name a resolved config carries
// ("PSI"), to short metric names. Another method becomes its name in
// snake case, its direction guessed from "p_value" in it. The names and
// display names are those of Evidently's stattests registry (StatTest
// name= / display_name=, e.g. "ks" / "K-S p_value", "wasserstein" /
// "Wasserstein distance (normed)", "jensenshannon" / "Jensen-Shannon
// distance"), checked against its source.
var driftMethods = map[string]driftMethod{}

func init() {
	for _, m := range []struct {
		names  []string
		metric string
		pValue bool
	}{
		{[]string{"ks", "K-S p_value"}, "ks_p_value", true},
		{[]string{"chisquare", "chi-square p_value"}, "chisquare_p_value", true},
		{[]string{"z", "Z-test p_value"}, "z_p_value", true},
		{[]string{"anderson", "Anderson-Darling test p_value"}, "anderson_p_value", true},
		{[]string{"cramer_von_mises", "Cramer-von-Mises test p_value"}, "cramer_von_mises_p_value", true},
		{[]string{"mannw", "Mann-Whitney U-rank test p_value"}, "mannw_p_value", true},
		{[]string{"es", "Epps-Singleton p_value"}, "es_p_value", true},
		{[]string{"t_test", "t_test p_value"}, "t_test_p_value", true},
		{[]string{"g_test", "g_test p_value"}, "g_test_p_value", true},
		{[]string{"fisher_exact", "Fisher's Exact test"}, "fisher_exact_p_value", true},
		{[]string{"TVD", "Total-Variation-Distance p_value"}, "tvd_p_value", true},
		{[]string{"psi", "PSI"}, "psi", false},
		{[]string{"wasserstein", "Wasserstein distance (normed)"}, "wasserstein", false},
		{[]string{"jensenshannon", "Jensen-Shannon distance"}, "jensenshannon", false},
		{[]string{"kl_div", "Kullback-Leibler divergence"}, "kl_div", false},
		{[]string{"hellinger", "Hellinger distance (normed)"}, "hellinger", false},
		{[]string{"ed", "Energy-distance"}, "energy_distance", false},
	} {
		for _, n := range m.names {
			driftMethods[n] = driftMethod{m.metric, m.pValue}
		}
	}
}

func methodOf(name string) driftMethod {
	if m, ok := driftMethods[name]; ok {
		return m
	}
	return driftMethod{snake(name), strings.Contains(strings.ToLower(name), "p_value")}
}

// snake is s in lower case with every run of other characters one "_".
func snake(s string) string {
	var b strings.Builder
	gap := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			gap = false
			continue
		}
		gap = true
	}
	return b.String()
}

// Events converts the report's metrics, in the report's order. An error
// is a converted metric whose value has the wrong shape (a report that
// is not what it says); metrics not converted are in Skipped.
func Events(r *Report, o Options) (Converted, error) {
	var out Converted
	for _, m := range r.Metrics {
		km, ok := classes[m.Class]
		if !ok {
			out.Skipped = append(out.Skipped, Skipped{m.Name, "no conversion for " + m.Class})
			continue
		}
		ev, skip, err := convert(m, km, o)
		if err != nil {
			return Converted{}, fmt.Errorf("metrics[%d] %s: %w", m.Index, m.Name, err)
		}
		if skip != "" {
			out.Skipped = append(out.Skipped, Skipped{m.Name, skip})
			continue
		}
		out.Events = append(out.Events, ev)
	}
	return out, nil
}

// convert makes one metric's event; skip says why there is none.
func convert(m Metric, km kindMetric, o Options) (ev signal.Event, skip string, err error) {
	ev = signal.Event{Model: o.Model, Kind: km.kind, Metric: km.metric, Version: o.Version, Environment: o.Environment,
		ObservedAt: o.ObservedAt, WindowStart: o.WindowStart, WindowEnd: o.WindowEnd, Feature: m.Params["column"]}
	ev.Labels = maps.Clone(o.Labels)
	if ev.Labels == nil {
		ev.Labels = map[string]string{}
	}
	ev.Labels["source"] = "evidently"
	ev.Labels["evidently_metric"] = m.Name
	if skip, err = value(&ev, m.Value); skip != "" || err != nil {
		return signal.Event{}, skip, err
	}
	switch m.Class {
	case "ValueDrift":
		valueDrift(&ev, m)
	case "DriftedColumnsCount":
		ev.Labels["drifted_columns"] = ev.Labels["count"]
		delete(ev.Labels, "count")
		if share, ok := number(m.Params["drift_share"]); ok {
			ev.Baseline = &share
			ev.Labels["drift_detected"] = strconv.FormatBool(ev.Value >= share)
		}
	}
	return ev, "", ev.Check()
}

// valueDrift names the event's metric for the method and, when the
// threshold is known, sets baseline to it and says whether the column
// drifted, as Evidently decides it.
func valueDrift(ev *signal.Event, m Metric) {
	method, ok := m.Params["method"]
	if !ok {
		// The older layout names only what the user set: the method
		// Evidently chose for the column is not in the report.
		ev.Metric = "drift_score"
		return
	}
	dm := methodOf(method)
	ev.Metric = dm.metric
	ev.Labels["method"] = method
	if t, ok := number(m.Params["threshold"]); ok {
		ev.Baseline = &t
		drifted := ev.Value >= t
		if dm.pValue {
			drifted = ev.Value <= t
		}
		ev.Labels["drift_detected"] = strconv.FormatBool(drifted)
	}
}

// value sets the event's value from a metric's: a number; {count, share}
// (the share, labels.count); {mean, std} (the mean, labels.std). Another
// shape — a map by label — is skipped.
func value(ev *signal.Event, raw json.RawMessage) (skip string, err error) {
	var f float64
	if json.Unmarshal(raw, &f) == nil {
		ev.Value = f
		return "", nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("value %s is neither a number nor an object", raw)
	}
	for _, pair := range [][2]string{{"share", "count"}, {"mean", "std"}} {
		main, ok := obj[pair[0]]
		if !ok {
			continue
		}
		if err := json.Unmarshal(main, &ev.Value); err != nil {
			return "", fmt.Errorf("value.%s %s is not a number", pair[0], main)
		}
		if other, ok := obj[pair[1]]; ok {
			var n float64
			if err := json.Unmarshal(other, &n); err != nil {
				return "", fmt.Errorf("value.%s %s is not a number", pair[1], other)
			}
			ev.Labels[pair[1]] = strconv.FormatFloat(n, 'g', -1, 64)
		}
		return "", nil
	}
	return "its value is an object without share or mean (a value per label?): not converted", nil
}

func number(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}
