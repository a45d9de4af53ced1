package engine

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	stakeout "github.com/stakeout-ml/stakeout"
	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// bareRule is a rule's expressions compiled by expr alone: no filters,
// no budget, no streaks, no verdicts — what evaluating the rule costs at
// the least.
type bareRule struct {
	when, impact, resolveWhen *vm.Program
}

// bareModel runs a model's expressions as bare expr programs against
// environments built once per event, before any timing.
type bareModel struct {
	rules []bareRule
	envs  []map[string]any
	hist  *series.State // the series last(n)/slope(n) read
	vm    vm.VM
}

func newBareModel(b *testing.B, m *config.Model, events []signal.Event) *bareModel {
	bm := &bareModel{hist: &series.State{}}
	for i := range 10 {
		bm.hist.Add(series.Observation{At: t0.Add(time.Duration(i) * time.Hour), Value: 0.1 * float64(i)}, 10)
	}
	for i := range events {
		bm.envs = append(bm.envs, bareEnv(m, &events[i]))
	}
	opts := func(typ expr.Option) []expr.Option {
		return []expr.Option{
			expr.Env(bm.envs[0]), typ,
			expr.Function("last", func(p ...any) (any, error) { return bm.hist.Last(p[0].(int)), nil }, new(func(int) []float64)),
			expr.Function("slope", func(p ...any) (any, error) { return bm.hist.Slope(p[0].(int)), nil }, new(func(int) float64)),
		}
	}
	compile := func(src string, typ expr.Option) *vm.Program {
		p, err := expr.Compile(src, opts(typ)...)
		if err != nil {
			b.Fatalf("bare expr: %s: %v", src, err)
		}
		return p
	}
	for _, r := range m.Rules {
		br := bareRule{when: compile(r.When.Source, expr.AsBool())}
		if r.Impact != nil {
			br.impact = compile(r.Impact.Source, expr.AsFloat64())
		}
		if r.ResolveWhen != nil {
			br.resolveWhen = compile(r.ResolveWhen.Source, expr.AsBool())
		}
		bm.rules = append(bm.rules, br)
	}
	return bm
}

// bareEnv is the environment of one event: every field, absent ones at
// their zero value.
func bareEnv(m *config.Model, ev *signal.Event) map[string]any {
	env := map[string]any{
		"model": ev.Model, "kind": ev.Kind, "metric": ev.Metric, "value": ev.Value, "observed_at": ev.ObservedAt,
		"version": ev.Version, "environment": ev.Environment, "baseline": 0.0, "feature": ev.Feature, "segment": ev.Segment,
		"sample_size": 0, "window_start": time.Time{}, "window_end": time.Time{},
		"labels": ev.Labels, "lineage": ev.Lineage, "business": m.Business, "stakes": m.Stakes,
	}
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
	return env
}

// run evaluates the expressions the engine would for event i: every
// condition, the impact of those that hold, the resolve_when of those
// that do not. Errors count as not holding.
func (bm *bareModel) run(i int) {
	env := bm.envs[i]
	for _, r := range bm.rules {
		out, err := bm.vm.Run(r.when, env)
		switch {
		case err == nil && out == true && r.impact != nil:
			bm.vm.Run(r.impact, env)
		case err == nil && out == false && r.resolveWhen != nil:
			bm.vm.Run(r.resolveWhen, env)
		}
	}
}

// testEvents are the events of a model's tests: the readings its owners
// thought worth checking, so the ones its rules are about.
func testEvents(m *config.Model) []signal.Event {
	var evs []signal.Event
	for _, tc := range m.Tests {
		evs = append(evs, tc.Events...)
	}
	return evs
}

// BenchmarkModelVsBare evaluates all the rules of each example model
// through the engine, and the same expressions as bare expr programs with
// each event's environment built once beforehand, on the same events the
// same number of times; it reports the engine's CPU time over bare expr's
// as x-bare. Target: ≤ 1.2 for every model (the engine's filters, budget,
// streaks and verdicts cost at most a fifth more than the expressions
// alone).
func BenchmarkModelVsBare(b *testing.B) {
	cfg, err := config.LoadFS(stakeout.Config, ".")
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Models)) {
		m := cfg.Models[id]
		b.Run(id, func(b *testing.B) { benchVsBare(b, m) })
	}
}

// passes is how many times each side runs through the events between two
// readings of the CPU clock: enough that reading it costs nothing next to
// the work.
const passes = 20

func benchVsBare(b *testing.B, m *config.Model) {
	events := testEvents(m)
	if len(events) == 0 {
		b.Skipf("model %s has no tests to take events from", m.ID)
	}
	bare := newBareModel(b, m, events)
	eng := New()
	states := make([]series.State, len(events))
	buf := make([]Result, 0, len(m.Rules))
	// Each pass is a later reading of every series, so streaks grow and
	// history moves as in production; the readings of a batch of passes
	// are made before its clock starts.
	batch := make([][]signal.Event, passes)
	for p := range batch {
		batch[p] = slices.Clone(events)
	}
	var engCPU, bareCPU time.Duration
	round := 0
	b.ReportAllocs()
	for b.Loop() {
		for p := range batch {
			round++
			for i := range events {
				batch[p][i].ObservedAt = events[i].ObservedAt.Add(time.Duration(round) * time.Minute)
			}
		}
		// The two sides take turns, so that whatever else runs on the
		// machine slows both alike.
		t := cpuTime()
		for p := range batch {
			for i := range batch[p] {
				buf = eng.Observe(m, &batch[p][i], &states[i], buf[:0])
			}
		}
		t2 := cpuTime()
		for range passes {
			for i := range events {
				bare.run(i)
			}
		}
		engCPU, bareCPU = engCPU+t2-t, bareCPU+cpuTime()-t2
	}
	n := float64(b.N * passes * len(events))
	b.ReportMetric(float64(engCPU.Nanoseconds())/n, "engine-ns/event")
	b.ReportMetric(float64(bareCPU.Nanoseconds())/n, "bare-ns/event")
	b.ReportMetric(float64(engCPU)/float64(bareCPU), "x-bare")
}
