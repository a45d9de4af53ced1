// Package evidently reads an Evidently 0.7 report — the JSON that
// Report.run(...).dict() returns and save_json/json() write:
// {"metrics": [...], "tests": [...]} — and turns its metrics into native
// "ML Model Signal" details, so that a team running Evidently reaches
// stakeout without writing a publisher (`stakeout publish --from
// evidently`).
//
// Both layouts of a metric entry are read: v0.7.16 and later write
// "metric_name" (every parameter, the resolved drift method and threshold
// among them) and "config" ({"type": "evidently:metric_v2:<Class>", the
// parameters}); v0.7.0 to v0.7.15 write only "metric_id", the same
// "Class(param=value,...)" string with the parameters the user set. The
// full snapshot of dumps()/Workspace (metric_results, widgets) and the
// legacy reports of Evidently 0.4–0.6 ({"metric": ..., "result": ...}) are
// other formats, refused with an error that says which.
//
// Every column's ValueDrift becomes an event, drifted or not: an alert a
// drifted column opened resolves only on a clean reading of the same
// series, and silence detection counts the readings that arrive. Metrics
// without a conversion are skipped and counted, never dropped silently.
//
// The package is vendor-free: it reads JSON and imports only stakeout's
// own signal package.
package evidently

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Layouts of a metric entry.
const (
	// LayoutName is v0.7.16+: metric_name and config.
	LayoutName = "metric_name"
	// LayoutID is v0.7.0–v0.7.15: metric_id alone.
	LayoutID = "metric_id"
)

// Report is the part of an Evidently report stakeout reads.
type Report struct {
	Metrics []Metric
}

// Metric is one entry of the report's "metrics".
type Metric struct {
	// Index is the entry's position in "metrics", for messages.
	Index int
	// Name is metric_name (or metric_id in the older layout), such as
	// "ValueDrift(column=age,method=K-S p_value,threshold=0.05)".
	Name string
	// Class is the metric's class: "ValueDrift".
	Class string
	// Params are the metric's parameters as strings: from config, or
	// parsed from Name in the older layout.
	Params map[string]string
	// Layout says which layout the entry has (LayoutName, LayoutID).
	Layout string
	// Value is the metric's result: a number, or an object such as
	// {"count": 2, "share": 0.28}.
	Value json.RawMessage
}

// entry is a metric entry as written, in either layout.
type entry struct {
	ID         string                     `json:"id"`
	MetricName string                     `json:"metric_name"`
	MetricID   string                     `json:"metric_id"`
	Config     map[string]json.RawMessage `json:"config"`
	Value      json.RawMessage            `json:"value"`
	// Legacy (0.4–0.6) report entries.
	LegacyMetric json.RawMessage `json:"metric"`
	LegacyResult json.RawMessage `json:"result"`
}

const notAReport = "not an Evidently 0.7 report (Report.dict() or save_json: {\"metrics\": [...], \"tests\": [...]})"

// Parse reads a report. Its errors say why the JSON is not one, and which
// entry is wrong.
func Parse(data []byte) (*Report, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line := bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n")) + 1
			return nil, fmt.Errorf("malformed JSON at line %d: %v", line, err)
		}
		return nil, fmt.Errorf("%s: %v", notAReport, err)
	}
	raw, ok := top["metrics"]
	if !ok {
		if _, snap := top["metric_results"]; snap {
			return nil, fmt.Errorf("%s: this is a full snapshot (Snapshot.dumps() or a Workspace's), not a report's dict(); write the report with save_json", notAReport)
		}
		return nil, fmt.Errorf("%s: it has no \"metrics\"", notAReport)
	}
	var entries []entry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("%s: \"metrics\" is not a list of metric entries: %v", notAReport, err)
	}
	r := &Report{}
	for i, e := range entries {
		m, err := e.metric(i)
		if err != nil {
			return nil, fmt.Errorf("metrics[%d]: %w", i, err)
		}
		r.Metrics = append(r.Metrics, m)
	}
	return r, nil
}

// metric reads one entry, in whichever layout it has.
func (e *entry) metric(i int) (Metric, error) {
	m := Metric{Index: i, Value: e.Value}
	switch {
	case e.MetricName != "":
		m.Name, m.Layout = e.MetricName, LayoutName
	case e.MetricID != "":
		m.Name, m.Layout = e.MetricID, LayoutID
	case e.LegacyMetric != nil && e.LegacyResult != nil:
		return Metric{}, errors.New("a \"metric\" with a \"result\" is the legacy report of Evidently 0.4–0.6, not 0.7's; stakeout reads 0.7 reports")
	default:
		return Metric{}, errors.New("has neither \"metric_name\" (Evidently 0.7.16+) nor \"metric_id\" (0.7.0–0.7.15)")
	}
	if len(e.Value) == 0 || string(e.Value) == "null" {
		return Metric{}, fmt.Errorf("%s has no \"value\"", m.Name)
	}
	class, params, err := parseName(m.Name)
	if err != nil {
		return Metric{}, err
	}
	m.Class, m.Params = class, params
	if e.Config != nil {
		if m.Class, m.Params, err = fromConfig(e.Config); err != nil {
			return Metric{}, fmt.Errorf("%s: config: %w", m.Name, err)
		}
	}
	return m, nil
}

// fromConfig reads config: its type names the class
// ("evidently:metric_v2:ValueDrift"), the other keys are the parameters.
func fromConfig(cfg map[string]json.RawMessage) (string, map[string]string, error) {
	var typ string
	if err := json.Unmarshal(cfg["type"], &typ); err != nil || typ == "" {
		return "", nil, errors.New("no \"type\" string")
	}
	const prefix = "evidently:metric_v2:"
	class, ok := strings.CutPrefix(typ, prefix)
	if !ok {
		return "", nil, fmt.Errorf("type %q is not an Evidently 0.7 metric (%s<Class>)", typ, prefix)
	}
	params := map[string]string{}
	for k, v := range cfg {
		if k == "type" || string(v) == "null" {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			params[k] = s
			continue
		}
		params[k] = string(bytes.TrimSpace(v)) // a number, or JSON as written
	}
	return class, params, nil
}

var (
	nameRE  = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$`)
	paramRE = regexp.MustCompile(`(?:^|,)([A-Za-z_][A-Za-z0-9_]*)=`)
)

// parseName splits "Class(a=1,b=x y)" into its class and parameters. A
// value runs to the next ",name=": Evidently's method names hold spaces
// and parentheses ("Wasserstein distance (normed)"), not that.
func parseName(name string) (string, map[string]string, error) {
	m := nameRE.FindStringSubmatch(strings.TrimSpace(name))
	if m == nil {
		return "", nil, fmt.Errorf("%q is not a metric name of the form Class(param=value,...)", name)
	}
	params := map[string]string{}
	args := m[2]
	locs := paramRE.FindAllStringSubmatchIndex(args, -1)
	for i, l := range locs {
		end := len(args)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		params[args[l[2]:l[3]]] = args[l[1]:end]
	}
	return m[1], params, nil
}
