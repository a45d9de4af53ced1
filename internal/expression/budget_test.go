package expression

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// list is a literal of n numbers.
func list(n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// The rule — nested all() over 300-item literals — ran for over
// a minute; validate now rejects it, pointing at the outer loop.
func TestCompileRejectsRulesOverBudget(t *testing.T) {
	l300 := list(300)
	for _, tc := range []struct {
		name, src, want string
		off             int
	}{
		{"nested loops over literals", `value > 0 && all(` + l300 + `, {all(` + l300 + `, {all(` + l300 + `, {value > -1})})})`,
			"estimated 108", 13},
		{"nested loops over ranges", `all(1..1000, {all(1..1000, {# > 0})})`, "all() runs its predicate for each of 1000 items", 0},
		{"loops over history", `all(last(500), {all(last(500), {all(last(500), {# > 0})})})`, "more than the 250000 an expression may take", 0},
		{"a loop body over budget whatever the list", `any(lineage.xs, {all(1..2000, {all(1..2000, {# > 0})})})`, "steps", 0},
		{"constant work over budget", `let a = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; let j = i + i; let k = j + j; let l = k + k; let m = l + l; let n = m + m; let o = n + n; let p = o + o; let q = p + p; let r = q + q; let s = r + r; let u = s + s; len(u) > 0`,
			"steps for this event, whatever the event", 0},
		{"lists built over budget", `len(1..500000) > 0`, "lists of more than 100000 items", 0},
		{"list literal too long", `value in ` + list(501), "this list has 501 items, more than the 500", 9},
		{"string literal too long", `labels.x == "` + strings.Repeat("x", 1025) + `"`, "1025 bytes long, more than the 1024", 12},
		{"too many nodes", `value > 0` + strings.Repeat(" && value > 0", 400), "more than 1000 parts", 0},
		{"builtin that builds", `len(repeat(labels.x, 1000000)) > 0`, "repeat() is not available in rules", 4},
		{"builtin quadratic in the event's list", `len(uniq(lineage.xs)) > 0`, "uniq() is not available in rules", 4},
		{"builtin that serialises", `len(toJSON(lineage)) > 0`, "toJSON() is not available", 4},
		{"pattern from the event", `labels.x matches labels.y`, "matches needs its pattern written as a literal string", 24},
		{"cutset from the event", `trim(labels.x, labels.y) == ""`, "trim needs the characters to trim written as a literal string", 22},
		{"reserved name", `__run__ == nil`, `unknown name "__run__"`, 0},
		{"reserved let name", `let __charge__ = 1; 2 > 1`, "reserved", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCompiler(business).Compile(tc.src, Bool)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%.60q) error = %v, want *Error", tc.src, err)
			}
			if !strings.Contains(e.Msg, tc.want) {
				t.Errorf("Compile(%.60q) message = %q, want it to contain %q", tc.src, e.Msg, tc.want)
			}
			if tc.off != 0 && e.Offset != tc.off {
				t.Errorf("Compile(%.60q) offset = %d, want %d", tc.src, e.Offset, tc.off)
			}
		})
	}
}

// Rules the budget must leave alone: what the examples and the README use.
func TestCompileAcceptsOrdinaryRules(t *testing.T) {
	for _, src := range []string{
		`kind == "drift" && metric == "psi" && feature == "income" && value > 0.25`,
		`kind == "quality" && slope(30) < -0.001 && mean(last(30)) < 0.8`,
		`all(last(500), {# > 0.2}) && any(last(500), {# > 0.5})`,
		`feature in ["` + strings.Repeat(`a", "`, MaxListLiteral-1) + `b"] || labels.detector matches "^nanny"`,
		`lineage.training_data == "s3://bucket/2025" && lineage.tags != labels.tags && "x" in lineage.tags`,
		`all(last(100), {all(last(100), {# >= 0})})`,
		`any(lineage.tags, {# == "backfill"}) && len(split(labels.jobs, ",")) > 3`,
		`date(lineage.trained_through) < observed_at - duration("2160h")`,
	} {
		if _, err := NewCompiler(business).Compile(src, Bool); err != nil {
			t.Errorf("Compile(%.60q) = %v, want it accepted", src, err)
		}
	}
}

// What only the event tells is charged as the rule runs: the same rule is
// evaluated on a small event and stopped on a large one.
func TestEvalStopsOverBudget(t *testing.T) {
	small, large := make([]any, 10), make([]any, 20000)
	for i := range large {
		large[i] = float64(i)
	}
	for i := range small {
		small[i] = float64(i)
	}
	for _, tc := range []struct{ name, src string }{
		{"nested loops over an event list", `all(lineage.xs, {all(lineage.xs, {# >= 0})})`},
		{"loop over a list in a loop", `all(1..100, {any(lineage.xs, {# < 0}) == false})`},
		{"string doubling", `let a = lineage.s; let b = a + a; let c = b + b; let d = c + c; let e = d + d; let f = e + e; let g = f + f; let h = g + g; let i = h + h; let j = i + i; len(j) > 0`},
		{"splitting in a loop", `all(1..1000, {len(split(lineage.s, "")) > 0})`},
		{"lists built in a loop", `all(1..1000, {len(map(lineage.xs, {#})) > 0})`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.src, Bool)
			e := NewEvaluator()
			ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Value: 1, ObservedAt: t0,
				Lineage: map[string]any{"xs": small, "s": "abc"}}
			e.Bind(&ev, NewScope(business, "low"), nil)
			if v := e.Eval(p); v.Outcome != True {
				t.Errorf("Eval on a small event = %v (%s), want True", v.Outcome, v.Reason())
			}
			ev.Lineage = map[string]any{"xs": large, "s": strings.Repeat("abcdefgh", 100000/8)}
			e.Bind(&ev, NewScope(business, "low"), nil)
			v := e.Eval(p)
			if v.Outcome != OverBudget {
				t.Fatalf("Eval on a large event = %v (%s), want OverBudget", v.Outcome, v.Reason())
			}
			if !strings.Contains(v.Reason(), "over budget") || !strings.Contains(v.Reason(), "at 1:") {
				t.Errorf("Reason() = %q, want it to say over budget and where", v.Reason())
			}
		})
	}
}

// Lists are compared item by item under the budget, and a list that
// holds itself many times over neither hangs an equality nor prints in
// full in an explanation; nor does a long list.
func TestNestedListsAreBounded(t *testing.T) {
	long := make([]any, 20000)
	for i := range long {
		long[i] = float64(i)
	}
	ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Value: 1, ObservedAt: t0, Lineage: map[string]any{"xs": long}}
	nested := `reduce(1..60, {[#acc, #acc]}, [lineage.xs])`
	for _, tc := range []struct {
		src  string
		want Outcome
	}{
		{`let x = ` + nested + `; let y = ` + nested + `; x == y`, OverBudget},
		{`let x = ` + nested + `; let y = ` + nested + `; x != y`, OverBudget},
		{`let x = ` + nested + `; [x] in [[x]]`, OverBudget},
		{`let x = reduce(1..3, {[#acc, #acc]}, [1]); let y = reduce(1..3, {[#acc, #acc]}, [1.0]); x == y && !(x != y) && x in [y]`, True},
		{`[1, 2] == [1.0, 2.0] && [1, [2]] != [1, [3]] && [2] in [[1], [2]]`, True},
		{`{"a": [1, {"b": 2}]} == {"a": [1, {"b": 2}]} && {"a": 1} != {"b": 1} && {"a": 1} != {"a": 1, "b": 2} && lineage != {}`, True},
		{`let m = {"a": lineage.xs}; let n = {"a": map(lineage.xs, {#})}; all(1..100, {m == n})`, OverBudget},
		{nested + ` != nil && lineage.xs != [1, 2]`, True},
	} {
		t.Run(tc.src, func(t *testing.T) {
			p := mustCompile(t, tc.src, Bool)
			e := NewEvaluator()
			ev := ev
			e.Bind(&ev, NewScope(business, "low"), nil)
			done := make(chan Verdict, 1)
			go func() { done <- e.Eval(p) }()
			select {
			case v := <-done:
				if v.Outcome != tc.want {
					t.Fatalf("Eval = %v (%s), want %v", v.Outcome, v.Reason(), tc.want)
				}
			case <-time.After(time.Minute):
				t.Fatal("Eval did not return: nested lists compared without a budget")
			}
			if tc.want != True {
				return
			}
			for _, c := range e.Explain(p) {
				if len(c.Text) > 2*maxFormatted+len(p.Source) {
					t.Errorf("clause is %d bytes long: %.100s…", len(c.Text), c.Text)
				}
			}
		})
	}
	for _, v := range []any{long, map[string]any{"a": long, "b": strings.Repeat("é", 1000)}} {
		if got := Format(v); len(got) > maxFormatted+len("…") || !strings.HasSuffix(got, "…") {
			t.Errorf("Format(%T) = %d bytes (%.40s…), want at most %d ending in …", v, len(got), got, maxFormatted)
		}
	}
}
