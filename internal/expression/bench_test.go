package expression

import (
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
