package expression

import (
	"errors"
	"fmt"
	"reflect"
	"regexp/syntax"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm/runtime"
)

// The evaluation budget. Every expression is costed when it is compiled,
// in steps (about one step per node the VM evaluates, a loop's body once
// per item): what is known then — literals, last(n), ranges between
// literals — is counted, and `validate` rejects an expression whose cost
// is over MaxCost. What only the event can tell (a list in lineage, a
// label's length) is charged while the expression runs, before the work is
// done: an evaluation that would go over MaxCost stops with an error, as
// does one that builds more than MaxItems list items. So no expression
// holds the router for more than a few milliseconds of CPU or a few
// megabytes, whatever the event (see BenchmarkWorstRule here and in
// internal/engine).
const (
	// MaxNodes bounds the syntax tree of one expression (expr.MaxNodes).
	MaxNodes = 1000
	// MaxListLiteral bounds the items of one list or map literal.
	MaxListLiteral = 500
	// MaxStringLiteral bounds the bytes of one string literal.
	MaxStringLiteral = 1024
	// MaxCost bounds the steps of one evaluation.
	MaxCost = 250_000
	// MaxItems bounds the items of the lists, maps and ranges one
	// evaluation builds (the VM's memory budget).
	MaxItems = 100_000
)

// BudgetError is an evaluation stopped for going over its budget.
type BudgetError struct{ msg string }

func (e *BudgetError) Error() string { return e.msg }

var errOverCost = &BudgetError{fmt.Sprintf("over budget: the rule needs more than %d steps for this event", MaxCost)}

// overBudget reports whether err stopped an evaluation over its budget:
// ours, or the VM's own count of the items built (a bare message).
func overBudget(err error) (*BudgetError, bool) {
	var be *BudgetError
	if errors.As(err, &be) {
		return be, true
	}
	var fe *file.Error
	if errors.As(err, &fe) && fe.Message == "memory budget exceeded" {
		return &BudgetError{fmt.Sprintf("over budget: the rule builds lists of more than %d items for this event", MaxItems)}, true
	}
	return nil, false
}

// position is where in the expression an evaluation error happened, as
// line:column.
func position(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("%d:%d", fe.Line, fe.Column+1)
	}
	return "?"
}

// runState is what one evaluation carries besides the event: the series
// and the lists last(n) returned (see lastFunc), and the steps spent.
type runState struct {
	h     History
	vals  []float64
	spent int
	limit int // steps the evaluation may spend at run time
}

// maxKeptValues bounds the array of last(n) values kept between
// evaluations: a rule that called last(500) in a loop leaves nothing big.
const maxKeptValues = 4096

// start begins an evaluation that may spend limit steps at run time. The
// lists of the previous evaluation are forgotten.
func (s *runState) start(limit int) {
	if cap(s.vals) > maxKeptValues {
		s.vals = nil
	}
	s.vals, s.spent, s.limit = s.vals[:0], 0, limit
}

func (s *runState) charge(steps int) error {
	s.spent += steps
	if s.spent > s.limit || steps < 0 { // negative: an overflow
		return errOverCost
	}
	return nil
}

// Names of the functions the budget pass inserts: charge(x, k) charges k
// steps per item of x, chargeLoop(x, k) per item after the first (whose
// cost is counted at compile time). Both return x.
const (
	nameCharge     = "__charge__"
	nameChargeLoop = "__charge_loop__"
)

func chargeFunc(params ...any) (any, error) {
	return charge(params, 0)
}

func chargeLoopFunc(params ...any) (any, error) {
	return charge(params, 1)
}

func charge(params []any, prepaid int) (any, error) {
	x, k := params[0], params[1].(int)
	if s, _ := params[2].(*runState); s != nil {
		if n := size(x) - prepaid; n > 0 {
			if err := s.charge(mul(n, k)); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

// Names of the functions that replace ==, != and in where lists may meet.
const (
	nameEqual    = "__equal__"
	nameNotEqual = "__not_equal__"
	nameIn       = "__in__"
)

func equalFunc(params ...any) (any, error) {
	s, _ := params[2].(*runState)
	return equal(params[0], params[1], s)
}

func notEqualFunc(params ...any) (any, error) {
	s, _ := params[2].(*runState)
	eq, err := equal(params[0], params[1], s)
	if err != nil {
		return nil, err
	}
	return !eq, nil
}

func inFunc(params ...any) (any, error) {
	needle, list := params[0], params[1]
	s, _ := params[2].(*runState)
	v := reflect.ValueOf(list)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		if s != nil {
			if err := s.charge(size(needle)); err != nil {
				return nil, err
			}
		}
		return runtime.In(needle, list), nil // a map's key, a struct's field
	}
	for i := range v.Len() {
		eq, err := equal(v.Index(i).Interface(), needle, s)
		if err != nil || eq {
			return eq, err
		}
	}
	return false, nil
}

// equal is the VM's equality (runtime.Equal), charged as it goes: lists
// and maps item by item — one may hold another many times over, or a
// large list from the event — strings by their length. (Inside maps it
// compares numbers as the VM does in lists, 1 == 1.0, where the VM's own
// map equality is Go's reflect.DeepEqual.)
func equal(a, b any, s *runState) (bool, error) {
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	if s != nil {
		cost := 1
		if av.Kind() == reflect.String {
			cost = size(a)
		}
		if err := s.charge(cost); err != nil {
			return false, err
		}
	}
	switch {
	case isList(av) && isList(bv):
		if av.Len() != bv.Len() {
			return false, nil
		}
		for i := range av.Len() {
			if eq, err := equal(av.Index(i).Interface(), bv.Index(i).Interface(), s); err != nil || !eq {
				return eq, err
			}
		}
		return true, nil
	case av.Kind() == reflect.Map && bv.Kind() == reflect.Map && av.Type().Key() == bv.Type().Key():
		if av.Len() != bv.Len() {
			return false, nil
		}
		for it := av.MapRange(); it.Next(); {
			w := bv.MapIndex(it.Key())
			if !w.IsValid() {
				return false, nil
			}
			if eq, err := equal(it.Value().Interface(), w.Interface(), s); err != nil || !eq {
				return eq, err
			}
		}
		return true, nil
	}
	return runtime.Equal(a, b), nil
}

func isList(v reflect.Value) bool {
	return v.Kind() == reflect.Slice || v.Kind() == reflect.Array
}

// size is what a value counts for in the budget: the items of a list or
// map, one per 16 bytes of a string.
func size(x any) int {
	switch v := x.(type) {
	case nil, bool, int, float64, time.Time, time.Duration:
		return 0
	case string:
		return len(v)/16 + 1
	case []any:
		return len(v)
	case []float64:
		return len(v)
	case []string:
		return len(v)
	case map[string]any:
		return len(v)
	case map[string]string:
		return len(v)
	}
	switch v := reflect.ValueOf(x); v.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return v.Len()
	case reflect.String:
		return v.Len()/16 + 1
	}
	return 0
}

// loops are the builtins that run a predicate per item (or, with no
// predicate, iterate in the VM all the same).
var loops = map[string]bool{"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "count": true, "sum": true, "reduce": true}

// builtinWork is, for each builtin a rule may call besides the loops, the
// steps it takes per unit of size of its list or string arguments (0 for
// constant time). A builtin missing here is not available in rules: those
// that build values larger than their input (repeat, replace, join,
// concat, flatten, toJSON, string of a nested list), uniq (it compares
// every item with every other: quadratic in a list the event brings), or
// that are of no use in a condition (groupBy, sortBy, toPairs, fromPairs,
// timezone, base64).
var builtinWork = map[string]int{
	"len": 0, "type": 0, "abs": 0, "ceil": 0, "floor": 0, "round": 0, "int": 1, "float": 1,
	"trim": 1, "trimPrefix": 1, "trimSuffix": 1, "upper": 5, "lower": 5, "split": 32, "splitAfter": 32,
	"indexOf": 1, "lastIndexOf": 1, "hasPrefix": 1, "hasSuffix": 1,
	"max": 1, "min": 1, "mean": 1, "median": 8, "duration": 1, "date": 1,
	"first": 0, "get": 0, "take": 1, "keys": 1, "values": 1, "reverse": 1, "sort": 8,
	"bitand": 0, "bitor": 0, "bitxor": 0, "bitnand": 0, "bitnot": 0, "bitshl": 0, "bitshr": 0, "bitushr": 0,
}

// callSteps is the cost of calling a function: in a loop, the VM
// allocates each call's arguments.
const callSteps = 4

// fixedSteps is the cost of builtins that do more than one step's work
// whatever their arguments' size.
var fixedSteps = map[string]int{"date": 150, "duration": 5}

// arithmeticSteps is the extra cost of arithmetic: the VM boxes each
// number it computes, an allocation.
const arithmeticSteps = 4

// mapSteps is the cost of each entry of a map the VM builds.
const mapSteps = 20

// costCap keeps cost arithmetic far from overflow; anything near it is
// over budget anyway.
const costCap = 1 << 40

func add(a, b int) int { return min(a+b, costCap) }

func mul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > costCap/b {
		return costCap
	}
	return min(a*b, costCap)
}

// budgeter costs a checked and optimised tree, and wraps each list or
// string whose size only the event can tell in a charge call.
type budgeter struct {
	lets []letSize
	// loop is the costliest loop seen, to point at when over budget.
	loop     *ast.BuiltinNode
	loopCost int
	loopSize int
	err      error
}

// letSize is a let variable whose size is known at compile time.
type letSize struct {
	name  string
	size  int
	known bool
}

// budget costs the tree (rewriting it for the run-time charges) and fails
// when the cost is over MaxCost.
func budget(root *ast.Node) (int, error) {
	b := &budgeter{}
	cost := b.cost(root)
	if b.err != nil {
		return 0, b.err
	}
	if cost <= MaxCost {
		return cost, nil
	}
	msg := fmt.Sprintf("this expression takes an estimated %d steps to evaluate, more than the %d an expression may take per event", cost, MaxCost)
	at := (*root).Location().From
	if b.loop != nil && b.loopCost > MaxCost {
		msg += fmt.Sprintf(": %s() runs its predicate for each of %d items (loops inside loops multiply)", b.loop.Name, b.loopSize)
		at = b.loop.Location().From
	}
	return 0, &Error{Offset: at, Msg: msg}
}

func (b *budgeter) cost(np *ast.Node) int {
	switch n := (*np).(type) {
	case *ast.UnaryNode:
		return add(1, b.cost(&n.Node))
	case *ast.BinaryNode:
		return b.binary(np, n)
	case *ast.ChainNode:
		return add(1, b.cost(&n.Node))
	case *ast.MemberNode:
		return add(1, add(b.cost(&n.Node), b.cost(&n.Property)))
	case *ast.SliceNode:
		c := add(1, b.cost(&n.Node))
		if n.From != nil {
			c = add(c, b.cost(&n.From))
		}
		if n.To != nil {
			c = add(c, b.cost(&n.To))
		}
		return c
	case *ast.CallNode:
		return b.call(n)
	case *ast.BuiltinNode:
		if loops[n.Name] {
			return b.costLoop(n)
		}
		return b.builtin(n)
	case *ast.PredicateNode:
		return b.cost(&n.Node)
	case *ast.VariableDeclaratorNode:
		c := add(1, b.cost(&n.Value))
		s, ok := b.static(n.Value)
		b.lets = append(b.lets, letSize{n.Name, s, ok})
		c = add(c, b.cost(&n.Expr))
		b.lets = b.lets[:len(b.lets)-1]
		return c
	case *ast.SequenceNode:
		c := 0
		for i := range n.Nodes {
			c = add(c, b.cost(&n.Nodes[i]))
		}
		return c
	case *ast.ConditionalNode:
		return add(1, add(b.cost(&n.Cond), add(b.cost(&n.Exp1), b.cost(&n.Exp2))))
	case *ast.ArrayNode:
		c := 1 + callSteps // the VM allocates a list
		for i := range n.Nodes {
			c = add(c, b.cost(&n.Nodes[i]))
		}
		return c
	case *ast.MapNode:
		c := 1 + mapSteps*len(n.Pairs) // the VM allocates a map
		for i := range n.Pairs {
			c = add(c, b.cost(&n.Pairs[i]))
		}
		return c
	case *ast.PairNode:
		return add(b.cost(&n.Key), b.cost(&n.Value))
	}
	return 1 // leaves: names, literals, constants, #
}

// costLoop costs a loop: its list once, its body per item. A list whose
// size only the event tells counts one item now; the others are charged
// when the loop starts.
func (b *budgeter) costLoop(n *ast.BuiltinNode) int {
	c := add(1, b.cost(&n.Arguments[0]))
	body := 1 // the VM's own work per item
	if n.Name == "map" || n.Name == "filter" {
		body = 5 // and building the list
	}
	for i := 1; i < len(n.Arguments); i++ {
		if n.Name == "reduce" && i == 2 {
			c = add(c, b.cost(&n.Arguments[i])) // the initial value, once
			continue
		}
		body = add(body, b.cost(&n.Arguments[i]))
	}
	if n.Map != nil {
		body = add(body, b.cost(&n.Map))
	}
	items, known := b.static(n.Arguments[0])
	if !known {
		items = 1
		b.wrap(&n.Arguments[0], nameChargeLoop, body)
		c = add(c, callSteps)
	}
	c = add(c, mul(items, body))
	if c > b.loopCost {
		b.loop, b.loopCost, b.loopSize = n, c, items
	}
	return c
}

func (b *budgeter) builtin(n *ast.BuiltinNode) int {
	work := builtinWork[n.Name]
	c := 1 + callSteps + fixedSteps[n.Name]
	if n.Name == "trim" && len(n.Arguments) == 2 {
		// Trimming a set of non-ASCII characters takes the set's size
		// per character trimmed.
		cutset, ok := n.Arguments[1].(*ast.StringNode)
		if !ok {
			b.fail(n.Arguments[1], "trim needs the characters to trim written as a literal string")
			return c
		}
		work = 1 + len(cutset.Value)
	}
	for i := range n.Arguments {
		c = add(c, b.cost(&n.Arguments[i]))
		if work > 0 {
			c = add(c, b.sized(&n.Arguments[i], work))
		}
	}
	return c
}

func (b *budgeter) call(n *ast.CallNode) int {
	c := 1 + callSteps
	if id, ok := n.Callee.(*ast.IdentifierNode); ok {
		if lit, ok := n.Arguments[0].(*ast.IntegerNode); ok && (id.Value == nameLast || id.Value == nameSlope) {
			c = add(c, lit.Value) // copying n observations
			if id.Value == nameSlope {
				c = add(c, lit.Value) // fitting them: two passes
			}
		}
	}
	for i := range n.Arguments {
		c = add(c, b.cost(&n.Arguments[i]))
	}
	return c
}

// binary costs an operator; those that compare, search or join strings
// and lists take time in their operands' size.
func (b *budgeter) binary(np *ast.Node, n *ast.BinaryNode) int {
	c := add(1, add(b.cost(&n.Left), b.cost(&n.Right)))
	switch n.Operator {
	case "-", "*", "/", "%", "**", "^":
		return add(c, arithmeticSteps)
	case "==", "!=", "<", "<=", ">", ">=", "startsWith", "endsWith":
		// A comparison stops at the shorter operand.
		if scalar(n.Left) || scalar(n.Right) {
			return c
		}
		if s, ok := literal(n.Left); ok {
			return add(c, s)
		}
		if s, ok := literal(n.Right); ok {
			return add(c, s)
		}
		if n.Operator == "==" || n.Operator == "!=" {
			// Lists are compared item by item, and a list may hold
			// another many times over: charged per item compared.
			fn := map[string]string{"==": nameEqual, "!=": nameNotEqual}[n.Operator]
			b.replace(np, fn, n.Left, n.Right)
			return add(c, callSteps)
		}
		return add(c, b.sized(&n.Left, 1))
	case "in":
		if scalar(n.Right) {
			return c
		}
		if _, ok := literal(n.Right); ok {
			// A literal list is a set by now (expr's optimiser): the
			// item is hashed.
			return add(c, b.sized(&n.Left, 1))
		}
		b.replace(np, nameIn, n.Left, n.Right)
		return add(c, callSteps)
	case "+", "contains":
		if scalar(n.Left) && scalar(n.Right) {
			return add(c, arithmeticSteps)
		}
		return add(c, add(b.sized(&n.Left, 1), b.sized(&n.Right, 1)))
	case "matches":
		pattern, ok := n.Right.(*ast.StringNode)
		if !ok {
			b.fail(n.Right, "matches needs its pattern written as a literal string")
			return c
		}
		return add(c, b.sized(&n.Left, regexpSteps(pattern.Value)))
	}
	return c
}

// regexpSteps is what matching 16 bytes against pattern may cost: Go's
// regexps run in time linear in the input, times the program's size.
func regexpSteps(pattern string) int {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 1 // the compiler reports it
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 1
	}
	return 2 * (1 + len(prog.Inst))
}

// sized is the cost of k steps per unit of size of the operand: counted
// now when its size is known, charged at run time otherwise.
func (b *budgeter) sized(np *ast.Node, k int) int {
	if scalar(*np) {
		return 0
	}
	if s, ok := b.static(*np); ok {
		return mul(s, k)
	}
	b.wrap(np, nameCharge, k)
	return callSteps
}

// wrap replaces *np by fn(*np, k, __run__), keeping its type and place.
func (b *budgeter) wrap(np *ast.Node, fn string, k int) {
	b.replace(np, fn, *np, &ast.ConstantNode{Value: k})
}

// replace replaces *np by fn(args..., __run__), keeping its type and place.
func (b *budgeter) replace(np *ast.Node, fn string, args ...ast.Node) {
	orig := *np
	call := &ast.CallNode{
		Callee:    &ast.IdentifierNode{Value: fn},
		Arguments: append(args, &ast.IdentifierNode{Value: nameRun}),
	}
	call.SetLocation(orig.Location())
	call.SetNature(*orig.Nature())
	*np = call
}

func (b *budgeter) fail(n ast.Node, format string, args ...any) {
	if b.err == nil {
		b.err = &Error{Offset: n.Location().From, Msg: fmt.Sprintf(format, args...)}
	}
}

var timeType, durationType = reflect.TypeOf(time.Time{}), reflect.TypeOf(time.Duration(0))

// scalar reports whether the node's value is known to have a constant
// size: a number, a bool, a time.
func scalar(n ast.Node) bool {
	t := n.Type()
	if t == timeType || t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// literal returns the size of a string or constant: a value with no list
// inside that a computed one could hold many times over.
func literal(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return size(n.Value), true
	case *ast.ConstantNode:
		return size(n.Value), true
	}
	return 0, false
}

// static returns the size of the node's value (as size counts it) when it
// is known at compile time.
func (b *budgeter) static(n ast.Node) (int, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return size(n.Value), true
	case *ast.ConstantNode:
		return size(n.Value), true
	case *ast.ArrayNode:
		return len(n.Nodes), true
	case *ast.MapNode:
		return len(n.Pairs), true
	case *ast.IdentifierNode:
		for i := len(b.lets) - 1; i >= 0; i-- {
			if b.lets[i].name == n.Value {
				return b.lets[i].size, b.lets[i].known
			}
		}
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && id.Value == nameLast {
			if lit, ok := n.Arguments[0].(*ast.IntegerNode); ok {
				return lit.Value, true
			}
		}
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && (id.Value == nameCharge || id.Value == nameChargeLoop) {
			return 0, false
		}
	case *ast.BinaryNode:
		from, ok1 := n.Left.(*ast.IntegerNode)
		to, ok2 := n.Right.(*ast.IntegerNode)
		if n.Operator == ".." && ok1 && ok2 {
			switch {
			case to.Value < from.Value:
				return 0, true
			case to.Value-from.Value < 0 || to.Value-from.Value >= costCap: // overflow
				return costCap, true
			}
			return to.Value - from.Value + 1, true
		}
	case *ast.BuiltinNode:
		switch n.Name {
		case "map", "filter", "sort", "reverse", "uniq", "take", "keys", "values":
			return b.static(n.Arguments[0])
		}
	case *ast.ConditionalNode:
		s1, ok1 := b.static(n.Exp1)
		s2, ok2 := b.static(n.Exp2)
		return max(s1, s2), ok1 && ok2
	}
	return 0, false
}

// checkLimits rejects, before type checking, what no expression may hold:
// literals over their size limit, the names the budget and the history
// functions use internally, and builtins rules may not call.
func checkLimits(root ast.Node) error {
	var err error
	fail := func(n ast.Node, format string, args ...any) {
		if err == nil {
			err = &Error{Offset: n.Location().From, Msg: fmt.Sprintf(format, args...)}
		}
	}
	walk(root, func(n ast.Node) {
		switch n := n.(type) {
		case *ast.StringNode:
			if len(n.Value) > MaxStringLiteral {
				fail(n, "this string is %d bytes long, more than the %d a literal may have", len(n.Value), MaxStringLiteral)
			}
		case *ast.BytesNode:
			if len(n.Value) > MaxStringLiteral {
				fail(n, "these bytes are %d long, more than the %d a literal may have", len(n.Value), MaxStringLiteral)
			}
		case *ast.ArrayNode:
			if len(n.Nodes) > MaxListLiteral {
				fail(n, "this list has %d items, more than the %d a literal may have", len(n.Nodes), MaxListLiteral)
			}
		case *ast.MapNode:
			if len(n.Pairs) > MaxListLiteral {
				fail(n, "this map has %d entries, more than the %d a literal may have", len(n.Pairs), MaxListLiteral)
			}
		case *ast.IdentifierNode:
			if strings.HasPrefix(n.Value, "__") {
				fail(n, "unknown name %q", n.Value)
			}
		case *ast.VariableDeclaratorNode:
			if strings.HasPrefix(n.Name, "__") {
				fail(n, "names starting with __ are reserved")
			}
		case *ast.BuiltinNode:
			if _, ok := builtinWork[n.Name]; !ok && !loops[n.Name] {
				fail(n, "%s() is not available in rules: it builds values larger than its input, or has no use in a condition", n.Name)
			}
		}
	})
	return err
}
