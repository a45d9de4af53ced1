package expression

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// History is the series the event belongs to, current observation included.
type History interface {
	// Len is the number of observations kept.
	Len() int
	// Last returns the latest n values, oldest first.
	Last(n int) []float64
	// Slope is the least-squares slope per day over the latest n observations.
	Slope(n int) float64
}

// Scope is what a model adds to every evaluation: its business constants and
// stakes. Build one per model at load time.
type Scope struct {
	Business map[string]float64
	Stakes   string
}

// Outcome says how an evaluation ended.
type Outcome int

const (
	// True: the condition holds (a breach).
	True Outcome = iota
	// False: the condition was evaluated and does not hold (a clean reading).
	False
	// OtherSeries: a top-level `field == "x"` test rules the event out; the
	// rule is about another series, so this is neither a breach nor clean.
	OtherSeries
	// Missing: the event lacks an optional field the expression reads.
	Missing
	// ShortHistory: the series has fewer observations than last(n)/slope(n) need.
	ShortHistory
	// Failed: evaluation raised an error (e.g. arithmetic on an absent lineage key).
	Failed
)

// Verdict is the result of evaluating one Program. Its reason is formatted
// only when asked for, so the hot path does not allocate strings for the
// rules an event does not concern.
type Verdict struct {
	Outcome Outcome
	Value   float64 // the number, for a Number program that succeeded

	p      *Program
	ev     *signal.Event
	filter *filter
	field  int
	have   int
	err    error
}

// Reason says in words why the verdict is not True (or "" when it is).
func (v Verdict) Reason() string {
	switch v.Outcome {
	case False:
		return "condition is false"
	case OtherSeries:
		got := fieldString(v.ev, v.filter.field)
		name := FieldNames[v.filter.field]
		if got == "" {
			return fmt.Sprintf("event has no %s; rule wants %s", name, quoteList(v.filter.values))
		}
		return fmt.Sprintf("%s is %q; rule wants %s", name, got, quoteList(v.filter.values))
	case Missing:
		return fmt.Sprintf("event has no %s, which the rule reads", FieldNames[v.field])
	case ShortHistory:
		return fmt.Sprintf("series has %d of the %d observations the rule needs", v.have, v.p.history)
	case Failed:
		return "evaluation failed: " + v.err.Error()
	}
	return ""
}

// Evaluator runs programs against one event at a time. It reuses its VM and
// environment between calls, so it is not safe for concurrent use: keep one
// per goroutine.
type Evaluator struct {
	machine vm.VM
	env     map[string]any
	ev      *signal.Event
	scope   *Scope
	hist    History
	has     fieldSet
	bound   bool
}

// NewEvaluator returns an Evaluator with the history functions installed.
func NewEvaluator() *Evaluator {
	e := &Evaluator{env: make(map[string]any, 24)}
	e.env[nameLast] = func(n int) []float64 { return e.hist.Last(n) }
	e.env[nameSlope] = func(n int) float64 { return e.hist.Slope(n) }
	return e
}

// Bind sets the event, the model's scope and the series history for the next
// calls. The environment itself is filled lazily, on the first program that
// gets past its filters.
func (e *Evaluator) Bind(ev *signal.Event, scope *Scope, hist History) {
	e.ev, e.scope, e.hist, e.bound = ev, scope, hist, false
	var has fieldSet = 1<<fModel | 1<<fKind | 1<<fMetric | 1<<fValue | 1<<fObservedAt | 1<<fLabels | 1<<fLineage
	set := func(f int, ok bool) {
		if ok {
			has |= 1 << f
		}
	}
	set(fVersion, ev.Version != "")
	set(fEnvironment, ev.Environment != "")
	set(fBaseline, ev.Baseline != nil)
	set(fFeature, ev.Feature != "")
	set(fSegment, ev.Segment != "")
	set(fSampleSize, ev.SampleSize != nil)
	set(fWindowStart, ev.WindowStart != nil)
	set(fWindowEnd, ev.WindowEnd != nil)
	e.has = has
}

func (e *Evaluator) fill() {
	ev, env := e.ev, e.env
	env["model"], env["kind"], env["metric"] = ev.Model, ev.Kind, ev.Metric
	env["value"], env["observed_at"] = ev.Value, ev.ObservedAt
	env["version"], env["environment"] = ev.Version, ev.Environment
	env["feature"], env["segment"] = ev.Feature, ev.Segment
	env["labels"], env["lineage"] = ev.Labels, ev.Lineage
	env["baseline"], env["sample_size"], env["window_start"], env["window_end"] = 0.0, 0, zeroTime, zeroTime
	if ev.Baseline != nil {
		env["baseline"] = *ev.Baseline
	}
	if ev.SampleSize != nil {
		env["sample_size"] = int(*ev.SampleSize)
	}
	if ev.WindowStart != nil {
		env["window_start"] = *ev.WindowStart
	}
	if ev.WindowEnd != nil {
		env["window_end"] = *ev.WindowEnd
	}
	env[nameBusiness], env[nameStakes] = e.scope.Business, e.scope.Stakes
	e.bound = true
}

// Applies runs only the cheap checks (filters, missing fields, history)
// and reports the verdict they reach, or True when the program must run.
func (e *Evaluator) precheck(p *Program) Verdict {
	for i := range p.filters {
		f := &p.filters[i]
		got := fieldString(e.ev, f.field)
		ok := false
		for _, v := range f.values {
			if got == v {
				ok = true
				break
			}
		}
		if !ok {
			return Verdict{Outcome: OtherSeries, p: p, ev: e.ev, filter: f}
		}
	}
	if missing := p.needs &^ e.has; missing != 0 {
		for f := range numFields {
			if missing&(1<<f) != 0 {
				return Verdict{Outcome: Missing, p: p, ev: e.ev, field: f}
			}
		}
	}
	if p.history > 0 && (e.hist == nil || e.hist.Len() < p.history) {
		have := 0
		if e.hist != nil {
			have = e.hist.Len()
		}
		return Verdict{Outcome: ShortHistory, p: p, ev: e.ev, have: have}
	}
	return Verdict{Outcome: True, p: p, ev: e.ev}
}

// Eval evaluates p against the bound event.
func (e *Evaluator) Eval(p *Program) Verdict {
	v := e.precheck(p)
	if v.Outcome != True {
		return v
	}
	if !e.bound {
		e.fill()
	}
	out, err := e.machine.Run(p.prog, e.env)
	if err != nil {
		v.Outcome, v.err = Failed, err
		return v
	}
	switch x := out.(type) {
	case bool:
		if !x {
			v.Outcome = False
		}
	case float64:
		if !finite(x) {
			v.Outcome, v.err = Failed, fmt.Errorf("result %v is not a finite number", x)
		}
		v.Value = x
	default:
		v.Outcome, v.err = Failed, fmt.Errorf("unexpected result type %T", out)
	}
	return v
}

func fieldString(ev *signal.Event, f int) string {
	switch f {
	case fKind:
		return ev.Kind
	case fMetric:
		return ev.Metric
	case fFeature:
		return ev.Feature
	case fSegment:
		return ev.Segment
	case fEnvironment:
		return ev.Environment
	case fModel:
		return ev.Model
	case fVersion:
		return ev.Version
	}
	return ""
}

// Placeholders are the names a summary template may use besides the event
// fields.
var Placeholders = []string{"model", "rule", "stakes", "impact"}

// CheckPlaceholder reports whether name may appear as {{name}} in a summary.
func CheckPlaceholder(name string, business map[string]float64) error {
	if key, ok := strings.CutPrefix(name, "business."); ok {
		if _, ok := business[key]; !ok {
			return fmt.Errorf("unknown business constant %q%s", key, suggest(key, sortedKeys(business)))
		}
		return nil
	}
	for _, n := range FieldNames {
		if n == name {
			return nil
		}
	}
	for _, n := range Placeholders {
		if n == name {
			return nil
		}
	}
	all := append(FieldNames[:], Placeholders...)
	return fmt.Errorf("unknown placeholder {{%s}}%s (use an event field, model, rule, stakes, impact or business.<name>)", name, suggest(name, all))
}
