package expression

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// benchEval evaluates src against one drift reading with a history of 10.
func benchEval(b *testing.B, src string) {
	p, err := NewCompiler(business).Compile(src, Bool)
	if err != nil {
		b.Fatal(err)
	}
	hist := &series.State{}
	for i := range 10 {
		hist.Add(series.Observation{At: t0.Add(time.Duration(i) * time.Hour), Value: 0.1 * float64(i)}, 10)
	}
	ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "f", Value: 0.9, ObservedAt: t0.Add(9 * time.Hour)}
	e := NewEvaluator()
	e.Bind(&ev, NewScope(business, "low"), hist)
	b.ReportAllocs()
	for b.Loop() {
		if v := e.Eval(p); v.Outcome != True {
			b.Fatalf("Eval(%q) = %v (%s), want True", src, v.Outcome, v.Reason())
		}
	}
}

// BenchmarkEvalHistory: a rule calling last(n) twice and slope(n).
// Target: ≤ 1 µs and ≤ 6 allocations per evaluation (the VM boxes each
// list and number; the lists' values reuse one array between evaluations).
func BenchmarkEvalHistory(b *testing.B) {
	benchEval(b, `mean(last(5)) > 0.5 && last(1)[0] > 0.8 && slope(3) > 0`)
}

// BenchmarkEvalFilter: the common rule, a filtered threshold.
// Target: ≤ 300 ns and no allocation per evaluation.
func BenchmarkEvalFilter(b *testing.B) {
	benchEval(b, `kind == "drift" && metric == "psi" && value > 0.25`)
}

// worstRules are rule shapes of a size n: the benchmark takes the largest
// n that passes validation and still evaluates within the budget, against
// the largest event EventBridge delivers (256 KB: a lineage list of 20,000
// numbers and a 100,000-byte string).
var worstRules = map[string]func(n int) string{
	"nested loops over ranges":  sprintf(`all(1..%d, {all(1..100, {# >= 0})})`),
	"nested loops over history": sprintf(`all(last(500), {all(last(%d), {# >= 0})})`),
	"nested loops over literals": func(n int) string {
		list := func(n int) string { return "[" + strings.Repeat("1, ", n-1) + "1]" }
		return fmt.Sprintf(`all(%s, {all(%s, {# >= 0})})`, list(MaxListLiteral), list(min(n, MaxListLiteral)))
	},
	"loop over event data":  sprintf(`all(1..%d, {all(lineage.xs, {# >= 0})})`),
	"string doubling":       sprintf(`let a = lineage.s + "%d"; let b = a + a; let c = b + b; let d = c + c; let e = d + d; len(e) > 0`),
	"split into bytes":      sprintf(`all(1..%d, {len(split(lineage.s, "")) > 0})`),
	"dates in a loop":       sprintf(`all(1..%d, {date("2025-01-01T00:00:00Z") < observed_at})`),
	"sorting in a loop":     sprintf(`all(1..%d, {median(lineage.xs) >= 0})`),
	"lists built in a loop": sprintf(`all(1..%d, {len(map(lineage.xs, {# + 1})) > 0})`),
	"regexp on event data":  sprintf(`all(1..%d, {lineage.s matches "^(a|b|c|d|e|f|g|h)+$"})`),
	"upper in a loop":       sprintf(`all(1..%d, {len(upper(lineage.s)) > 0})`),
	"deep equality":         sprintf(`all(1..%d, {lineage.xs == lineage.ys})`),
	"arithmetic in reduce":  sprintf(`reduce(1..%d, {#acc + # * 1.5 - value / 2}, 0.0) > 0`),
	"arithmetic in map":     sprintf(`len(map(1..%d, {# * 1.5 - value / 2 + 1.0 * #})) > 0`),
	"history in a loop":     sprintf(`all(1..%d, {last(500)[0] > -1 && slope(500) > -1})`),
	"maps built in a loop":  sprintf(`all(1..%d, {{"a": #, "b": lineage, "c": value}.a > 0})`),
	"lists in a loop":       sprintf(`all(1..%d, {[#, value, lineage.xs][0] > 0})`),
	"trimming in a loop":    sprintf(`all(1..%d, {len(trim(lineage.s, "äöüabcdefgh")) == 0})`),
}

func sprintf(format string) func(int) string {
	return func(n int) string { return fmt.Sprintf(format, n) }
}

// worst returns the rule of the shape with the largest n that compiles
// and evaluates within the budget.
func worst(tb testing.TB, shape func(int) string, e *Evaluator) *Program {
	c := NewCompiler(business)
	var best *Program
	for lo, hi := 1, 1<<20; lo <= hi; {
		mid := (lo + hi) / 2
		if p, err := c.Compile(shape(mid), Bool); err == nil && e.Eval(p).Outcome != OverBudget {
			best, lo = p, mid+1
		} else {
			hi = mid - 1
		}
	}
	if best == nil {
		tb.Fatalf("no size of %.80q evaluates within the budget", shape(1))
	}
	return best
}

func worstEvent() signal.Event {
	xs, ys := make([]any, 20000), make([]any, 20000)
	for i := range xs {
		xs[i], ys[i] = float64(i), float64(i)
	}
	return signal.Event{Model: "m", Kind: "drift", Metric: "psi", Value: 0.4, ObservedAt: t0,
		Lineage: map[string]any{"s": strings.Repeat("abcdefgh", 100000/8), "xs": xs, "ys": ys}}
}

// BenchmarkWorstRule evaluates the worst rules that pass validation.
// Target: each ≤ 50 ms and ≤ 64 MB allocated per evaluation (the router's
// Lambda has 256 MB and 30 s for every rule of the model).
func BenchmarkWorstRule(b *testing.B) {
	hist := &series.State{}
	for i := range MaxHistory {
		hist.Add(series.Observation{At: t0.Add(time.Duration(i-MaxHistory) * time.Hour), Value: float64(i)}, MaxHistory)
	}
	for _, name := range slices.Sorted(maps.Keys(worstRules)) {
		b.Run(name, func(b *testing.B) {
			ev := worstEvent()
			e := NewEvaluator()
			e.Bind(&ev, NewScope(business, "low"), hist)
			p := worst(b, worstRules[name], e)
			b.ReportAllocs()
			var v Verdict
			cpu := cpuTime()
			for b.Loop() {
				v = e.Eval(p)
			}
			// CPU time as well as the wall clock's: the machines that
			// run this are often shared.
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(p.cost+e.run.spent), "steps")
			if v.Outcome != True && v.Outcome != False {
				b.Errorf("Eval(%.80q) = %v (%s), want it evaluated", p.Source, v.Outcome, v.Reason())
			}
		})
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
