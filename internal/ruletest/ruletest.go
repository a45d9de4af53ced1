// Package ruletest runs the `tests:` cases of rules files: each case's
// events go, in order, through the router's own pipeline on a fresh
// embedded store, and the alerts open after the last event are compared
// with the case's expectations.
package ruletest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/memstore"
	"github.com/stakeout-ml/stakeout/internal/pipeline"
	"github.com/stakeout-ml/stakeout/internal/signal"
	"github.com/stakeout-ml/stakeout/internal/state"
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
	ids := make([]string, 0, len(cfg.Models))
	for id := range cfg.Models {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := cfg.Models[id]
		for _, tc := range m.Tests {
			want := expected(tc)
			got, err := Open(cfg, m, tc.Events)
			if err != nil {
				rep.Failures = append(rep.Failures, Failure{File: m.File, Line: tc.Line, Model: m.ID, Test: tc.Name, Diff: "  " + err.Error() + "\n"})
				continue
			}
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

// Open replays events through the router's pipeline on a fresh embedded
// store, with time taken from the events, and returns the alerts open
// after the last one (suppressed alerts are not open: nobody was told;
// those a maintenance window silences are, with the window's name).
func Open(cfg *config.Config, m *config.Model, events []signal.Event) ([]config.ExpectedAlert, error) {
	ctx := context.Background()
	st := memstore.New(func() time.Time { return time.Time{} })
	p := &pipeline.Processor{Config: cfg, Store: st}
	for i, ev := range events {
		out, err := p.ProcessEvent(ctx, fmt.Sprintf("test-event-%d", i+1), ev)
		if err != nil {
			return nil, err
		}
		if out.Quarantined != "" {
			return nil, fmt.Errorf("event %d: %s", i+1, out.Quarantined)
		}
	}
	alerts, err := st.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	out := []config.ExpectedAlert{}
	for _, a := range alerts {
		// An alert a maintenance window silences is open, and says so.
		if a.Model == m.ID && (a.Status == state.Open || a.Status == state.Suppressed && a.SilencedBy != "") {
			out = append(out, config.ExpectedAlert{Rule: a.Rule, Severity: a.Severity, Owner: a.Owner, Role: a.Role,
				Notify: a.Notify, Feature: a.Feature, Segment: a.Segment, SilencedBy: a.SilencedBy})
		}
	}
	sortAlerts(out)
	return out, nil
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
		p := config.ExpectedAlert{Rule: g.Rule, Severity: g.Severity, Owner: g.Owner, SilencedBy: g.SilencedBy}
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
		add("silenced_by", a.SilencedBy)
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
