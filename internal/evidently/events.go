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

// driftMethod is a drift method's metric name and how Evidently decides,
// from its score and threshold, that a column drifted (nil: the threshold
// is no bound on the score, so the report cannot say).
type driftMethod struct {
	metric  string
	drifted func(score, threshold float64) bool
}

// How each stattest compares its score with its threshold: a p-value
// drifts under it (K-S and Cramer-von Mises: at or under), a distance at or
// over it (energy distance and absolute text drift: over).
var (
	below        = func(s, t float64) bool { return s < t }
	atOrBelow    = func(s, t float64) bool { return s <= t }
	atOrAbove    = func(s, t float64) bool { return s >= t }
	above        = func(s, t float64) bool { return s > t }
	driftMethods = map[string]driftMethod{}
)

// init maps Evidently's drift methods, by the name a user passes
// (method="psi") and by the display name a resolved config carries
// ("PSI"), to short metric names and their verdict. Each row is the
// StatTest(name=, display_name=) of a file of Evidently's
// src/evidently/legacy/calculations/stattests/ and the comparison its
// function returns (e.g. ks_stattest.py: `return p_value, p_value <=
// threshold`; mmd_stattest.py: name and display name "empirical_mmd",
// `return p_value, p_value < threshold`), the same from v0.7.0 to v0.7.21.
func init() {
	for _, m := range []struct {
		names   []string
		metric  string
		drifted func(score, threshold float64) bool
	}{
		{[]string{"ks", "K-S p_value"}, "ks_p_value", atOrBelow},                                  // ks_stattest.py
		{[]string{"chisquare", "chi-square p_value"}, "chisquare_p_value", below},                 // chisquare_stattest.py
		{[]string{"z", "Z-test p_value"}, "z_p_value", below},                                     // z_stattest.py
		{[]string{"anderson", "Anderson-Darling"}, "anderson_p_value", below},                     // anderson_darling_stattest.py
		{[]string{"cramer_von_mises", "Cramer-von Mises"}, "cramer_von_mises_p_value", atOrBelow}, // cramer_von_mises_stattest.py
		{[]string{"mannw", "Mann-Whitney U-rank test"}, "mannw_p_value", below},                   // mann_whitney_urank_stattest.py
		{[]string{"es", "Epps-Singleton"}, "es_p_value", below},                                   // epps_singleton_stattest.py
		{[]string{"t_test"}, "t_test_p_value", below},                                             // t_test.py (display name "t_test")
		{[]string{"g_test"}, "g_test_p_value", below},                                             // g_stattest.py (display name "g_test")
		{[]string{"fisher_exact", "Fisher's Exact test"}, "fisher_exact_p_value", below},          // fisher_exact_stattest.py
		{[]string{"TVD", "Total-Variation-Distance"}, "tvd_p_value", below},                       // tvd_stattest.py: a chi-square p-value
		{[]string{"empirical_mmd"}, "empirical_mmd_p_value", below},                               // mmd_stattest.py: a permutation p-value
		{[]string{"psi", "PSI"}, "psi", atOrAbove},                                                // psi.py
		{[]string{"wasserstein", "Wasserstein distance (normed)"}, "wasserstein", atOrAbove},      // wasserstein_distance_norm.py
		{[]string{"jensenshannon", "Jensen-Shannon distance"}, "jensenshannon", atOrAbove},        // jensenshannon.py
		{[]string{"kl_div", "Kullback-Leibler divergence"}, "kl_div", atOrAbove},                  // kl_div.py
		{[]string{"hellinger", "Hellinger distance"}, "hellinger", atOrAbove},                     // hellinger_distance.py
		{[]string{"ed", "Energy-distance"}, "energy_distance", above},                             // energy_distance.py
		// text_content_drift_abs.py: the domain classifier's ROC AUC over the threshold.
		{[]string{"abs_text_content_drift", "Absolute text content drift"}, "abs_text_content_drift", above},
		// text_content_drift.py: the threshold is a percentile of a random
		// classifier's ROC AUC, no bound on the score: no verdict.
		{[]string{"perc_text_content_drift", "Percentile text content drift"}, "perc_text_content_drift", nil},
	} {
		for _, n := range m.names {
			driftMethods[n] = driftMethod{m.metric, m.drifted}
		}
	}
}

// methodOf is the method of a name. Another (a custom StatTest) becomes
// its name in snake case, its verdict guessed from "p_value" in it: under
// the threshold, as most of Evidently's p-values drift, else at or over.
func methodOf(name string) driftMethod {
	if m, ok := driftMethods[name]; ok {
		return m
	}
	if strings.Contains(strings.ToLower(name), "p_value") {
		return driftMethod{snake(name), below}
	}
	return driftMethod{snake(name), atOrAbove}
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
// threshold is known and bounds the score, sets baseline to it and says whether the column
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
	if t, ok := number(m.Params["threshold"]); ok && dm.drifted != nil {
		ev.Baseline = &t
		ev.Labels["drift_detected"] = strconv.FormatBool(dm.drifted(ev.Value, t))
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
