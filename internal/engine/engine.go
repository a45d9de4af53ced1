// Package engine evaluates a model's rules against one event and the state
// of the event's series: it records the observation, runs every rule's
// condition, keeps each rule's breach streak, and says which rules fire,
// which are pending on `for:`, and why the others did not. It is the one
// piece of evaluation shared by the router, `stakeout route`, `test` and
// `replay`, so a rule behaves the same everywhere.
package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// Status is what a rule made of an event.
type Status int

const (
	// Firing: the condition holds and has held long enough for `for:`.
	Firing Status = iota
	// Pending: the condition holds but `for:` is not yet satisfied.
	Pending
	// Clear: the condition was evaluated and does not hold.
	Clear
	// Skipped: the rule was not evaluated (another series, a field the
	// event lacks, a series too short, an evaluation error): see Verdict.
	Skipped
	// RuleError: the rule itself is at fault — its evaluation went over
	// the budget a rule may take on one event. Its streak is left as it
	// was; its owner must hear of it (see config.Rule.ErrorRule).
	RuleError
)

func (s Status) String() string {
	return [...]string{"firing", "pending", "clear", "skipped", "error"}[s]
}

// Result is one rule's outcome for one event.
type Result struct {
	Rule    *config.Rule
	Status  Status
	Verdict expression.Verdict
	// Streak is the rule's breach streak after this event (zero if none).
	Streak series.Streak
	// Late is set when the event is no newer than the series' latest
	// reading (a redelivery, or out of order): it must not open or resolve
	// an alert.
	Late bool
	// Impact is the rule's impact in money per day, when it has one and it
	// could be computed (only for Firing and Pending results).
	Impact    float64
	HasImpact bool
	// ImpactErr says why an impact expression could not be computed.
	ImpactErr string
	// Held: the rule is Clear, but its resolve_when does not hold on the
	// event (hysteresis: between the threshold to fire and the one to
	// resolve), so the reading does not count as clean for an open alert.
	// HeldWhy says why, in words.
	Held    bool
	HeldWhy string
	// Unresolvable says why a clear rule's resolve_when could not be
	// evaluated on the event (a field it reads is missing, its filter
	// names another series, it failed): the reading then counts as clean
	// because when does not hold, so that no alert stays open for good on
	// a condition that can never be decided.
	Unresolvable string
}

// Engine evaluates rules. It holds a reusable evaluator, so it is not safe
// for concurrent use: keep one per goroutine.
type Engine struct {
	eval *expression.Evaluator
	ev   signal.Event
}

// New returns an Engine.
func New() *Engine { return &Engine{eval: expression.NewEvaluator()} }

// Observe adds ev to the series state st (sized by the model's history
// depth) and evaluates every rule of m, appending one Result per rule to out
// (pass a reused slice to avoid allocation).
func (e *Engine) Observe(m *config.Model, ev *signal.Event, st *series.State, out []Result) []Result {
	if ev.Cleared == "" { // a cleared state is no measurement for the history
		st.Add(series.Observation{At: ev.ObservedAt, Value: ev.Value}, m.HistoryDepth)
	}
	late := st.Late(ev.ObservedAt)
	if !late {
		st.Latest = ev.ObservedAt
	}
	e.ev = *ev
	e.eval.Bind(&e.ev, m.Scope, st)
	if ev.Cleared != "" {
		return e.cleared(m, ev, st, late, out)
	}
	for _, r := range m.Rules {
		// Built in place, field by field: a Result is a few hundred
		// bytes, and building one whole then copying it was a third of
		// the time of a model's rules.
		out = append(out, Result{})
		res := &out[len(out)-1]
		res.Rule, res.Late = r, late
		e.eval.EvalInto(&res.Verdict, r.When)
		switch res.Verdict.Outcome {
		case expression.True:
			res.Status = Pending
			if late {
				// A late breach says nothing about now: counting it would
				// let one breach of the present satisfy for: 2.
				res.Streak = st.Streak(r.Name)
				break
			}
			res.Streak, _ = st.Breach(r.Name, ev.ObservedAt)
			if Satisfied(r.For, res.Streak, ev.ObservedAt) {
				res.Status = Firing
			}
			if r.Impact != nil {
				iv := e.eval.Eval(r.Impact)
				if iv.Outcome == expression.True {
					res.Impact, res.HasImpact = iv.Value, true
				} else {
					res.ImpactErr = iv.Reason()
				}
			}
		case expression.False:
			st.Clear(r.Name, ev.ObservedAt)
			res.Status = Clear
			if r.ResolveWhen != nil {
				e.hysteresis(res)
			}
		case expression.OverBudget:
			res.Status = RuleError
		default:
			res.Status = Skipped
		}
	}
	return out
}

// cleared is Observe for an event whose source says the series is back to
// normal without a measurement (signal.Event.Cleared): every rule that
// watches the series is clear, its streak ended, whatever its condition
// would make of a value the event does not have; resolve_when is not
// asked (it reads the value too).
func (e *Engine) cleared(m *config.Model, ev *signal.Event, st *series.State, late bool, out []Result) []Result {
	for _, r := range m.Rules {
		out = append(out, Result{Rule: r, Verdict: e.eval.Eval(r.When), Late: late})
		res := &out[len(out)-1]
		if res.Verdict.Outcome == expression.OtherSeries || res.Verdict.Outcome == expression.OverBudget {
			res.Status = Skipped
			continue
		}
		st.Clear(r.Name, ev.ObservedAt)
		res.Status = Clear
	}
	return out
}

// hysteresis evaluates a clear rule's resolve_when: a reading on which it
// is false is not clean, nor one on which the series' history is still
// too short for it (more readings come). One on which it cannot be
// evaluated at all falls back to `not when`, which holds (see
// Unresolvable).
func (e *Engine) hysteresis(res *Result) {
	v := e.eval.Eval(res.Rule.ResolveWhen)
	switch v.Outcome {
	case expression.True:
	case expression.False, expression.ShortHistory:
		res.Held, res.HeldWhy = true, "resolve_when does not hold: "+v.Reason()
	default:
		res.Unresolvable = "resolve_when could not be evaluated (" + v.Reason() + "), so the reading counts as clean: when no longer holds"
	}
}

// Explain puts the last observed event's evaluation of r in words, one
// clause per top-level condition. Only for dry runs: it compiles on first use.
func (e *Engine) Explain(r *config.Rule) []expression.Clause {
	if r.When == nil { // a rule's ErrorRule has no condition of its own
		return nil
	}
	return e.eval.Explain(r.When)
}

// Why says in words why r fired (breach) or did not, from the last
// observed event: the clauses that decided it, with the values seen —
// "value 0.41 > 0.25", "(baseline - value) = 0.09 > 0.03".
func (e *Engine) Why(r *config.Rule, breach bool) string {
	return Why(e.Explain(r), breach)
}

// Why puts explained clauses together: for a breach the non-filter
// clauses (they say what was exceeded), otherwise the ones that failed.
func Why(clauses []expression.Clause, breach bool) string {
	var parts []string
	for _, c := range clauses {
		switch {
		case breach && !c.Filter:
			parts = append(parts, c.Text)
		case !breach && !c.Holds:
			parts = append(parts, c.Text)
		}
	}
	if len(parts) == 0 && len(clauses) > 0 {
		if breach {
			return "condition holds"
		}
		return "condition is false"
	}
	return strings.Join(parts, " and ")
}

// Satisfied reports whether a streak meets a rule's `for:` at time at.
func Satisfied(w config.Window, s series.Streak, at time.Time) bool {
	switch {
	case s.Count == 0:
		return false
	case w.Count > 0:
		return s.Count >= w.Count
	case w.Duration > 0:
		return at.Sub(s.Since) >= w.Duration
	}
	return true
}

// Progress says how far a pending streak is: "1 of 3 consecutive breaching
// observations", "breaching for 20m of 2h".
func Progress(w config.Window, s series.Streak, at time.Time) string {
	if w.Count > 0 {
		return fmt.Sprintf("%d of %d consecutive breaching observations", s.Count, w.Count)
	}
	return fmt.Sprintf("breaching for %s of %s", duration.Format(at.Sub(s.Since)), duration.Format(w.Duration))
}

// Summary renders the rule's summary for the event (or a default one).
func Summary(m *config.Model, r *config.Rule, ev *signal.Event, res *Result) string {
	if r.Summary.Empty() {
		s := fmt.Sprintf("%s: %s %s = %s", r.Name, ev.Kind, ev.Metric, expression.FormatNumber(ev.Value))
		if ev.Feature != "" {
			s += " on " + ev.Feature
		}
		if ev.Segment != "" {
			s += " (" + ev.Segment + ")"
		}
		return s
	}
	return r.Summary.Render(func(name string) string {
		switch name {
		case "model":
			return m.ID
		case "rule":
			return r.Name
		case "stakes":
			return m.Stakes
		case "impact":
			if res != nil && res.HasImpact {
				// As every text shows an impact: "${{impact}}/day" reads
				// "$48,000/day" (expression.FormatImpact).
				return expression.FormatImpactAmount(res.Impact)
			}
			return "?"
		}
		if key, ok := strings.CutPrefix(name, "business."); ok {
			return expression.FormatNumber(m.Business[key])
		}
		if key, ok := strings.CutPrefix(name, "labels."); ok {
			return ev.Labels[key]
		}
		if key, ok := strings.CutPrefix(name, "lineage."); ok {
			if v, ok := ev.Lineage[key]; ok {
				return fmt.Sprint(v)
			}
			return ""
		}
		if text := fieldText(ev, name); text != "" {
			return text
		}
		return "-" // an optional field the event lacks
	})
}

func fieldText(ev *signal.Event, name string) string {
	switch name {
	case "model":
		return ev.Model
	case "kind":
		return ev.Kind
	case "metric":
		return ev.Metric
	case "value":
		return expression.FormatNumber(ev.Value)
	case "observed_at":
		return ev.ObservedAt.Format(time.RFC3339)
	case "version":
		return ev.Version
	case "environment":
		return ev.Environment
	case "baseline":
		if ev.Baseline != nil {
			return expression.FormatNumber(*ev.Baseline)
		}
	case "feature":
		return ev.Feature
	case "segment":
		return ev.Segment
	case "sample_size":
		if ev.SampleSize != nil {
			return strconv.FormatInt(*ev.SampleSize, 10)
		}
	case "window_start":
		if ev.WindowStart != nil {
			return ev.WindowStart.Format(time.RFC3339)
		}
	case "window_end":
		if ev.WindowEnd != nil {
			return ev.WindowEnd.Format(time.RFC3339)
		}
	}
	return ""
}
