// Package eventpattern matches events against Amazon EventBridge event
// patterns, so that tests can prove that captured events (full EventBridge
// envelopes) are selected by the rules of the SAM template, and that bad ones
// are not, without calling AWS.
//
// It implements a subset of EventBridge's pattern language, following AWS's
// "Event patterns" and "Content filtering in Amazon EventBridge event
// patterns" pages and the behaviour of aws/event-ruler, the engine behind
// EventBridge:
//
//   - a pattern is a JSON object; every field in it must match (AND), nested
//     objects match nested event objects;
//   - a leaf is an array of alternatives (OR): strings, numbers, true, false,
//     null, or filter objects: prefix, suffix, equals-ignore-case, wildcard,
//     anything-but, numeric, exists, cidr;
//   - "$or" takes an array of at least two sub-patterns, one of which must
//     match;
//   - a field missing from the event does not match, except {"exists": false};
//     an object or an empty array in the event is not a leaf value, so it
//     counts as missing for a leaf of the pattern;
//   - when the event value is an array, a leaf matches if any element does
//     (so anything-but matches if any element is not excluded); when a nested
//     pattern meets an array of objects, one element must match all of it;
//   - strings never match numbers ("300" does not match 300); numbers compare
//     by exact decimal value, so 300 matches 300.0 and 3e2, as event-ruler
//     does (AWS's page still says they differ);
//   - anything-but excludes only values of its own type: {"anything-but": 5}
//     matches "5".
//
// Not implemented: matching an exact string that is an IP address by value
// (EventBridge treats "10.0.0.1" patterns as addresses), EventBridge's limits
// on numeric ranges (±5e9, six decimal places) and on pattern size, and
// reserved-word checks inside "$or". Duplicate keys keep the last one, as
// EventBridge documents.
package eventpattern

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Pattern is a compiled event pattern. It is safe for concurrent use.
type Pattern struct {
	root  *object
	shape *shape // what Match decodes of an event
}

// Compile parses and validates a pattern (JSON). Errors name the problem and
// the path in the pattern, e.g. `detail.value: numeric: unknown operator "=>"`.
func Compile(pattern []byte) (*Pattern, error) {
	v, err := decodeJSON(pattern, allShape)
	if err != nil {
		return nil, fmt.Errorf("pattern is not valid JSON: %w", err)
	}
	return FromValue(v)
}

// FromValue compiles an already-decoded pattern, such as the Pattern of an
// EventBridge rule read from a YAML template: map[string]any (or map[any]any
// with string keys), []any, string, bool, nil, and numbers as json.Number,
// float64, float32 or any integer type.
func FromValue(v any) (*Pattern, error) {
	m, ok := asObject(v)
	if !ok {
		return nil, fmt.Errorf("pattern must be a JSON object, got %s", typeName(v))
	}
	root, err := compileObject(m, "")
	if err != nil {
		return nil, err
	}
	fields := map[string]*shape{}
	addShape(root, fields)
	return &Pattern{root: root, shape: &shape{fields: fields}}, nil
}

// object is a compiled pattern object: all fields and all "$or" groups must
// match.
type object struct {
	fields []field
	or     []*object // alternatives of "$or"; nil when absent
}

// field is one key of a pattern object: either a nested object or a leaf.
type field struct {
	name string
	obj  *object
	leaf *leaf
}

// leaf is an array of alternatives.
type leaf struct {
	matchers []matcher
	// ifAbsent is whether the leaf matches when the event has no leaf value
	// for it (the pattern lists {"exists": false}).
	ifAbsent bool
}

// pathError formats an error at a path of the pattern.
func pathError(path, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return errors.New("pattern: " + msg)
	}
	return errors.New(path + ": " + msg)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func compileObject(m map[string]any, path string) (*object, error) {
	if len(m) == 0 {
		return nil, pathError(path, "empty object: a pattern object needs at least one field")
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	sort.Strings(names)
	o := &object{}
	for _, name := range names {
		v := m[name]
		p := join(path, name)
		if name == "$or" {
			alts, err := compileOr(v, p)
			if err != nil {
				return nil, err
			}
			o.or = alts
			continue
		}
		if sub, ok := asObject(v); ok {
			child, err := compileObject(sub, p)
			if err != nil {
				return nil, err
			}
			o.fields = append(o.fields, field{name: name, obj: child})
			continue
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, pathError(p, "want an array of values or a nested object, got %s", describe(v))
		}
		l, err := compileLeaf(arr, p)
		if err != nil {
			return nil, err
		}
		o.fields = append(o.fields, field{name: name, leaf: l})
	}
	return o, nil
}

func compileOr(v any, path string) ([]*object, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, pathError(path, "want an array of at least 2 pattern objects, got %s", describe(v))
	}
	if len(arr) < 2 {
		return nil, pathError(path, "want an array of at least 2 pattern objects, got %d", len(arr))
	}
	alts := make([]*object, 0, len(arr))
	for i, e := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		m, ok := asObject(e)
		if !ok {
			return nil, pathError(p, "want a pattern object, got %s", describe(e))
		}
		o, err := compileObject(m, p)
		if err != nil {
			return nil, err
		}
		alts = append(alts, o)
	}
	return alts, nil
}

func compileLeaf(arr []any, path string) (*leaf, error) {
	if len(arr) == 0 {
		return nil, pathError(path, "empty array: want at least one value to match")
	}
	l := &leaf{}
	for _, e := range arr {
		switch x := e.(type) {
		case nil:
			l.matchers = append(l.matchers, nullMatcher{})
		case bool:
			l.matchers = append(l.matchers, boolMatcher(x))
		case string:
			l.matchers = append(l.matchers, exactString(x))
		case []any:
			return nil, pathError(path, "nested array is not allowed; values are strings, numbers, true, false, null or filter objects")
		default:
			if d, ok, err := asDecimal(e); ok {
				if err != nil {
					return nil, pathError(path, "%v", err)
				}
				l.matchers = append(l.matchers, numberMatcher{d})
				continue
			}
			m, ok := asObject(e)
			if !ok {
				return nil, pathError(path, "unsupported value of type %T", e)
			}
			mt, err := compileFilter(m, path)
			if err != nil {
				return nil, err
			}
			if ex, ok := mt.(existsMatcher); ok && !bool(ex) {
				l.ifAbsent = true
			}
			l.matchers = append(l.matchers, mt)
		}
	}
	return l, nil
}

// compileFilter compiles a filter object such as {"prefix": "us-"}.
func compileFilter(m map[string]any, path string) (matcher, error) {
	if len(m) != 1 {
		if len(m) == 0 {
			return nil, pathError(path, "empty filter object: want one of %s", filterNames)
		}
		return nil, pathError(path, "filter object has %d keys (%s), want exactly one", len(m), strings.Join(sortedKeys(m), ", "))
	}
	var name string
	var v any
	for name, v = range m {
	}
	fail := func(format string, args ...any) error {
		return pathError(path, name+": "+format, args...)
	}
	switch name {
	case "prefix", "suffix":
		s, fold, err := stringOrIgnoreCase(v)
		if err != nil {
			return nil, fail("%v", err)
		}
		if name == "prefix" {
			return prefixMatcher{s: s, fold: fold}, nil
		}
		return suffixMatcher{s: s, fold: fold}, nil
	case "equals-ignore-case":
		s, ok := v.(string)
		if !ok {
			return nil, fail("want a string, got %s", describe(v))
		}
		return foldMatcher(strings.ToLower(s)), nil
	case "wildcard":
		s, ok := v.(string)
		if !ok {
			return nil, fail("want a string, got %s", describe(v))
		}
		w, err := parseWildcard(s)
		if err != nil {
			return nil, fail("%v", err)
		}
		return w, nil
	case "anything-but":
		mt, err := compileAnythingBut(v)
		if err != nil {
			return nil, fail("%v", err)
		}
		return mt, nil
	case "numeric":
		mt, err := compileNumeric(v)
		if err != nil {
			return nil, fail("%v", err)
		}
		return mt, nil
	case "exists":
		b, ok := v.(bool)
		if !ok {
			return nil, fail("want true or false, got %s", describe(v))
		}
		return existsMatcher(b), nil
	case "cidr":
		s, ok := v.(string)
		if !ok {
			return nil, fail("want a string like \"10.0.0.0/24\", got %s", describe(v))
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fail("invalid CIDR block %q", s)
		}
		return cidrMatcher{p.Masked()}, nil
	default:
		return nil, pathError(path, "unknown filter %q, want one of %s", name, filterNames)
	}
}

const filterNames = "prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr"

// stringOrIgnoreCase reads the value of prefix or suffix: a string, or
// {"equals-ignore-case": string}.
func stringOrIgnoreCase(v any) (s string, fold bool, err error) {
	if s, ok := v.(string); ok {
		return s, false, nil
	}
	if m, ok := asObject(v); ok && len(m) == 1 {
		if x, ok := m["equals-ignore-case"]; ok {
			if s, ok := x.(string); ok {
				return strings.ToLower(s), true, nil
			}
			return "", false, fmt.Errorf("equals-ignore-case: want a string, got %s", describe(x))
		}
		return "", false, fmt.Errorf("unknown form %q, want a string or {\"equals-ignore-case\": string}", sortedKeys(m)[0])
	}
	return "", false, fmt.Errorf("want a string or {\"equals-ignore-case\": string}, got %s", describe(v))
}

// compileAnythingBut compiles the value of anything-but: a string, a number,
// a list of only strings or only numbers, or an object {"prefix" |
// "suffix" | "equals-ignore-case" | "wildcard": string or list of strings}.
func compileAnythingBut(v any) (matcher, error) {
	if m, ok := asObject(v); ok {
		if len(m) != 1 {
			return nil, fmt.Errorf("want one of prefix, suffix, equals-ignore-case or wildcard, got %d keys", len(m))
		}
		var name string
		var x any
		for name, x = range m {
		}
		strs, err := stringList(x)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		var ms []matcher
		for _, s := range strs {
			switch name {
			case "prefix", "suffix":
				if s == "" {
					return nil, fmt.Errorf("%s: empty string is not allowed", name)
				}
				if name == "prefix" {
					ms = append(ms, prefixMatcher{s: s})
				} else {
					ms = append(ms, suffixMatcher{s: s})
				}
			case "equals-ignore-case":
				ms = append(ms, foldMatcher(strings.ToLower(s)))
			case "wildcard":
				w, err := parseWildcard(s)
				if err != nil {
					return nil, fmt.Errorf("wildcard: %v", err)
				}
				ms = append(ms, w)
			default:
				return nil, fmt.Errorf("unknown form %q, want prefix, suffix, equals-ignore-case or wildcard", name)
			}
		}
		return notMatcher(ms), nil
	}
	vals, ok := v.([]any)
	if !ok {
		vals = []any{v}
	} else if len(vals) == 0 {
		return nil, errors.New("empty list")
	}
	var ms []matcher
	var strs, nums int
	for _, e := range vals {
		if s, ok := e.(string); ok {
			strs++
			ms = append(ms, exactString(s))
			continue
		}
		d, ok, err := asDecimal(e)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("want a string, a number, a list of either, or an object, got %s", describe(e))
		}
		nums++
		ms = append(ms, numberMatcher{d})
	}
	if strs > 0 && nums > 0 {
		return nil, errors.New("list mixes strings and numbers; use only one type")
	}
	return notMatcher(ms), nil
}

// stringList reads a string or a non-empty list of strings.
func stringList(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a string or a list of strings, got %s", describe(v))
	}
	if len(arr) == 0 {
		return nil, errors.New("empty list")
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, got %s in it", describe(e))
		}
		out[i] = s
	}
	return out, nil
}

// compileNumeric compiles [op, n] or [">" | ">=", n, "<" | "<=", m].
func compileNumeric(v any) (matcher, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want an array like [\">\", 0, \"<=\", 5], got %s", describe(v))
	}
	if len(arr) == 0 {
		return nil, errors.New("empty array, want an operator and a number like [\"<\", 10]")
	}
	var r rangeMatcher
	for i := 0; i < len(arr); i += 2 {
		op, ok := arr[i].(string)
		if !ok {
			return nil, fmt.Errorf("want an operator (=, <, <=, >, >=) at position %d, got %s", i, describe(arr[i]))
		}
		switch op {
		case "=", "<", "<=", ">", ">=":
		default:
			return nil, fmt.Errorf("unknown operator %q, want =, <, <=, > or >=", op)
		}
		if i+1 >= len(arr) {
			return nil, fmt.Errorf("operator %q has no number after it", op)
		}
		d, isNum, err := asDecimal(arr[i+1])
		if err != nil {
			return nil, err
		}
		if !isNum {
			return nil, fmt.Errorf("operator %q needs a number, got %s", op, describe(arr[i+1]))
		}
		switch {
		case i == 0 && op == "=":
			if len(arr) > 2 {
				return nil, errors.New("\"=\" cannot be combined with other operators")
			}
			return numberMatcher{d}, nil
		case i == 0 && (op == ">" || op == ">="):
			r.lo, r.hasLo, r.loOpen = d, true, op == ">"
		case op == "<" || op == "<=":
			r.hi, r.hasHi, r.hiOpen = d, true, op == "<"
			if i+2 < len(arr) {
				return nil, fmt.Errorf("too many elements: %q must be the last operator", op)
			}
		default:
			return nil, fmt.Errorf("operator %q cannot follow %q; a range is [\">\" or \">=\", n, \"<\" or \"<=\", m]", op, arr[0])
		}
	}
	if r.hasLo && r.hasHi {
		if c := r.lo.cmp(r.hi); c > 0 || c == 0 && (r.loOpen || r.hiOpen) {
			return nil, fmt.Errorf("empty range: nothing is %s %s and %s %s", arr[0], r.lo, arr[2], r.hi)
		}
	}
	return r, nil
}

// parseWildcard splits a wildcard pattern on its unescaped '*'. `\*` is a
// literal star and `\\` a literal backslash; other escapes and consecutive
// stars are rejected, as in EventBridge.
func parseWildcard(s string) (wildcardMatcher, error) {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || s[i+1] != '*' && s[i+1] != '\\' {
				return nil, fmt.Errorf("invalid escape in %q: a backslash may only escape '*' or '\\'", s)
			}
			i++
			cur.WriteByte(s[i])
		case '*':
			if i+1 < len(s) && s[i+1] == '*' {
				return nil, fmt.Errorf("consecutive '*' in %q are not allowed", s)
			}
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return wildcardMatcher(append(parts, cur.String())), nil
}

// asObject returns v as a map with string keys.
func asObject(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = x
		}
		return out, true
	}
	return nil, false
}

// asDecimal converts a number of any of the types FromValue accepts.
// ok reports whether v is a number at all.
func asDecimal(v any) (d decimal, ok bool, err error) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return d, true, fmt.Errorf("number %v is not allowed", x)
		}
		s = strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return d, true, fmt.Errorf("number %v is not allowed", x)
		}
		s = strconv.FormatFloat(float64(x), 'g', -1, 32)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		s = fmt.Sprint(x) // decimal digits, as the pattern wrote them
	default:
		return d, false, nil
	}
	d, ok = parseDecimal(s)
	if !ok {
		return d, true, fmt.Errorf("invalid number %q", s)
	}
	return d, true, nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	}
	if _, ok := asObject(v); ok {
		return "object"
	}
	if _, ok, _ := asDecimal(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// describe is typeName with the value for scalars, for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("string %q", x)
	case bool:
		return fmt.Sprintf("boolean %v", x)
	}
	if _, ok, _ := asDecimal(v); ok {
		return fmt.Sprintf("number %v", v)
	}
	return typeName(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
