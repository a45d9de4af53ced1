package expression

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

// FuzzRule compiles arbitrary expressions and evaluates those that compile
// against an event with arbitrary lineage, then explains them: nothing
// may panic, a compile error is a message (not a stack trace), and an
// evaluation that was not stopped stayed within the budget.
func FuzzRule(fz *testing.F) {
	lineage := `{"xs": [1, 2, 3], "s": "abc", "m": {"a": [1, [2]]}, "n": null}`
	for _, src := range []string{
		`kind == "drift" && metric == "psi" && feature == "income" && value > 0.25`,
		`baseline - value > 0.03 && business.daily_decisions > 0`,
		`mean(last(5)) > 0.15 && slope(3) < 0`,
		`let a = last(3); let b = last(1); a[0] != b[0]`,
		`all(lineage.xs, {all(lineage.xs, {# >= 0})})`,
		`let a = lineage.s; let b = a + a; let c = b + b; len(c) > 0`,
		`any(split(lineage.s, ""), {# in ["a", "b"]}) && lineage.m == {"a": [1, [2]]}`,
		`reduce(1..10, {[#acc, #acc]}, [1]) != nil`,
		`lineage.s matches "^a+$" || trim(lineage.s, "ab") == "c" || upper(lineage.s) startsWith "A"`,
		`date("2025-01-01T00:00:00Z") < observed_at && duration("1h") > duration("1m")`,
		`sort(lineage.xs)[0] == median(lineage.xs) - 1 ? true : labels.x == ""`,
		`len(map(1..1000, {# * 1.5})) > 0 && count(1..100, {# % 2 == 0}) == 50`,
		`[1, 2] in [[1, 2]] && lineage.xs[1:2] == [2]`,
	} {
		fz.Add(src, lineage)
	}
	fz.Fuzz(func(t *testing.T, src, lineageJSON string) {
		p, err := NewCompiler(business).Compile(src, Bool)
		if err != nil {
			if strings.Contains(err.Error(), "goroutine ") {
				t.Fatalf("Compile(%q) failed with a stack trace: %v", src, err)
			}
			return
		}
		var lin map[string]any
		if len(lineageJSON) <= 64<<10 {
			_ = json.Unmarshal([]byte(lineageJSON), &lin)
		}
		hist := &series.State{}
		for i := range 10 {
			hist.Add(series.Observation{At: t0.Add(time.Duration(i) * time.Hour), Value: float64(i)}, MaxHistory)
		}
		ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "income", Value: 0.4, Baseline: f(0.5),
			ObservedAt: t0.Add(9 * time.Hour), Labels: map[string]string{"x": "y"}, Lineage: lin}
		e := NewEvaluator()
		e.Bind(&ev, NewScope(business, "high"), hist)
		v := e.Eval(p)
		if v.Outcome != OverBudget && p.cost+e.run.spent > MaxCost {
			t.Errorf("Eval(%q) = %v after %d steps, more than %d", src, v.Outcome, p.cost+e.run.spent, MaxCost)
		}
		if v.Outcome == OverBudget && !strings.Contains(v.Reason(), "over budget") {
			t.Errorf("Eval(%q) over budget, Reason() = %q", src, v.Reason())
		}
		_ = fmt.Sprint(v.Reason())
		if v.Outcome == True || v.Outcome == False {
			for _, c := range e.Explain(p) {
				if len(c.Text) > 4*maxFormatted+2*len(src)+100 {
					t.Errorf("Explain(%q): clause of %d bytes", src, len(c.Text))
				}
			}
		}
	})
}
