// Package report draws what happened to a set of models as one
// self-contained HTML page (`stakeout report`): for each model, each
// rule's readings over time against the threshold it last fired on, with
// the marks of its alerts (opened, suppressed, acknowledged, escalated,
// resolved, false alarm); a lane per owner showing when they were asked
// and how fast they answered; and the noise table of internal/noise.
//
// The page needs nothing else: no network, no fonts, no scripts from
// elsewhere. The charts are SVG computed here, a few lines of inline script
// show tooltips, and every name in it — models, rules, owners, features are
// whatever users and events say — goes through html/template's escaping.
// It reads plain data (audit records, alerts, readings), so it does not
// care which store they came from.
package report

import (
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"time"

	"github.com/stakeout-ml/stakeout/internal/audit"
	"github.com/stakeout-ml/stakeout/internal/noise"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
)

// Input is what a report is drawn from.
type Input struct {
	// Source names where the data came from (a state file), for the header.
	Source string
	// Since and Until bound the window drawn: records and readings at or
	// after Until are left out, as noise.Report leaves them.
	Since, Until time.Time
	// Records are the audit trails of the models drawn (whole or cut to
	// the window: those outside it are left out).
	Records []audit.Record
	// Alerts give each alert's last explanation, hence its threshold.
	Alerts []*state.Alert
	// Series are the readings kept of each series.
	Series []Series
	// HistoryLimit is how many readings of a series the store keeps, for
	// the page to say (0: not said).
	HistoryLimit int
}

// Series is one series' readings, oldest first.
type Series struct {
	Key      signal.SeriesKey
	Readings []series.Observation
}

// Span is the time of the oldest and the newest record or reading of in
// (zero when it holds none): a report of a replay counts back from the
// replay's time, not the wall clock.
func Span(in Input) (first, last time.Time) {
	see := func(t time.Time) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	for _, r := range in.Records {
		see(r.At)
	}
	for _, s := range in.Series {
		for _, o := range s.Readings {
			see(o.At)
		}
	}
	return first, last
}

// Models names the models in, sorted.
func Models(in Input) []string {
	var out []string
	for _, r := range in.Records {
		out = append(out, r.Model)
	}
	for _, s := range in.Series {
		out = append(out, s.Key.Model)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Only is in cut to one model.
func Only(in Input, model string) Input {
	out := in
	out.Records = slices.DeleteFunc(slices.Clone(in.Records), func(r audit.Record) bool { return r.Model != model })
	out.Alerts = slices.DeleteFunc(slices.Clone(in.Alerts), func(a *state.Alert) bool { return a.Model != model })
	out.Series = slices.DeleteFunc(slices.Clone(in.Series), func(s Series) bool { return s.Key.Model != model })
	return out
}

//go:embed report.html.tmpl
var files embed.FS

var page = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"ack": noise.FormatWait,
	"sub": func(a, b float64) float64 { return a - b },
	"pct": func(f float64) float64 { return f * 100 },
}).ParseFS(files, "report.html.tmpl"))

// Write renders the report of in to w.
func Write(w io.Writer, in Input) error {
	if err := page.Execute(w, build(in)); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// view is what the template shows.
type view struct {
	Source       string
	Since, Until string
	Legend       []markKind
	Models       []modelView
	Owners       []laneView
	OwnerAxis    axisView
	Noise        []noise.RuleStats
	Marks        int
	HistoryLimit int
}

type modelView struct {
	ID, Name string
	// Left says what was not drawn, to keep the page small.
	Left   []string
	Charts []chartView
	// Quiet are the model's series no alert of the window is about.
	Quiet []chartView
}

// build turns the input into what the template shows.
func build(in Input) view {
	// An alert opened before the window is open in it: its band is drawn
	// from its whole trail.
	trails := map[string][]audit.Record{}
	for _, r := range in.Records {
		trails[r.Alert] = append(trails[r.Alert], r)
	}
	in.Records = window(in.Records, in.Since, in.Until)
	x := newTimeScale(in.Since, in.Until)
	v := view{Source: in.Source, Since: formatTime(in.Since), Until: formatTime(in.Until), Legend: markKinds,
		HistoryLimit: in.HistoryLimit, Noise: noise.Report(in.Records, in.Since, in.Until)}
	charts := 0 // numbers each chart's id, unique in the page
	for _, m := range Models(in) {
		mv := modelSection(in, m, trails, x, &charts)
		mv.ID = fmt.Sprintf("model-%d", len(v.Models))
		for _, c := range mv.Charts {
			v.Marks += c.Marks
		}
		v.Models = append(v.Models, mv)
	}
	v.Owners, v.OwnerAxis = lanes(in.Records, x)
	return v
}

// What one model's section draws at most: a rule whose alerts are many
// (a drift rule over hundreds of features) shows its most eventful ones,
// and the page says how many it left out.
const (
	maxChartsPerRule = 12
	maxQuietCharts   = 12
)

// modelSection draws one model's alerts, rule by rule, and its series no
// alert is about.
func modelSection(in Input, m string, trails map[string][]audit.Record, x timeScale, charts *int) modelView {
	mv := modelView{Name: m}
	drawn := map[signal.SeriesKey]bool{}
	alerts := alertsOf(in, m)
	for len(alerts) > 0 {
		n := 1
		for n < len(alerts) && alerts[n].rule == alerts[0].rule {
			n++
		}
		rule := alerts[:n]
		alerts = alerts[n:]
		for _, a := range rule {
			drawn[a.key] = true
		}
		if len(rule) > maxChartsPerRule {
			mv.Left = append(mv.Left, fmt.Sprintf("%s: %d more alerts, with fewer marks, not drawn (the noise table counts them)", rule[0].rule, len(rule)-maxChartsPerRule))
			slices.SortStableFunc(rule, func(a, b *alertTrail) int { return cmp.Compare(len(b.records), len(a.records)) })
			rule = rule[:maxChartsPerRule]
			slices.SortFunc(rule, func(a, b *alertTrail) int { return cmp.Compare(a.id, b.id) })
		}
		for _, a := range rule {
			c := alertChart(in, a, x, *charts)
			c.Bands = bands(trails[a.id], x)
			*charts++
			mv.Charts = append(mv.Charts, c)
		}
	}
	var quiet []chartView
	for _, s := range in.Series {
		if s.Key.Model == m && !drawn[s.Key] {
			if c, ok := quietChart(s, x, *charts); ok {
				*charts++
				quiet = append(quiet, c)
			}
		}
	}
	if len(quiet) > maxQuietCharts {
		mv.Left = append(mv.Left, fmt.Sprintf("%d more series without an alert, not drawn", len(quiet)-maxQuietCharts))
		quiet = quiet[:maxQuietCharts]
	}
	mv.Quiet = quiet
	return mv
}

// window keeps the records in [since, until).
func window(recs []audit.Record, since, until time.Time) []audit.Record {
	return slices.DeleteFunc(slices.Clone(recs), func(r audit.Record) bool {
		return r.At.Before(since) || !r.At.Before(until)
	})
}

// alertTrail is one alert's records in the window, in the trail's order.
type alertTrail struct {
	id, rule string
	key      signal.SeriesKey
	records  []audit.Record
	why      string
}

// alertsOf returns the model's alerts with records in the window, by rule
// then id.
func alertsOf(in Input, model string) []*alertTrail {
	byID := map[string]*alertTrail{}
	for _, r := range in.Records {
		if r.Model != model {
			continue
		}
		a := byID[r.Alert]
		if a == nil {
			a = &alertTrail{id: r.Alert, rule: r.Rule, key: signal.SeriesKey{Model: r.Model, Kind: r.Kind, Metric: r.Metric, Feature: r.Feature, Segment: r.Segment}}
			byID[r.Alert] = a
		}
		a.records = append(a.records, r)
	}
	for _, al := range in.Alerts {
		if a := byID[al.ID]; a != nil {
			a.why = al.Why
		}
	}
	out := make([]*alertTrail, 0, len(byID))
	for _, a := range byID {
		slices.SortStableFunc(a.records, func(x, y audit.Record) int { return cmp.Compare(x.Seq, y.Seq) })
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *alertTrail) int { return cmp.Or(cmp.Compare(a.rule, b.rule), cmp.Compare(a.id, b.id)) })
	return out
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
