package expression

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/expr-lang/expr/vm"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// History is the series the event belongs to, current observation included.
type History interface {
	// Len is the number of observations kept.
	Len() int
	// AppendLast appends the latest n values, oldest first, to buf.
	AppendLast(buf []float64, n int) []float64
	// Slope is the least-squares slope per day over the latest n observations.
	Slope(n int) float64
}

// Scope is what a model adds to every evaluation: its business constants and
// stakes. Build one per model at load time with NewScope.
type Scope struct {
	Business map[string]float64
	Stakes   string
}

// NewScope returns the scope of a model.
func NewScope(business map[string]float64, stakes string) *Scope {
	return &Scope{Business: business, Stakes: stakes}
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
	// OverBudget: evaluation was stopped for taking more than a rule's
	// budget of steps or memory on this event: the rule is at fault, not
	// the event, and its owner must hear of it.
	OverBudget
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
	case OverBudget:
		be, _ := overBudget(v.err)
		return fmt.Sprintf("evaluation stopped %s (at %s)", be.Error(), position(v.err))
	}
	return ""
}

// Evaluator runs programs against one event at a time. It reuses its VM and
// environment between calls, so it is not safe for concurrent use: keep one
// per goroutine.
type Evaluator struct {
	machine vm.VM
	vars    evalEnv // the bound event's environment
	// env is vars boxed for the VM, once per event and only when a program
	// runs: the VM reads the fields of a struct held by value without
	// copying them, where one behind a pointer would be copied field by
	// field. Nil until then.
	env   any
	ev    *signal.Event
	scope *Scope
	has   fieldSet
	run   runState
}

// NewEvaluator returns an Evaluator with the history functions installed
// and the budget set.
func NewEvaluator() *Evaluator {
	e := &Evaluator{}
	e.machine.MemoryBudget = MaxItems
	return e
}

// Bind sets the event, the model's scope and the series history for the next
// calls, and builds the environment every program of the model reads.
func (e *Evaluator) Bind(ev *signal.Event, scope *Scope, hist History) {
	e.ev, e.scope, e.run.h, e.env = ev, scope, hist, nil
	// Absent optional fields get their zero value: rules reading them are
	// stopped before running (Missing), but explanations may still look.
	e.vars = evalEnv{
		Model: ev.Model, Kind: ev.Kind, Metric: ev.Metric, Value: ev.Value, ObservedAt: ev.ObservedAt,
		Version: ev.Version, Environment: ev.Environment, Feature: ev.Feature, Segment: ev.Segment,
		Labels: ev.Labels, Lineage: ev.Lineage, Business: scope.Business, Stakes: scope.Stakes, Run: &e.run,
	}
	var has fieldSet = 1<<fModel | 1<<fKind | 1<<fMetric | 1<<fValue | 1<<fObservedAt | 1<<fLabels | 1<<fLineage
	set := func(f int, ok bool) {
		if ok {
			has |= 1 << f
		}
	}
	set(fVersion, ev.Version != "")
	set(fEnvironment, ev.Environment != "")
	set(fFeature, ev.Feature != "")
	set(fSegment, ev.Segment != "")
	if ev.Baseline != nil {
		has |= 1 << fBaseline
		e.vars.Baseline = *ev.Baseline
	}
	if ev.SampleSize != nil {
		has |= 1 << fSampleSize
		e.vars.SampleSize = int(*ev.SampleSize)
	}
	if ev.WindowStart != nil {
		has |= 1 << fWindowStart
		e.vars.WindowStart = *ev.WindowStart
	}
	if ev.WindowEnd != nil {
		has |= 1 << fWindowEnd
		e.vars.WindowEnd = *ev.WindowEnd
	}
	e.has = has
}

// boxed returns the environment for the VM, boxing it on the event's
// first run.
func (e *Evaluator) boxed() any {
	if e.env == nil {
		e.env = e.vars
	}
	return e.env
}

// precheck runs only the cheap checks (filters, missing fields, history)
// and sets the verdict they reach, or True when the program must run.
func (e *Evaluator) precheck(v *Verdict, p *Program) {
	*v = Verdict{Outcome: True, p: p, ev: e.ev}
	for i := range p.filters {
		f := &p.filters[i]
		got := fieldString(e.ev, f.field)
		ok := false
		for _, want := range f.values {
			if got == want {
				ok = true
				break
			}
		}
		if !ok {
			v.Outcome, v.filter = OtherSeries, f
			return
		}
	}
	if missing := p.needs &^ e.has; missing != 0 {
		for f := range numFields {
			if missing&(1<<f) != 0 {
				v.Outcome, v.field = Missing, f
				return
			}
		}
	}
	if p.history > 0 && (e.run.h == nil || e.run.h.Len() < p.history) {
		v.Outcome = ShortHistory
		if e.run.h != nil {
			v.have = e.run.h.Len()
		}
	}
}

// Eval evaluates p against the bound event.
func (e *Evaluator) Eval(p *Program) Verdict {
	var v Verdict
	e.EvalInto(&v, p)
	return v
}

// EvalInto is Eval writing the verdict in place: a Verdict is several
// words, and copying one per rule showed in the time of a model's rules.
func (e *Evaluator) EvalInto(v *Verdict, p *Program) {
	if e.precheck(v, p); v.Outcome != True {
		return
	}
	e.run.start(MaxCost - p.cost)
	out, err := e.machine.Run(p.prog, e.boxed())
	if err != nil {
		v.Outcome, v.err = Failed, err
		if _, ok := overBudget(err); ok {
			v.Outcome = OverBudget
		}
		return
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

// CheckPlaceholder reports whether name may appear as {{name}} in a summary:
// an event field, a label or lineage entry (labels.detector), or one of
// Placeholders. Whole maps are refused: they would render as Go syntax.
func CheckPlaceholder(name string, business map[string]float64) error {
	for _, m := range []string{"labels", "lineage"} {
		if key, ok := strings.CutPrefix(name, m+"."); ok && key != "" {
			return nil
		}
		if name == m {
			return fmt.Errorf("{{%s}} is a map: name one entry, like {{%s.detector}}", m, m)
		}
	}
	if key, ok := strings.CutPrefix(name, "business."); ok {
		if _, ok := business[key]; !ok {
			return fmt.Errorf("unknown business constant %q%s", key, suggest(key, slices.Sorted(maps.Keys(business))))
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
	return fmt.Errorf("unknown placeholder {{%s}}%s (use an event field, labels.<key>, lineage.<key>, model, rule, stakes, impact or business.<name>)", name, suggest(name, all))
}
