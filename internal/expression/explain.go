package expression

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// Clause is one top-level conjunct of a condition, evaluated on its own and
// put in words: "value 0.41 > 0.25", "kind is \"quality\", not \"drift\"".
type Clause struct {
	Text  string
	Holds bool
	// Filter is true for `field == "literal"` tests, which say which series
	// a rule is about rather than why it fired.
	Filter bool
}

// explainer compiles the sides of each conjunct on first use: explanations
// are for people running `stakeout route`, so the router never pays for them.
type explainer struct {
	once  sync.Once
	src   string
	parts []part
	cost  int // the parts' steps known at compile time
}

type part struct {
	src         string
	op          string // comparison operator, or "" to evaluate the whole conjunct
	left, right side
	whole       *vm.Program
	filter      bool
	err         error
}

type side struct {
	src  string
	lit  bool
	prog *vm.Program
}

var comparisons = map[string]string{">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}

// compile re-parses the source (the compiled tree has been optimised, and
// its conjuncts no longer read as the user wrote them) and compiles each
// side of each top-level conjunct, under the same budget as the whole.
func (x *explainer) compile(business map[string]float64) {
	cf := newConf(business)
	tree, err := parser.ParseWithConfig(x.src, cf)
	if err != nil {
		x.parts = []part{{src: x.src, err: err}}
		return
	}
	compile := func(src string) (*vm.Program, error) {
		prog, cost, err := build(src, cf, nil, nil)
		x.cost += cost
		return prog, err
	}
	for _, c := range conjuncts(tree.Node) {
		pt := part{src: c.String()}
		_, pt.filter = filterOf(c)
		if b, ok := c.(*ast.BinaryNode); ok {
			if _, isCmp := comparisons[b.Operator]; isCmp {
				pt.op = b.Operator
				pt.left, pt.err = compileSide(b.Left, compile)
				if pt.err == nil {
					pt.right, pt.err = compileSide(b.Right, compile)
				}
			}
		}
		if pt.op == "" {
			pt.whole, pt.err = compile(pt.src)
		}
		x.parts = append(x.parts, pt)
	}
}

func compileSide(n ast.Node, compile func(string) (*vm.Program, error)) (side, error) {
	s := side{src: n.String()}
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.StringNode, *ast.BoolNode, *ast.NilNode:
		s.lit = true
	}
	var err error
	s.prog, err = compile(s.src)
	return s, err
}

// Explain evaluates each top-level conjunct of a Bool program against the
// bound event and puts it in words. Call it after Eval said True or False.
func (e *Evaluator) Explain(p *Program) []Clause {
	if p.explain == nil {
		return nil
	}
	p.explain.once.Do(func() { p.explain.compile(e.scope.Business) })
	env := e.boxed()
	// One budget for all the clauses, as for the whole expression; and
	// the lists of both sides of a comparison stay alive until described.
	e.run.start(max(MaxCost-p.explain.cost, 0))
	var out []Clause
	for _, pt := range p.explain.parts {
		if pt.err != nil {
			out = append(out, Clause{Text: pt.src + " (cannot explain: " + pt.err.Error() + ")"})
			continue
		}
		if pt.op == "" {
			v, err := e.machine.Run(pt.whole, env)
			holds := err == nil && v == true
			text := pt.src + " is " + strconv.FormatBool(holds)
			if err != nil {
				text = pt.src + ": " + err.Error()
			}
			out = append(out, Clause{Text: text, Holds: holds, Filter: pt.filter})
			continue
		}
		l, errL := e.machine.Run(pt.left.prog, env)
		r, errR := e.machine.Run(pt.right.prog, env)
		if errL != nil || errR != nil {
			out = append(out, Clause{Text: pt.src + ": cannot evaluate"})
			continue
		}
		holds := compare(l, pt.op, r, &e.run)
		out = append(out, Clause{Text: describe(pt, l, r, holds), Holds: holds, Filter: pt.filter})
	}
	return out
}

func describe(pt part, l, r any, holds bool) string {
	if pt.filter {
		// `kind == "drift"`: say what the event has.
		val, want := l, r
		if pt.left.lit {
			val, want = r, l
		}
		if holds {
			return fmt.Sprintf("%s is %s", sideName(pt.left, pt.right), Format(val))
		}
		return fmt.Sprintf("%s is %s, not %s", sideName(pt.left, pt.right), Format(val), Format(want))
	}
	op := pt.op
	if !holds {
		op = "is not " + op
	}
	return fmt.Sprintf("%s %s %s", sideText(pt.left, l), op, sideText(pt.right, r))
}

func sideName(l, r side) string {
	if l.lit {
		return r.src
	}
	return l.src
}

// sideText is "0.25" for a literal, "value 0.41" for a name, and
// "(baseline - value) = 0.09" for anything computed.
func sideText(s side, v any) string {
	if s.lit {
		return s.src
	}
	if isIdent(s.src) {
		return s.src + " " + Format(v)
	}
	return "(" + s.src + ") = " + Format(v)
}

func isIdent(s string) bool {
	for _, r := range s {
		if !(r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func compare(l any, op string, r any, st *runState) bool {
	lf, lok := toFloat(l)
	rf, rok := toFloat(r)
	if lok && rok {
		switch op {
		case ">":
			return lf > rf
		case ">=":
			return lf >= rf
		case "<":
			return lf < rf
		case "<=":
			return lf <= rf
		case "==":
			return lf == rf
		case "!=":
			return lf != rf
		}
	}
	if ls, ok := l.(string); ok {
		if rs, ok := r.(string); ok {
			c := strings.Compare(ls, rs)
			switch op {
			case ">":
				return c > 0
			case ">=":
				return c >= 0
			case "<":
				return c < 0
			case "<=":
				return c <= 0
			}
		}
	}
	if lt, ok := l.(time.Time); ok {
		if rt, ok := r.(time.Time); ok {
			return compare(float64(lt.UnixNano()), op, float64(rt.UnixNano()), st)
		}
	}
	// Lists and maps too, as the VM compares them (Go's == panics on
	// them), under what is left of the evaluation's budget.
	eq, err := equal(l, r, st)
	switch {
	case err != nil:
		return false
	case op == "==":
		return eq
	case op == "!=":
		return !eq
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case time.Duration:
		return float64(x), true
	}
	return 0, false
}

// maxFormatted bounds what Format writes: a value in an explanation may
// be a list of 20,000 items, or a list holding itself 60 times over (a
// rule may build one), and explanations end up in messages and records.
const maxFormatted = 200

// Format renders a value for people: numbers to six significant digits
// without exponent noise (0.09, not 0.09000000000000008), strings quoted,
// lists and maps cut after about 200 characters.
func Format(v any) string {
	var b strings.Builder
	format(&b, v)
	if b.Len() <= maxFormatted {
		return b.String()
	}
	s := b.String()[:maxFormatted]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

func format(b *strings.Builder, v any) {
	if b.Len() > maxFormatted {
		return
	}
	switch x := v.(type) {
	case float64:
		b.WriteString(FormatNumber(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case string:
		b.WriteString(strconv.Quote(x[:min(len(x), maxFormatted)]))
	case time.Time:
		b.WriteString(x.Format(time.RFC3339))
	case nil:
		b.WriteString("nil")
	default:
		formatComposite(b, reflect.ValueOf(v))
	}
}

// formatComposite writes a list or a map item by item, as long as there
// is room; anything else as fmt prints it.
func formatComposite(b *strings.Builder, rv reflect.Value) {
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		b.WriteByte('[')
		for i := 0; i < rv.Len() && b.Len() <= maxFormatted; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, rv.Index(i).Interface())
		}
		b.WriteByte(']')
	case reflect.Map:
		// In key order, so that an explanation reads the same every time.
		type entry struct {
			key string
			k   reflect.Value
		}
		entries := make([]entry, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := it.Key()
			key := k.String() // a map from expr or an event has string keys
			if k.Kind() != reflect.String {
				key = fmt.Sprint(k.Interface())
			}
			entries = append(entries, entry{key, k})
		}
		slices.SortFunc(entries, func(x, y entry) int { return strings.Compare(x.key, y.key) })
		b.WriteByte('{')
		for i, e := range entries {
			if b.Len() > maxFormatted {
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, e.k.Interface())
			b.WriteString(": ")
			format(b, rv.MapIndex(e.k).Interface())
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, rv.Interface())
	}
}

// FormatNumber prints f rounded to six significant digits.
func FormatNumber(f float64) string {
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'g', 6, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// FormatThousands prints f for money: whole units with thousands
// separators from 1,000 up ("1,620,000"), six significant digits below.
func FormatThousands(f float64) string {
	if f < 1000 && f > -1000 {
		return FormatNumber(f)
	}
	s := fmt.Sprintf("%.0f", f)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
