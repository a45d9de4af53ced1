// Package ruletest runs the `tests:` cases of rules files: each case's
// events go, in order and on fresh series state, through the same engine
// and routing the router uses, and the alerts open after the last event are
// compared with the case's expectations.
package ruletest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/engine"
	"github.com/stakeout-ml/stakeout/internal/route"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// Failure is a test case whose open alerts differ from its expectation.
type Failure struct {
	File  string
	Line  int
	Model string
	Test  string
	// Diff is the difference, as (-want +got).
	Diff string
}

func (f Failure) String() string {
	return fmt.Sprintf("%s:%d: %s: test %q: open alerts differ (-want +got):\n%s", f.File, f.Line, f.Model, f.Test, f.Diff)
}

// Report is the result of running every test case.
type Report struct {
	Passed   int
	Failures []Failure
	// Untested names models whose tests could not run (the file has errors).
	Untested map[string]string
}

// Failed counts failed cases plus models that could not be tested.
func (r Report) Failed() int { return len(r.Failures) + len(r.Untested) }

// Run runs the test cases of every loaded model, in model order.
func Run(cfg *config.Config) Report {
	rep := Report{Untested: map[string]string{}}
	for id, m := range cfg.Broken {
		rep.Untested[id] = m.Broken
	}
	eng := engine.New()
	ids := make([]string, 0, len(cfg.Models))
	for id := range cfg.Models {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := cfg.Models[id]
		for _, tc := range m.Tests {
			want, got := expected(tc), Open(cfg, eng, m, tc.Events)
			got = project(got, want)
			if diff := Diff(want, got); diff != "" {
				rep.Failures = append(rep.Failures, Failure{File: m.File, Line: tc.Line, Model: m.ID, Test: tc.Name, Diff: diff})
				continue
			}
			rep.Passed++
		}
	}
	return rep
}

// alertKey identifies an alert: model, rule, feature and segment.
type alertKey struct{ rule, feature, segment string }

// openAlert is an open alert and the series whose breach opened it: only a
// clean reading of that series resolves it (a rule without a metric filter
// may see a psi breach and a clean ks reading of the same feature).
type openAlert struct {
	alert  config.ExpectedAlert
	series signal.SeriesKey
}

// Open replays events on fresh state and returns the alerts open after the
// last one: an alert opens when its rule fires and resolves on the next
// clean observation of its series.
func Open(cfg *config.Config, eng *engine.Engine, m *config.Model, events []signal.Event) []config.ExpectedAlert {
	states := map[signal.SeriesKey]*series.State{}
	open := map[alertKey]openAlert{}
	var buf []engine.Result
	for i := range events {
		ev := &events[i]
		st := states[ev.Series()]
		if st == nil {
			st = &series.State{}
			states[ev.Series()] = st
		}
		buf = eng.Observe(m, ev, st, buf[:0])
		for _, res := range buf {
			if res.Late {
				continue
			}
			k := alertKey{res.Rule.Name, ev.Feature, ev.Segment}
			switch res.Status {
			case engine.Firing:
				a := route.Plan(cfg, m, res.Rule, ev.ObservedAt)
				open[k] = openAlert{series: ev.Series(), alert: config.ExpectedAlert{Rule: a.Rule, Severity: a.Severity,
					Owner: a.Owner, Role: a.Role, Notify: a.Notify, Feature: ev.Feature, Segment: ev.Segment}}
			case engine.Clear:
				if open[k].series == ev.Series() {
					delete(open, k)
				}
			}
		}
	}
	out := make([]config.ExpectedAlert, 0, len(open))
	for _, a := range open {
		out = append(out, a.alert)
	}
	sortAlerts(out)
	return out
}

func expected(tc *config.TestCase) []config.ExpectedAlert {
	out := slices.Clone(tc.Expect)
	if out == nil {
		out = []config.ExpectedAlert{}
	}
	sortAlerts(out)
	return out
}

// project keeps, of each open alert, the fields the test speaks about:
// rule, severity and owner always; role, notify, feature and segment when
// an expectation for the same rule gives them.
func project(got, want []config.ExpectedAlert) []config.ExpectedAlert {
	out := make([]config.ExpectedAlert, 0, len(got))
	for _, g := range got {
		var keep config.ExpectedAlert
		for _, w := range want {
			if w.Rule != g.Rule {
				continue
			}
			if w.Severity != "" {
				keep.Severity = g.Severity
			}
			if w.Owner != "" {
				keep.Owner = g.Owner
			}
			if w.Role != "" {
				keep.Role = g.Role
			}
			if w.Notify != nil {
				keep.Notify = g.Notify
			}
			if w.Feature != "" {
				keep.Feature = g.Feature
			}
			if w.Segment != "" {
				keep.Segment = g.Segment
			}
		}
		p := config.ExpectedAlert{Rule: g.Rule, Severity: g.Severity, Owner: g.Owner}
		if !slices.ContainsFunc(want, func(w config.ExpectedAlert) bool { return w.Rule == g.Rule }) {
			out = append(out, p) // unexpected: show what matters
			continue
		}
		p.Severity, p.Owner = keep.Severity, keep.Owner
		p.Role, p.Notify, p.Feature, p.Segment = keep.Role, keep.Notify, keep.Feature, keep.Segment
		out = append(out, p)
	}
	sortAlerts(out)
	return out
}

func sortAlerts(as []config.ExpectedAlert) {
	slices.SortFunc(as, func(a, b config.ExpectedAlert) int {
		return cmp.Or(cmp.Compare(a.Rule, b.Rule), cmp.Compare(a.Feature, b.Feature), cmp.Compare(a.Segment, b.Segment))
	})
}

// Diff compares two sorted alert lists line by line, each alert written as
// in a rules file ({rule: x, severity: high, owner: y}): "-" lines are
// expected but not open, "+" lines open but not expected. It is "" when
// they are equal.
func Diff(want, got []config.ExpectedAlert) string {
	w, g := lines(want), lines(got)
	var b strings.Builder
	same := true
	i, j := 0, 0
	for i < len(w) || j < len(g) {
		switch {
		case j == len(g) || i < len(w) && w[i] < g[j]:
			fmt.Fprintf(&b, "  - %s\n", w[i])
			i, same = i+1, false
		case i == len(w) || g[j] < w[i]:
			fmt.Fprintf(&b, "  + %s\n", g[j])
			j, same = j+1, false
		default:
			fmt.Fprintf(&b, "    %s\n", w[i])
			i, j = i+1, j+1
		}
	}
	if same {
		return ""
	}
	if len(w) == 0 {
		b.WriteString("  (expected no open alert)\n")
	}
	if len(g) == 0 {
		b.WriteString("  (no alert open)\n")
	}
	return b.String()
}

func lines(as []config.ExpectedAlert) []string {
	out := make([]string, len(as))
	for i, a := range as {
		parts := []string{"rule: " + a.Rule}
		add := func(k, v string) {
			if v != "" {
				parts = append(parts, k+": "+v)
			}
		}
		add("severity", a.Severity)
		add("owner", a.Owner)
		add("role", a.Role)
		if a.Notify != nil {
			parts = append(parts, "notify: ["+strings.Join(a.Notify, ", ")+"]")
		}
		add("feature", a.Feature)
		add("segment", a.Segment)
		out[i] = "{" + strings.Join(parts, ", ") + "}"
	}
	slices.Sort(out)
	return out
}
