package engine

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stakeout-ml/stakeout/internal/config"
	"github.com/stakeout-ml/stakeout/internal/expression"
	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

const owner = `id: team
slack: {channel: C0TEAM0001}
pagerduty: {routing_key: "secret:stakeout/pagerduty/team"}
`

// load builds a one-model configuration from the given rules YAML.
func load(tb testing.TB, rules string) *config.Model {
	tb.Helper()
	model := "model: m\nstakes: critical\nowners: {data: team, model: team, platform: team, product: team}\n" +
		"business: {daily: 1000}\nexpect: [{kind: drift, every: 1d}]\nrules:\n" + rules
	cfg, err := config.LoadFS(fstest.MapFS{
		"rules/m.yaml":     {Data: []byte(model)},
		"owners/team.yaml": {Data: []byte(owner)},
	}, ".")
	if err != nil {
		tb.Fatal(err)
	}
	if errs := cfg.Errors(); len(errs) > 0 {
		tb.Fatalf("config errors: %v", errs)
	}
	return cfg.Models["m"]
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func drift(v float64, at time.Duration) signal.Event {
	return signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "income", Value: v, ObservedAt: t0.Add(at)}
}

func statuses(t *testing.T, m *config.Model, events ...signal.Event) []string {
	t.Helper()
	eng, st := New(), &series.State{}
	var out []string
	for i := range events {
		res := eng.Observe(m, &events[i], st, nil)
		out = append(out, res[0].Status.String())
	}
	return out
}

func TestForCount(t *testing.T) {
	m := load(t, "  - {name: r, when: 'value > 0.2', for: 3, severity: high, owner: data}\n")
	got := statuses(t, m, drift(0.3, 0), drift(0.3, time.Hour), drift(0.1, 2*time.Hour), drift(0.3, 3*time.Hour),
		drift(0.3, 4*time.Hour), drift(0.3, 5*time.Hour))
	want := "pending pending clear pending pending firing"
	if strings.Join(got, " ") != want {
		t.Errorf("statuses = %v, want %s (a clean reading restarts the count)", got, want)
	}
}

// At-least-once delivery: the same reading three times is one breach, and
// a late clean reading does not reset a streak built on newer ones.
func TestRedeliveryAndLateEvents(t *testing.T) {
	m := load(t, "  - {name: r, when: 'value > 0.2', for: 3, severity: high, owner: data}\n")
	got := statuses(t, m, drift(0.3, 0), drift(0.3, 0), drift(0.3, 0), drift(0.3, time.Hour), drift(0.1, 30*time.Minute), drift(0.3, 2*time.Hour))
	if want := "pending pending pending pending clear firing"; strings.Join(got, " ") != want {
		t.Errorf("statuses = %v, want %s", got, want)
	}
}

func TestLateResultsAreMarked(t *testing.T) {
	m := load(t, "  - {name: r, when: 'value > 0.2', severity: high, owner: data}\n")
	eng, st := New(), &series.State{}
	var late []bool
	for _, ev := range []signal.Event{drift(0.3, time.Hour), drift(0.3, time.Hour), drift(0.1, 0), drift(0.1, 2*time.Hour)} {
		late = append(late, eng.Observe(m, &ev, st, nil)[0].Late)
	}
	if want := []bool{false, true, true, false}; !slices.Equal(late, want) {
		t.Errorf("Late = %v, want %v (a redelivery and an older reading are late)", late, want)
	}
}

func TestForDuration(t *testing.T) {
	m := load(t, "  - {name: r, when: 'value > 0.2', for: 2h, severity: high, owner: data}\n")
	got := statuses(t, m, drift(0.3, 0), drift(0.3, time.Hour), drift(0.3, 2*time.Hour))
	if want := "pending pending firing"; strings.Join(got, " ") != want {
		t.Errorf("statuses = %v, want %s", got, want)
	}
}

func TestOtherSeriesLeavesStreakAlone(t *testing.T) {
	m := load(t, "  - {name: r, when: 'kind == \"drift\" && value > 0.2', for: 2, severity: high, owner: data}\n")
	eng, st := New(), &series.State{}
	ev := drift(0.3, 0)
	eng.Observe(m, &ev, st, nil)
	q := signal.Event{Model: "m", Kind: "quality", Metric: "auc", Value: 0.1, ObservedAt: t0.Add(time.Hour)}
	if got := eng.Observe(m, &q, &series.State{}, nil)[0].Status; got != Skipped {
		t.Errorf("quality event status = %v, want skipped", got)
	}
	ev = drift(0.3, 2*time.Hour)
	if got := eng.Observe(m, &ev, st, nil)[0].Status; got != Firing {
		t.Errorf("second drift breach status = %v, want firing", got)
	}
}

func TestSummaryPlaceholders(t *testing.T) {
	m := load(t, "  - {name: r, when: 'value > 0.2', severity: high, owner: data, summary: '{{labels.detector}} says {{value}} on {{feature}} ({{segment}})'}\n")
	ev := drift(0.3, 0)
	ev.Labels = map[string]string{"detector": "nannyml"}
	res := New().Observe(m, &ev, &series.State{}, nil)[0]
	if got, want := Summary(m, m.Rules[0], &ev, &res), "nannyml says 0.3 on income (-)"; got != want {
		t.Errorf("Summary = %q, want %q (an absent segment shows as -)", got, want)
	}
}

func TestImpactAndSummary(t *testing.T) {
	m := load(t, "  - {name: r, when: 'baseline - value > 0.03', severity: critical, owner: model,"+
		" impact: '(baseline - value) * business.daily', summary: 'accuracy {{value}} vs {{baseline}}, {{impact}}/day on {{model}}'}\n")
	b := 0.9
	ev := signal.Event{Model: "m", Kind: "quality", Metric: "accuracy", Value: 0.8, Baseline: &b, ObservedAt: t0}
	res := New().Observe(m, &ev, &series.State{}, nil)[0]
	if res.Status != Firing || !res.HasImpact {
		t.Fatalf("Observe = %v (impact %v), want firing with impact", res.Status, res.HasImpact)
	}
	if got, want := Summary(m, m.Rules[0], &ev, &res), "accuracy 0.8 vs 0.9, 100/day on m"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
	// {{impact}} reads as every text shows an impact: rounded, with
	// thousands separators, never float noise.
	ev.Value = 0.87
	m.Business["daily"] = 1_600_000 // (0.9 - 0.87) * 1.6M = 48000.00000000004
	res = New().Observe(m, &ev, &series.State{}, nil)[0]
	if got, want := Summary(m, m.Rules[0], &ev, &res), "accuracy 0.87 vs 0.9, 48,000/day on m"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

// benchModel has 20 rules as a real model would: per-feature drift rules,
// quality rules against a baseline with impact, freshness, schema and a
// history rule.
func benchModel(b *testing.B) *config.Model {
	var rules strings.Builder
	for i := range 10 {
		fmt.Fprintf(&rules, "  - {name: psi-f%d, when: 'kind == \"drift\" && metric == \"psi\" && feature == \"f%d\" && value > 0.2', for: 3, severity: high, owner: data, summary: 'PSI {{value}} on {{feature}}'}\n", i, i)
	}
	for i := range 5 {
		fmt.Fprintf(&rules, "  - {name: acc-%d, when: 'kind == \"quality\" && metric == \"accuracy\" && baseline - value > 0.0%d', severity: critical, owner: model, impact: '(baseline - value) * business.daily'}\n", i, i+1)
	}
	rules.WriteString("  - {name: any-drift, when: 'kind == \"drift\" && value > 0.5', severity: warning, owner: model}\n")
	rules.WriteString("  - {name: trend, when: 'kind == \"drift\" && metric == \"psi\" && mean(last(5)) > 0.15', severity: warning, owner: model}\n")
	rules.WriteString("  - {name: lag, when: 'kind == \"freshness\" && value > 7200', severity: high, owner: data}\n")
	rules.WriteString("  - {name: schema, when: 'kind == \"schema\" && value > 0', severity: critical, owner: data}\n")
	rules.WriteString("  - {name: nulls, when: 'kind == \"data_quality\" && metric == \"null_rate\" && value > 0.05', severity: high, owner: data}\n")
	return load(b, rules.String())
}

// BenchmarkEvaluate: all rules of one model (20 rules) against one event.
// Target: ≤ 5 µs and ≤ 10 allocations per event.
func BenchmarkEvaluate(b *testing.B) {
	benchObserve(b, benchModel(b))
}

// BenchmarkEvaluateUnfiltered is the worst case: 20 rules with no
// kind/metric filter, so every rule runs in the VM. Reported, no target.
func BenchmarkEvaluateUnfiltered(b *testing.B) {
	var rules strings.Builder
	for i := range 20 {
		fmt.Fprintf(&rules, "  - {name: r%d, when: 'value > 0.%02d && value < 10', severity: high, owner: data}\n", i, i+10)
	}
	benchObserve(b, load(b, rules.String()))
}

// benchObserve feeds one drift reading per minute of the same series.
func benchObserve(b *testing.B, m *config.Model) {
	eng, st := New(), &series.State{}
	ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "f3", Value: 0.3, ObservedAt: t0}
	buf := make([]Result, 0, len(m.Rules))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev.ObservedAt = t0.Add(time.Duration(i) * time.Minute)
		buf = eng.Observe(m, &ev, st, buf[:0])
	}
}

// A late breaching reading, arriving after a clean newer one, starts no
// streak: otherwise the next breach would count it and fire a for: 2 rule
// on one breach of the present.
func TestLateBreachStartsNoStreak(t *testing.T) {
	m := load(t, "  - {name: r, when: 'value > 0.2', for: 2, severity: high, owner: data}\n")
	got := statuses(t, m, drift(0.1, 2*time.Hour), drift(0.3, time.Hour), drift(0.3, 3*time.Hour))
	if want := "clear pending pending"; strings.Join(got, " ") != want {
		t.Errorf("statuses = %v, want %s (the late breach at 1h must not count toward for:)", got, want)
	}
}

// A rule over its budget on an event is a rule error, and the other rules
// of the model are evaluated all the same.
func TestRuleOverBudgetIsAnError(t *testing.T) {
	m := load(t, "  - {name: every-pair, when: 'all(lineage.xs, {all(lineage.xs, {# >= 0})})', severity: high, owner: data}\n"+
		"  - {name: r, when: 'value > 0.2', severity: high, owner: data}\n")
	xs := make([]any, 5000)
	for i := range xs {
		xs[i] = float64(i)
	}
	ev := drift(0.3, 0)
	ev.Lineage = map[string]any{"xs": xs}
	res := New().Observe(m, &ev, &series.State{}, nil)
	if got := res[0].Status; got != RuleError {
		t.Errorf("over-budget rule: Status = %v (%s), want error", got, res[0].Verdict.Reason())
	}
	if !strings.Contains(res[0].Verdict.Reason(), "over budget") {
		t.Errorf("over-budget rule: Reason() = %q, want it to say over budget", res[0].Verdict.Reason())
	}
	if got := res[1].Status; got != Firing {
		t.Errorf("the other rule: Status = %v, want firing", got)
	}
	ev = drift(0.3, time.Hour)
	ev.Lineage = map[string]any{"xs": xs[:10]}
	if got := New().Observe(m, &ev, &series.State{}, nil)[0].Status; got != Firing {
		t.Errorf("same rule on a small list: Status = %v, want firing", got)
	}
}

// largest is the largest n for which shape(n) compiles and evaluates to
// true within the budget on ev.
func largest(b *testing.B, shape func(int) string, typ expression.Type, ev *signal.Event) int {
	c, e := expression.NewCompiler(map[string]float64{"daily": 1000}), expression.NewEvaluator()
	e.Bind(ev, expression.NewScope(nil, "critical"), &series.State{})
	best := 0
	for lo, hi := 1, 1<<20; lo <= hi; {
		mid := (lo + hi) / 2
		if p, err := c.Compile(shape(mid), typ); err == nil && e.Eval(p).Outcome == expression.True {
			best, lo = mid, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best == 0 {
		b.Fatalf("no size of %q evaluates within the budget", shape(1))
	}
	return best
}

// BenchmarkWorstRule is one rule at its worst on one event, as the router
// runs it: a condition that holds, just within the budget, on the largest
// event EventBridge delivers (256 KB: a lineage list of 20,000 numbers); an
// impact just within the budget; and the explanation of the breach.
// Target: ≤ 50 ms and ≤ 64 MB allocated per event (the router's Lambda has
// 256 MB and 30 s for every rule of the model).
func BenchmarkWorstRule(b *testing.B) {
	xs := make([]any, 20000)
	for i := range xs {
		xs[i] = float64(i)
	}
	ev := drift(0.3, 0)
	ev.Lineage = map[string]any{"xs": xs}
	when := func(n int) string { return fmt.Sprintf(`value > 0 && all(1..%d, {all(lineage.xs, {# >= 0})})`, n) }
	impact := func(n int) string { return fmt.Sprintf(`reduce(1..%d, {#acc + # * 1.5 - value / 2}, 0.0)`, n) }
	m := load(b, fmt.Sprintf("  - {name: worst, when: '%s', impact: '%s', severity: critical, owner: model}\n",
		when(largest(b, when, expression.Bool, &ev)), impact(largest(b, impact, expression.Number, &ev))))
	eng, st := New(), &series.State{}
	buf := make([]Result, 0, 1)
	b.ReportAllocs()
	cpu := cpuTime()
	for i := 0; b.Loop(); i++ {
		ev.ObservedAt = t0.Add(time.Duration(i) * time.Minute)
		buf = eng.Observe(m, &ev, st, buf[:0])
		if buf[0].Status != Firing || !buf[0].HasImpact || eng.Why(m.Rules[0], true) == "" {
			b.Fatalf("Observe = %v (%s), impact %v; want firing with impact, explained", buf[0].Status, buf[0].Verdict.Reason(), buf[0].ImpactErr)
		}
	}
	// CPU time as well as the wall clock's: the machines that run this
	// are often shared.
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
