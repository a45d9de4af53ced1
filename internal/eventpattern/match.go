package eventpattern

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Match reports whether the event (a JSON object) matches. It returns an
// error when the event is not valid JSON or not an object. The whole event is
// validated, but only the fields the pattern reads are decoded.
func (p *Pattern) Match(event []byte) (bool, error) {
	v, err := decodeJSON(event, p.shape)
	if err != nil {
		return false, fmt.Errorf("event is not valid JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false, fmt.Errorf("event must be a JSON object, got %s", typeName(v))
	}
	return p.root.match(m), nil
}

// match matches an event object; ev is nil when the event has no object at
// this place, so that only {"exists": false} leaves can match.
func (o *object) match(ev map[string]any) bool {
	for i := range o.fields {
		f := &o.fields[i]
		v, present := ev[f.name]
		if f.leaf != nil {
			if !f.leaf.match(v, present) {
				return false
			}
		} else if !f.obj.matchValue(v) {
			return false
		}
	}
	if o.or == nil {
		return true
	}
	for _, alt := range o.or {
		if alt.match(ev) {
			return true
		}
	}
	return false
}

// matchValue matches the event value found where the pattern has a nested
// object.
func (o *object) matchValue(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return o.match(x)
	case []any:
		if matched, sawObject := o.matchArray(x); sawObject {
			return matched
		}
	}
	return o.match(nil)
}

// matchArray reports whether any object in arr (or in arrays nested in it)
// matches, and whether there was any object at all.
func (o *object) matchArray(arr []any) (matched, sawObject bool) {
	for _, e := range arr {
		switch x := e.(type) {
		case map[string]any:
			sawObject = true
			if o.match(x) {
				return true, true
			}
		case []any:
			m, s := o.matchArray(x)
			if m {
				return true, true
			}
			sawObject = sawObject || s
		}
	}
	return false, sawObject
}

// match matches the event value v of a leaf; present is false when the event
// has no such field.
func (l *leaf) match(v any, present bool) bool {
	if !present {
		return l.ifAbsent
	}
	matched, sawLeaf := l.matchAny(v)
	if !sawLeaf {
		// Objects and empty arrays are not leaf values.
		return l.ifAbsent
	}
	return matched
}

func (l *leaf) matchAny(v any) (matched, sawLeaf bool) {
	switch x := v.(type) {
	case map[string]any:
		return false, false
	case []any:
		for _, e := range x {
			m, s := l.matchAny(e)
			if m {
				return true, true
			}
			sawLeaf = sawLeaf || s
		}
		return false, sawLeaf
	}
	for _, m := range l.matchers {
		if m.match(v) {
			return true, true
		}
	}
	return false, true
}

// matcher is one alternative of a leaf. match gets a scalar event value:
// string, json.Number, bool or nil.
type matcher interface {
	match(v any) bool
}

type nullMatcher struct{}

func (nullMatcher) match(v any) bool { return v == nil }

type boolMatcher bool

func (b boolMatcher) match(v any) bool {
	x, ok := v.(bool)
	return ok && x == bool(b)
}

type exactString string

func (s exactString) match(v any) bool {
	x, ok := v.(string)
	return ok && x == string(s)
}

// numberMatcher matches a number equal in value, also used for numeric "=".
type numberMatcher struct{ d decimal }

func (n numberMatcher) match(v any) bool {
	x, ok := v.(json.Number)
	if !ok {
		return false
	}
	if string(x) == n.d.src {
		return true
	}
	d, ok := parseDecimal(string(x))
	return ok && d.cmp(n.d) == 0
}

type rangeMatcher struct {
	lo, hi         decimal
	hasLo, hasHi   bool
	loOpen, hiOpen bool
}

func (r rangeMatcher) match(v any) bool {
	x, ok := v.(json.Number)
	if !ok {
		return false
	}
	d, ok := parseDecimal(string(x))
	if !ok {
		return false
	}
	if r.hasLo {
		if c := d.cmp(r.lo); c < 0 || c == 0 && r.loOpen {
			return false
		}
	}
	if r.hasHi {
		if c := d.cmp(r.hi); c > 0 || c == 0 && r.hiOpen {
			return false
		}
	}
	return true
}

type prefixMatcher struct {
	s    string // lower case when fold
	fold bool
}

func (p prefixMatcher) match(v any) bool {
	x, ok := v.(string)
	if !ok {
		return false
	}
	if p.fold {
		x = strings.ToLower(x)
	}
	return strings.HasPrefix(x, p.s)
}

type suffixMatcher struct {
	s    string // lower case when fold
	fold bool
}

func (p suffixMatcher) match(v any) bool {
	x, ok := v.(string)
	if !ok {
		return false
	}
	if p.fold {
		x = strings.ToLower(x)
	}
	return strings.HasSuffix(x, p.s)
}

// foldMatcher is equals-ignore-case.
type foldMatcher string

func (f foldMatcher) match(v any) bool {
	x, ok := v.(string)
	return ok && strings.EqualFold(x, string(f))
}

// wildcardMatcher holds the literal parts between the '*' of a wildcard.
type wildcardMatcher []string

func (w wildcardMatcher) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	if len(w) == 1 {
		return s == w[0]
	}
	if !strings.HasPrefix(s, w[0]) {
		return false
	}
	s = s[len(w[0]):]
	for _, part := range w[1 : len(w)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, w[len(w)-1])
}

// notMatcher is anything-but: it matches a value none of its matchers match.
type notMatcher []matcher

func (n notMatcher) match(v any) bool {
	for _, m := range n {
		if m.match(v) {
			return false
		}
	}
	return true
}

// existsMatcher matches any leaf value when true and none when false; the
// absence of a value is handled by leaf.ifAbsent.
type existsMatcher bool

func (e existsMatcher) match(any) bool { return bool(e) }

type cidrMatcher struct{ p netip.Prefix }

func (c cidrMatcher) match(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	if c.p.Addr().Is4() {
		a = a.Unmap()
	}
	return c.p.Contains(a)
}

// decimal is an exact decimal number: 0.digits × 10^exp, with no leading or
// trailing zeros in digits; zero has no digits.
type decimal struct {
	neg    bool
	digits string
	exp    int
	src    string // the number as written
}

// parseDecimal reads a JSON number (also accepting Go's "1e+21" forms).
func parseDecimal(s string) (decimal, bool) {
	d := decimal{src: s}
	i := 0
	if i < len(s) && s[i] == '-' {
		d.neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		start = i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[start:i]
		if frac == "" {
			return d, false
		}
	}
	if intPart == "" {
		return d, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > 1e8 || e < -1e8 {
			return d, false
		}
		exp = e
		i = len(s)
	}
	if i != len(s) {
		return d, false
	}
	digits := intPart
	if frac != "" {
		digits = intPart + frac
	}
	exp += len(intPart)
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		exp--
	}
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return decimal{src: s}, true // zero, whatever its sign
	}
	d.digits, d.exp = digits, exp
	return d, true
}

func (d decimal) sign() int {
	switch {
	case d.digits == "":
		return 0
	case d.neg:
		return -1
	}
	return 1
}

// cmp compares d and e by value: -1, 0 or +1.
func (d decimal) cmp(e decimal) int {
	ds, es := d.sign(), e.sign()
	if ds != es || ds == 0 {
		return compareInts(ds, es)
	}
	c := compareInts(d.exp, e.exp)
	if c == 0 {
		c = strings.Compare(d.digits, e.digits)
	}
	return c * ds
}

func (d decimal) String() string { return d.src }

func compareInts(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
