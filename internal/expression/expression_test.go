package expression

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stakeout-ml/stakeout/internal/series"
	"github.com/stakeout-ml/stakeout/internal/signal"
)

var business = map[string]float64{"daily_decisions": 20000, "cost_usd": 900}

func mustCompile(t *testing.T, src string, typ Type) *Program {
	t.Helper()
	p, err := NewCompiler(business).Compile(src, typ)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		src     string
		typ     Type
		wantMsg string
		wantOff int
	}{
		{"syntax error", `value > > 1`, Bool, "unexpected token", 8},
		{"unknown name with suggestion", `valeu > 1`, Bool, `unknown name "valeu" (did you mean "value"?)`, 0},
		{"type error", `kind > 3`, Bool, "mismatched types", 5},
		{"when must be boolean", `value * 2`, Bool, "expected bool", 0},
		{"impact must be a number", `value > 2`, Number, "expected float64", 0},
		{"unknown business constant", `value * business.daily_decison`, Number, `unknown business constant "daily_decison" (did you mean "daily_decisions"?)`, 17},
		{"dynamic business key", `business[kind] > 1`, Bool, "named literally", 8},
		{"last needs a literal", `mean(last(sample_size)) > 1`, Bool, "whole number", 10},
		{"slope needs two points", `slope(1) < 0`, Bool, "between 2 and 500", 6},
		{"history too long", `mean(last(501)) > 0`, Bool, "between 1 and 500", 10},
		{"now is disabled", `observed_at < now()`, Bool, "unknown name", 14},
		// A key computed at run time escapes the check that an optional
		// field is present: it would read 0 for an absent baseline and fire.
		{"dynamic $env key", `let f = "baseline"; $env[f] - value < 0`, Bool, "$env reads a field named literally", 24},
		{"computed $env key", `$env["base" + "line"] > value`, Bool, "$env reads a field named literally", 4},
		{"in $env", `"baseline" in $env`, Bool, "$env reads a field named literally", 14},
		{"keys of $env", `len(keys($env)) > 3`, Bool, "$env reads a field named literally", 9},
		{"$env as a value", `let e = $env; e.value > 1`, Bool, "$env reads a field named literally", 8},
		{"the evaluation's state is not a field", `$env.__run__ != nil`, Bool, `unknown name "__run__"`, 5},
		{"dynamic business key through $env", `$env.business[kind] > 1`, Bool, "named literally", 13},
		{"unknown business constant through $env", `$env["business"].daily > 1`, Bool, `unknown business constant "daily"`, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCompiler(business).Compile(tc.src, tc.typ)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%q) error = %v, want *Error", tc.src, err)
			}
			if !strings.Contains(e.Msg, tc.wantMsg) {
				t.Errorf("Compile(%q) message = %q, want it to contain %q", tc.src, e.Msg, tc.wantMsg)
			}
			if e.Offset != tc.wantOff {
				t.Errorf("Compile(%q) offset = %d, want %d", tc.src, e.Offset, tc.wantOff)
			}
		})
	}
}

func TestNeverFires(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`kind == "drfit" && value > 1`, `kind "drfit" does not exist (did you mean "drift"?)`},
		{`kind == "drift" && kind == "quality"`, `kind cannot be both "drift" and "quality"`},
		{`metric in ["psi", "ks"] && metric == "auc"`, `metric cannot be both one of "psi", "ks" and "auc"`},
		{`1 > 2`, "always false"},
		{`kind == "drift" && value > 1`, ""},
	} {
		p := mustCompile(t, tc.src, Bool)
		if tc.want == "" && p.NeverFires != "" || !strings.Contains(p.NeverFires, tc.want) {
			t.Errorf("Compile(%q).NeverFires = %q, want %q", tc.src, p.NeverFires, tc.want)
		}
	}
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func f(v float64) *float64 { return &v }

func TestEval(t *testing.T) {
	hist := &series.State{}
	for i, v := range []float64{0.80, 0.79, 0.78, 0.77} {
		hist.Add(series.Observation{At: t0.Add(time.Duration(i) * 24 * time.Hour), Value: v}, 10)
	}
	drift := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Feature: "income", Value: 0.4, ObservedAt: t0}
	quality := signal.Event{Model: "m", Kind: "quality", Metric: "accuracy", Value: 0.81, Baseline: f(0.9), ObservedAt: t0}
	noBaseline := quality
	noBaseline.Baseline = nil
	scope := &Scope{Business: business, Stakes: "critical"}
	for _, tc := range []struct {
		name   string
		src    string
		ev     signal.Event
		hist   History
		want   Outcome
		reason string
	}{
		{"breach", `kind == "drift" && feature == "income" && value > 0.25`, drift, nil, True, ""},
		{"clean", `kind == "drift" && value > 0.5`, drift, nil, False, "condition is false"},
		{"other kind", `kind == "quality" && value > 0.5`, drift, nil, OtherSeries, `kind is "drift"; rule wants "quality"`},
		{"absent feature filter", `feature == "age" && value > 0.5`, quality, nil, OtherSeries, `event has no feature; rule wants "age"`},
		{"missing baseline", `baseline - value > 0.03`, noBaseline, nil, Missing, "event has no baseline"},
		{"baseline present", `baseline - value > 0.03`, quality, nil, True, ""},
		{"stakes and business", `stakes == "critical" && business.daily_decisions > 100`, drift, nil, True, ""},
		{"short history", `slope(7) < 0`, drift, hist, ShortHistory, "series has 4 of the 7 observations"},
		{"slope", `slope(4) < -0.005`, drift, hist, True, ""},
		{"last", `all(last(3), # < 0.8)`, drift, hist, True, ""},
		{"lineage arithmetic on absent key fails, never panics", `lineage.rows + 1 > 0`, drift, nil, Failed, "evaluation failed"},
		{"labels absent key is empty", `labels.detector == ""`, drift, nil, True, ""},
		{"missing baseline through $env", `value - $env["baseline"] > 0.03`, noBaseline, nil, Missing, "event has no baseline"},
		{"$env reads the event by field name", `$env.value > 0.25 && $env["feature"] == "income" && $env.business.cost_usd == 900`, drift, nil, True, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.src, Bool)
			e := NewEvaluator()
			ev := tc.ev
			e.Bind(&ev, scope, tc.hist)
			v := e.Eval(p)
			if v.Outcome != tc.want {
				t.Errorf("Eval(%q) = %v (%s), want %v", tc.src, v.Outcome, v.Reason(), tc.want)
			}
			if !strings.Contains(v.Reason(), tc.reason) {
				t.Errorf("Eval(%q).Reason() = %q, want it to contain %q", tc.src, v.Reason(), tc.reason)
			}
		})
	}
}

func TestEvalNumber(t *testing.T) {
	p := mustCompile(t, `(baseline - value) * business.daily_decisions * business.cost_usd`, Number)
	e := NewEvaluator()
	ev := signal.Event{Kind: "quality", Metric: "accuracy", Value: 0.81, Baseline: f(0.9), ObservedAt: t0}
	e.Bind(&ev, &Scope{Business: business}, nil)
	v := e.Eval(p)
	if v.Outcome != True || FormatNumber(v.Value) != "1620000" {
		t.Errorf("Eval(impact) = %v %v, want True 1620000", v.Outcome, v.Value)
	}
}

func TestExplain(t *testing.T) {
	p := mustCompile(t, `kind == "quality" && metric == "accuracy" && baseline - value > 0.03 && value < 0.85`, Bool)
	e := NewEvaluator()
	ev := signal.Event{Kind: "quality", Metric: "accuracy", Value: 0.88, Baseline: f(0.9), ObservedAt: t0}
	e.Bind(&ev, &Scope{Business: business}, nil)
	if got := e.Eval(p).Outcome; got != False {
		t.Fatalf("Eval = %v, want False", got)
	}
	want := []Clause{
		{Text: `kind is "quality"`, Holds: true, Filter: true},
		{Text: `metric is "accuracy"`, Holds: true, Filter: true},
		{Text: "(baseline - value) = 0.02 is not > 0.03"},
		{Text: "value 0.88 is not < 0.85"},
	}
	if diff := cmp.Diff(want, e.Explain(p)); diff != "" {
		t.Errorf("Explain (-want +got):\n%s", diff)
	}
}

func TestExplainComparesStrings(t *testing.T) {
	p := mustCompile(t, `lineage.trained_through < "2025-01-01"`, Bool)
	e := NewEvaluator()
	ev := signal.Event{Kind: "drift", Metric: "psi", ObservedAt: t0, Lineage: map[string]any{"trained_through": "2024-06-01"}}
	e.Bind(&ev, NewScope(business, "high"), nil)
	if got := e.Eval(p).Outcome; got != True {
		t.Fatalf("Eval = %v, want True", got)
	}
	if got := e.Explain(p); len(got) != 1 || !got[0].Holds || strings.Contains(got[0].Text, "is not") {
		t.Errorf("Explain = %+v, want one clause that holds", got)
	}
}

func TestCheckPlaceholder(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{{"value", true}, {"feature", true}, {"impact", true}, {"business.cost_usd", true}, {"business.nope", false}, {"featur", false}, {"labels.detector", true}, {"lineage.training_data", true}, {"labels", false}} {
		if err := CheckPlaceholder(tc.name, business); (err == nil) != tc.ok {
			t.Errorf("CheckPlaceholder(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for in, want := range map[float64]string{0.09000000000000008: "0.09", 1619999.9999999993: "1620000", 0.25: "0.25", -0.0123456789: "-0.0123457", 0: "0"} {
		if got := FormatNumber(in); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", in, got, want)
		}
	}
}

// History functions return values: a list from last(n) is the caller's,
// whatever other calls of last in the same rule return after it.
func TestHistoryCallsAreIndependent(t *testing.T) {
	hist := &series.State{}
	for i, v := range []float64{1, 2, 3, 4, 5} {
		hist.Add(series.Observation{At: t0.Add(time.Duration(i) * time.Hour), Value: v}, 10)
	}
	ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Value: 5, ObservedAt: t0.Add(4 * time.Hour)}
	for _, tc := range []struct {
		src  string
		want Outcome
	}{
		{`let a = last(3); let b = last(1); a[0] != b[0]`, True},
		{`let a = last(3); let b = last(1); a[0] == 3 && b[0] == 5`, True},
		{`let a = last(5); let b = last(2); mean(a) == 3 && mean(b) == 4.5 && a[4] == b[1]`, True},
		{`last(3)[0] + last(1)[0] == 8`, True},
		{`let a = last(4); all(last(2), {a[0] == 2 && # >= 4}) && a[0] == 2`, True},
		{`let a = last(2); let s = slope(5); let b = last(5); a[0] == 4 && b[0] == 1 && s > 0`, True},
		{`map(last(2), {last(1)[0] + #}) == [9.0, 10.0]`, True},
		{`let a = last(3); let b = map(a, {last(2)}); a == [3.0, 4.0, 5.0] && b[0] == [4.0, 5.0]`, True},
	} {
		t.Run(tc.src, func(t *testing.T) {
			p := mustCompile(t, tc.src, Bool)
			e := NewEvaluator()
			ev := ev
			e.Bind(&ev, NewScope(business, "low"), hist)
			for range 2 { // a second run reuses what the first left
				if v := e.Eval(p); v.Outcome != tc.want {
					t.Errorf("Eval(%q) = %v (%s), want %v", tc.src, v.Outcome, v.Reason(), tc.want)
				}
			}
		})
	}
}

// The filters a rule starts with are checked before it runs, and left out
// of what the VM runs: what it says of an error must still point at the
// place in the condition as written.
func TestErrorAfterFiltersPointsIntoTheSource(t *testing.T) {
	src := `kind == "drift" && metric == "psi" && lineage.rows + 1 > 0`
	p := mustCompile(t, src, Bool)
	ev := signal.Event{Model: "m", Kind: "drift", Metric: "psi", Value: 0.4, ObservedAt: t0}
	e := NewEvaluator()
	e.Bind(&ev, NewScope(business, "low"), nil)
	v := e.Eval(p)
	at := fmt.Sprintf("(1:%d)", strings.Index(src, "+")+1)
	if v.Outcome != Failed || !strings.Contains(v.Reason(), at) || !strings.Contains(v.Reason(), src) {
		t.Errorf("Eval(%q) = %v: %q, want it failed at %s, quoting the condition", src, v.Outcome, v.Reason(), at)
	}
}

func TestKindsAreTheKindFiltersOfACondition(t *testing.T) {
	for src, want := range map[string][]string{
		`kind == "quality" && value < 0.7`:                             {"quality"},
		`kind in ["quality", "drift"] && value > 1`:                    {"quality", "drift"},
		`kind in ["quality", "drift"] && kind == "drift" && value > 1`: {"drift"},
		`metric == "auc" && value < 0.7`:                               nil,
		`kind == "quality" || value > 1`:                               nil, // not a filter: either may hold
	} {
		if got := mustCompile(t, src, Bool).Kinds(); !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("Kinds(%s) = %q, want %q", src, got, want)
		}
	}
}
