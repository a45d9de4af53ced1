// Package expression compiles and evaluates the expressions of rules files:
// `when` conditions and `impact` amounts, written in expr-lang. Every
// expression is compiled once, at load, against a typed environment (the
// event fields, the model's business constants, its stakes and the series
// history functions), so a typo fails `stakeout validate` instead of an
// evaluation at 2 am. Evaluation never panics: a field the event lacks, a
// series too short for last(n)/slope(n), or a runtime error all become a
// reason why the rule did not fire. Every expression runs under a budget
// of steps and memory (budget.go): validation rejects what is over it
// whatever the event, and an evaluation that goes over it on an event
// stops with OverBudget.
package expression

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/stakeout-ml/stakeout/internal/signal"
)

// MaxHistory bounds n in last(n) and slope(n): the series state kept per
// series is sized by the largest n a model uses.
const MaxHistory = 500

// Type is what an expression must evaluate to.
type Type int

const (
	Bool   Type = iota // a `when` condition
	Number             // an `impact` amount
)

// field indexes of the event fields, used as bits in a fieldSet.
const (
	fModel = iota
	fKind
	fMetric
	fValue
	fObservedAt
	fVersion
	fEnvironment
	fBaseline
	fFeature
	fSegment
	fSampleSize
	fWindowStart
	fWindowEnd
	fLabels
	fLineage
	numFields
)

// FieldNames are the event fields by their JSON names, indexed as above.
var FieldNames = [numFields]string(signal.FieldNames)

// optional fields: a rule that reads one the event lacks does not fire.
// labels and lineage are maps, where a missing key is an ordinary value.
const optional = 1<<fVersion | 1<<fEnvironment | 1<<fBaseline | 1<<fFeature | 1<<fSegment |
	1<<fSampleSize | 1<<fWindowStart | 1<<fWindowEnd

type fieldSet uint32

// Names other than the event fields that expressions may use.
const (
	nameBusiness = "business"
	nameStakes   = "stakes"
	nameLast     = "last"
	nameSlope    = "slope"
	nameEnv      = "$env" // expr's name for the whole environment
)

// Error is a compile problem, at a rune offset in the expression source.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Program is a compiled expression with what static analysis learned of it.
type Program struct {
	Source string
	Type   Type

	prog    *vm.Program
	cost    int      // steps known at compile time (see budget)
	needs   fieldSet // optional fields the expression reads
	history int      // largest n of last(n)/slope(n): observations needed
	filters []filter // top-level `field == "literal"` conjuncts
	// NeverFires explains why a condition can never be true, when static
	// analysis can tell (a kind that does not exist, contradictory tests).
	NeverFires string

	explain  *explainer
	readsEnv bool // whether any name of the environment appears
}

// filter is a top-level conjunct `field == "v"` or `field in ["a", "b"]`
// over a string field. Checking it in Go before running the VM skips most
// rules of a model for a given event, and says why in plain words.
type filter struct {
	field  int
	values []string
}

// Needs returns the optional event fields the expression reads: without
// any of them it is not evaluated.
func (p *Program) Needs() []string {
	var out []string
	for f := range numFields {
		if p.needs&(1<<f) != 0 {
			out = append(out, FieldNames[f])
		}
	}
	return out
}

// Kinds are the kinds of event the expression can hold for, from its
// top-level kind filters (`kind == "quality"`, `kind in [...]`); nil when
// it tests no kind (any kind may do). Late labels ask it which rules are
// quality rules.
func (p *Program) Kinds() []string {
	var kinds []string
	seen := false
	for _, f := range p.filters {
		if f.field != fKind {
			continue
		}
		if !seen {
			kinds, seen = slices.Clone(f.values), true
			continue
		}
		kinds = slices.DeleteFunc(kinds, func(k string) bool { return !slices.Contains(f.values, k) })
	}
	if seen && kinds == nil {
		kinds = []string{} // contradictory: no kind at all
	}
	return kinds
}

// History is the number of observations the expression needs in the series
// before it can be evaluated (0 when it uses neither last nor slope).
func (p *Program) History() int { return p.history }

// Compiler compiles the expressions of one model. expr's configuration (its
// builtin table and the typed environment) is built once here rather than
// for every expression: loading 2,000 rules would otherwise spend most of
// its time rebuilding it.
type Compiler struct {
	business map[string]float64
	conf     [2]*conf.Config // by Type
}

// NewCompiler returns a compiler for a model with these business constants.
func NewCompiler(business map[string]float64) *Compiler {
	cf := newConf(business, expr.AsBool())
	// The two configurations differ only in the expected result type; the
	// maps they share are read-only once built.
	num := *cf
	expr.AsFloat64()(&num)
	return &Compiler{business: business, conf: [2]*conf.Config{Bool: cf, Number: &num}}
}

// newConf builds expr's configuration for a model's expressions.
func newConf(business map[string]float64, extra ...expr.Option) *conf.Config {
	cf := conf.CreateNew()
	for _, op := range append(options(business), extra...) {
		op(cf)
	}
	for name := range cf.Disabled {
		delete(cf.Builtins, name)
	}
	cf.Check()
	return cf
}

// Compile parses, analyses, type-checks, costs and compiles src — the
// steps of expr.Compile, with our analysis between parsing and checking so
// that its messages (a non-literal last(n), an unknown business constant)
// win over the type checker's more generic ones, and the budget pass
// between optimising and compiling. The Program is nil on error.
func (c *Compiler) Compile(src string, typ Type) (*Program, error) {
	p := &Program{Source: src, Type: typ}
	var err error
	p.prog, p.cost, err = build(src, c.conf[typ], func(root ast.Node) error { return p.analyse(root, c.business) }, withoutFilters)
	if err != nil {
		return nil, err
	}
	if typ == Bool && p.NeverFires == "" && !p.readsEnv {
		// Nothing in it depends on the event: evaluate it once now.
		out, err := runOnce(p, c.business)
		if be, ok := overBudget(err); ok {
			return nil, &Error{Offset: errorOffset(err), Msg: be.Error() + ", whatever the event"}
		}
		if err == nil && out == false {
			p.NeverFires = "the condition is always false"
		}
	}
	if typ == Bool {
		p.explain = &explainer{src: src}
	}
	return p, nil
}

// build compiles src with cf: parse, analyse (when given), patch and
// type-check, optimise, cost (rewriting the tree for the run-time
// charges), trim (when given: the tree the VM runs may leave out what
// the evaluator checks before running it) and generate the program. It
// returns the program's cost known at compile time, as written.
func build(src string, cf *conf.Config, analyse func(ast.Node) error, trim func(ast.Node) ast.Node) (*vm.Program, int, error) {
	// Parsing with the configuration makes last and slope our history
	// functions, not expr's builtin last(array).
	tree, err := parser.ParseWithConfig(src, cf)
	if err != nil {
		return nil, 0, exprError(err)
	}
	if err := checkLimits(tree.Node); err != nil {
		return nil, 0, err
	}
	if analyse != nil {
		if err := analyse(tree.Node); err != nil {
			return nil, 0, err
		}
	}
	if _, err := new(checker.Checker).PatchAndCheck(tree, cf); err != nil {
		return nil, 0, exprError(err)
	}
	if err := optimizer.Optimize(&tree.Node, cf); err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, 0, exprError(fe.Bind(tree.Source))
		}
		return nil, 0, exprError(err)
	}
	cost, err := budget(&tree.Node)
	if err != nil {
		return nil, 0, err
	}
	if trim != nil {
		tree.Node = trim(tree.Node)
	}
	prog, err := compiler.Compile(tree, cf)
	if err != nil {
		return nil, 0, exprError(err)
	}
	return prog, cost, nil
}

// runOnce evaluates a program that reads nothing of the event, under the
// budget.
func runOnce(p *Program, business map[string]float64) (any, error) {
	st := &runState{}
	st.start(MaxCost - p.cost)
	m := vm.VM{MemoryBudget: MaxItems}
	return m.Run(p.prog, evalEnv{Business: business, Run: st})
}

// errorOffset is the rune offset an evaluation error points at.
func errorOffset(err error) int {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fe.From
	}
	return 0
}

// options are the compile options every expression shares. now() is
// disabled: a rule must depend on the event's time, not the wall clock, or
// replays and tests would not be reproducible.
func options(business map[string]float64) []expr.Option {
	return []expr.Option{
		expr.Env(evalEnv{}),
		expr.DisableBuiltin("now"),
		expr.MaxNodes(MaxNodes),
		// last and slope are called without reflection (expr calls
		// registered functions directly), with the evaluation's state
		// passed as a hidden argument the patch below appends.
		expr.Function(nameLast, lastFunc, new(func(int, *runState) []float64)),
		expr.Function(nameSlope, slopeFunc, new(func(int, *runState) float64)),
		// The budget's charges, inserted after type checking (see budget).
		expr.Function(nameCharge, chargeFunc),
		expr.Function(nameChargeLoop, chargeLoopFunc),
		expr.Function(nameEqual, equalFunc),
		expr.Function(nameNotEqual, notEqualFunc),
		expr.Function(nameIn, inFunc),
		expr.Patch(historyPatch{}),
	}
}

// nameRun is the environment entry holding the evaluation's runState.
const nameRun = "__run__"

func lastFunc(params ...any) (any, error) {
	n, st := params[0].(int), params[1].(*runState)
	// Each call gets a list of its own — a list is a value the rule may
	// keep (let a = last(3)) while it calls last again — cut from one
	// array reused from one evaluation to the next. Appending never writes
	// to what earlier calls returned: they end before start, and a
	// reallocation leaves them in the old array.
	start := len(st.vals)
	st.vals = st.h.AppendLast(st.vals, n)
	end := len(st.vals)
	return st.vals[start:end:end], nil
}

func slopeFunc(params ...any) (any, error) {
	return params[1].(*runState).h.Slope(params[0].(int)), nil
}

// historyPatch rewrites last(n) and slope(n) into last(n, __run__).
type historyPatch struct{}

func (historyPatch) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok || len(call.Arguments) != 1 {
		return
	}
	if id, ok := call.Callee.(*ast.IdentifierNode); ok && (id.Value == nameLast || id.Value == nameSlope) {
		run := &ast.IdentifierNode{Value: nameRun}
		run.SetLocation(call.Location())
		call.Arguments = append(call.Arguments, run)
	}
}

// evalEnv is the typed environment expressions are compiled against and run
// with: the event's fields by their JSON names, the model's business
// constants and stakes, and the evaluation's state for last and slope. A
// struct rather than a map[string]any: the VM reads a field by its index,
// not by hashing its name, and nothing is boxed per field. An Evaluator
// builds one per event, shared by all the rules of the model.
//
// It has no methods: expr would let rules call them.
type evalEnv struct {
	Model       string             `expr:"model"`
	Kind        string             `expr:"kind"`
	Metric      string             `expr:"metric"`
	Value       float64            `expr:"value"`
	ObservedAt  time.Time          `expr:"observed_at"`
	Version     string             `expr:"version"`
	Environment string             `expr:"environment"`
	Baseline    float64            `expr:"baseline"`
	Feature     string             `expr:"feature"`
	Segment     string             `expr:"segment"`
	SampleSize  int                `expr:"sample_size"`
	WindowStart time.Time          `expr:"window_start"`
	WindowEnd   time.Time          `expr:"window_end"`
	Labels      map[string]string  `expr:"labels"`
	Lineage     map[string]any     `expr:"lineage"`
	Business    map[string]float64 `expr:"business"`
	Stakes      string             `expr:"stakes"`
	Run         *runState          `expr:"__run__"`
}

// envNames are the names that read the event or its series.
var envNames = func() map[string]bool {
	names := map[string]bool{nameEnv: true, nameLast: true, nameSlope: true}
	t := reflect.TypeFor[evalEnv]()
	for i := range t.NumField() {
		names[t.Field(i).Tag.Get("expr")] = true
	}
	return names
}()

// exprError converts expr's errors (with a rune offset) into an *Error,
// keeping only the message: the caller shows the file position.
func exprError(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		msg := fe.Message
		if strings.Contains(msg, "exceeds maximum allowed nodes") {
			msg = fmt.Sprintf("this expression has more than %d parts (names, numbers, operators): split the rule, or shorten its lists", MaxNodes)
		}
		if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
			msg = fmt.Sprintf("unknown name %q%s", name, suggest(name, knownNames()))
		}
		return &Error{Offset: fe.From, Msg: msg}
	}
	return &Error{Msg: err.Error()}
}

func knownNames() []string {
	return append(FieldNames[:], nameBusiness, nameStakes, nameLast, nameSlope)
}

// analyse walks the syntax tree for what expr's type checker cannot see:
// business keys (a map to the checker), $env read by literal field names,
// literal history sizes, which optional fields are read, and prefilters.
func (p *Program) analyse(root ast.Node, business map[string]float64) error {
	var firstErr error
	fail := func(n ast.Node, format string, args ...any) {
		if firstErr == nil {
			firstErr = &Error{Offset: n.Location().From, Msg: fmt.Sprintf(format, args...)}
		}
	}
	// Every $env, and those that are the record of a member read: the
	// walk visits children before their parent.
	var envs []*ast.IdentifierNode
	read := map[*ast.IdentifierNode]bool{}
	walk(root, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.IdentifierNode:
			// A let variable is not the environment: `let a = "x"; ...`
			// is as constant as "x".
			if envNames[n.Value] {
				p.readsEnv = true
			}
			if n.Value == nameEnv {
				envs = append(envs, n)
			}
			p.read(n.Value)
		case *ast.MemberNode:
			if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == nameEnv {
				read[id] = true
				p.readEnv(n, fail)
				return
			}
			if isBusiness(n.Node) {
				checkBusiness(n, business, fail)
			}
		case *ast.CallNode:
			p.history = max(p.history, historyOf(n, fail))
		}
	})
	for _, id := range envs {
		if !read[id] {
			fail(id, "$env reads a field named literally, as $env.<field> or $env[\"<field>\"]; the record as a whole (keys($env), \"x\" in $env, let e = $env) means nothing in a rule")
		}
	}
	if firstErr != nil {
		return firstErr
	}
	for _, c := range conjuncts(root) {
		if f, ok := filterOf(c); ok {
			p.filters = append(p.filters, f)
		}
	}
	p.NeverFires = contradiction(p.filters)
	return nil
}

// readEnv checks a member read of $env: the field must be named
// literally, so that reading an optional field counts as reading it. A key
// computed at run time (`let f = "baseline"; $env[f]`) would read an absent
// baseline as 0 and fire where `baseline` does not.
func (p *Program) readEnv(n *ast.MemberNode, fail func(ast.Node, string, ...any)) {
	key, ok := n.Property.(*ast.StringNode)
	if !ok {
		fail(n, "$env reads a field named literally, as $env.<field> or $env[\"<field>\"], not one computed when the rule runs")
		return
	}
	if key.Value == nameRun {
		// The evaluation's state is for last and slope, not for rules.
		fail(n.Property, "unknown name %q", key.Value)
		return
	}
	p.read(key.Value)
}

// isBusiness reports whether n is the business constants: business,
// $env.business or $env["business"].
func isBusiness(n ast.Node) bool {
	switch n := n.(type) {
	case *ast.IdentifierNode:
		return n.Value == nameBusiness
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		key, lit := n.Property.(*ast.StringNode)
		return ok && id.Value == nameEnv && lit && key.Value == nameBusiness
	}
	return false
}

// checkBusiness checks a read of a business constant: named literally,
// and declared by the model (a map to the type checker, where any key
// would do).
func checkBusiness(n *ast.MemberNode, business map[string]float64, fail func(ast.Node, string, ...any)) {
	key, ok := n.Property.(*ast.StringNode)
	if !ok {
		fail(n, "business constants must be named literally, as business.<name>")
		return
	}
	if _, ok := business[key.Value]; !ok {
		keys := slices.Sorted(maps.Keys(business))
		known := "the model declares no business constants"
		if len(keys) > 0 {
			known = "declared: " + strings.Join(keys, ", ")
		}
		fail(n.Property, "unknown business constant %q%s (%s)", key.Value, suggest(key.Value, keys), known)
	}
}

// historyOf checks a call of last(n) or slope(n) and returns its n, the
// observations it needs (0 for any other call).
func historyOf(n *ast.CallNode, fail func(ast.Node, string, ...any)) int {
	id, ok := n.Callee.(*ast.IdentifierNode)
	if !ok || (id.Value != nameLast && id.Value != nameSlope) {
		return 0
	}
	if len(n.Arguments) != 1 {
		fail(n, "%s takes one argument, the number of observations", id.Value)
		return 0
	}
	lit, ok := n.Arguments[0].(*ast.IntegerNode)
	if !ok {
		fail(n.Arguments[0], "%s(n) needs n written as a whole number, like %s(5): the history kept per series is sized from it", id.Value, id.Value)
		return 0
	}
	min := 1
	if id.Value == nameSlope {
		min = 2
	}
	if lit.Value < min || lit.Value > MaxHistory {
		fail(lit, "%s(%d): n must be between %d and %d", id.Value, lit.Value, min, MaxHistory)
		return 0
	}
	return lit.Value
}

// read notes that the expression reads name: an optional event field
// must be present for it to be evaluated.
func (p *Program) read(name string) {
	if i := slices.Index(FieldNames[:], name); i >= 0 && optional&(1<<i) != 0 {
		p.needs |= 1 << i
	}
}

// withoutFilters leaves out of a condition its top-level `field ==
// "literal"` conjuncts: Eval checks every filter before running the
// program (precheck), so by then they hold, and testing them again was a
// third of the VM's work on a typical rule. They cost nothing at run time
// (a comparison with a literal is costed at compile time), so the budget
// spent is the same; the nodes left keep their places in the source, so
// errors point where they did. A condition of filters alone is left whole.
func withoutFilters(n ast.Node) ast.Node {
	if out := trimFilters(n); out != nil {
		return out
	}
	return n
}

// trimFilters returns n without its `==` filter conjuncts, nil if that
// leaves nothing.
func trimFilters(n ast.Node) ast.Node {
	if f, ok := n.(*ast.BinaryNode); ok && f.Operator == "==" {
		if _, ok := filterOf(f); ok {
			return nil
		}
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok || (b.Operator != "&&" && b.Operator != "and") {
		return n
	}
	l, r := trimFilters(b.Left), trimFilters(b.Right)
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	}
	b.Left, b.Right = l, r
	return b
}

// walk calls fn on every node of the tree, children before their parent.
func walk(root ast.Node, fn func(ast.Node)) {
	ast.Walk(&root, visitor(fn))
}

type visitor func(ast.Node)

func (v visitor) Visit(n *ast.Node) { v(*n) }

// conjuncts splits a top-level chain of && into its operands.
func conjuncts(n ast.Node) []ast.Node {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		return append(conjuncts(b.Left), conjuncts(b.Right)...)
	}
	return []ast.Node{n}
}

var filterable = map[string]int{"kind": fKind, "metric": fMetric, "feature": fFeature, "segment": fSegment, "environment": fEnvironment}

func filterOf(n ast.Node) (filter, bool) {
	b, ok := n.(*ast.BinaryNode)
	if !ok {
		return filter{}, false
	}
	left, right := b.Left, b.Right
	if _, ok := left.(*ast.StringNode); ok && b.Operator == "==" {
		left, right = right, left
	}
	id, ok := left.(*ast.IdentifierNode)
	if !ok {
		return filter{}, false
	}
	field, ok := filterable[id.Value]
	if !ok {
		return filter{}, false
	}
	switch b.Operator {
	case "==":
		if s, ok := right.(*ast.StringNode); ok {
			return filter{field: field, values: []string{s.Value}}, true
		}
	case "in":
		arr, ok := right.(*ast.ArrayNode)
		if !ok {
			return filter{}, false
		}
		f := filter{field: field}
		for _, e := range arr.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return filter{}, false
			}
			f.values = append(f.values, s.Value)
		}
		return f, true
	}
	return filter{}, false
}

// contradiction finds conjunct filters that no event can pass.
func contradiction(filters []filter) string {
	kinds := signal.Kinds
	allowed := map[int][]string{}
	for _, f := range filters {
		if f.field == fKind {
			for _, v := range f.values {
				if !slices.Contains(kinds, v) {
					return fmt.Sprintf("kind %q does not exist%s (kinds: %s)", v, suggest(v, kinds), strings.Join(kinds, ", "))
				}
			}
		}
		prev, seen := allowed[f.field]
		if !seen {
			allowed[f.field] = f.values
			continue
		}
		var both []string
		for _, v := range f.values {
			if slices.Contains(prev, v) {
				both = append(both, v)
			}
		}
		if len(both) == 0 {
			return fmt.Sprintf("%s cannot be both %s and %s", FieldNames[f.field], quoteList(prev), quoteList(f.values))
		}
		allowed[f.field] = both
	}
	return ""
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q, ", ")
}

// finite reports whether a float result is usable as a measurement.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
