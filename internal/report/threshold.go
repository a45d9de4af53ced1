package report

import (
	"strconv"
	"strings"
)

// threshold is what a rule's reading was compared with when it last fired,
// read from the alert's explanation (state.Alert.Why, engine.Why): of the
// clause "(mean(last(7))) = 0.0526 > (business.expected_churn_rate * 1.5)
// = 0.0525", the right side.
type threshold struct {
	Value float64
	Op    string // the comparison, with the reading on its left: ">", "<=", …
	// Of is what the rule compares when it is not the reading itself
	// ("mean(last(7))"): the line is then a guide, not the reading's limit.
	Of string
	// Source is the right side as written ("business.expected_churn_rate
	// * 1.5"), "" for a literal.
	Source string
}

// comparisonOps, longest first so that ">=" is not read as ">".
var comparisonOps = []string{">=", "<=", ">", "<"}

var flipped = map[string]string{">": "<", "<": ">", ">=": "<=", "<=": ">="}

// parseThreshold reads the first clause of why that compares with a
// number. Rules are expressions, so there may be none: a rule of error
// rates, a list test, or a comparison with a string.
func parseThreshold(why string) (threshold, bool) {
	for _, clause := range splitTop(why, " and ") {
		op, i := findOp(clause)
		if op == "" {
			continue
		}
		lhs, rhs := strings.TrimSpace(clause[:i]), strings.TrimSpace(clause[i+len(op)+2:])
		if _, ok := literal(lhs); ok { // "0.2 < value": the limit on the left
			lhs, rhs, op = rhs, lhs, flipped[op]
		}
		v, src, ok := side(rhs)
		if !ok {
			continue
		}
		t := threshold{Value: v, Op: op, Source: src}
		if _, lsrc, _ := side(lhs); lsrc != "value" {
			t.Of = lsrc
		}
		return t, true
	}
	return threshold{}, false
}

// side reads one side of a described comparison (expression.sideText):
// "0.25" (a literal), "baseline 0.8" (a name and its value), or
// "(src) = 0.0525" (anything computed). It returns the value and the
// source ("" for a literal).
func side(s string) (float64, string, bool) {
	if v, ok := literal(s); ok {
		return v, "", true
	}
	if src, val, ok := cutLast(s, " = "); ok && strings.HasPrefix(src, "(") && strings.HasSuffix(src, ")") {
		v, ok := literal(val)
		src = src[1 : len(src)-1]
		if l, isLit := literal(src); isLit && l == v { // "(-0.001) = -0.001": a literal
			src = ""
		}
		return v, src, ok
	}
	if src, val, ok := cutLast(s, " "); ok {
		v, ok := literal(val)
		return v, src, ok
	}
	return 0, s, false
}

func literal(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return v, err == nil
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// findOp finds a comparison standing between spaces outside brackets and
// quotes, and returns it with its index (of the space before it).
func findOp(s string) (string, int) {
	found := ""
	i := scanTop(s, func(i int) int {
		if s[i] != ' ' {
			return 0
		}
		for _, op := range comparisonOps {
			if strings.HasPrefix(s[i+1:], op+" ") {
				found = op
				return -1
			}
		}
		return 0
	})
	return found, i
}

// splitTop splits s at sep where sep stands outside brackets and quotes:
// the clauses engine.Why joins with " and ".
func splitTop(s, sep string) []string {
	var out []string
	start := 0
	scanTop(s, func(i int) int {
		if !strings.HasPrefix(s[i:], sep) {
			return 0
		}
		out = append(out, s[start:i])
		start = i + len(sep)
		return len(sep) - 1
	})
	return append(out, s[start:])
}

// scanTop calls at with the index of each byte of s that stands outside
// brackets and quotes (an expression's text, as engine.Why quotes it). at
// returns how many bytes to skip after it, or -1 to stop there: scanTop
// then returns that index, and -1 when s ends first.
func scanTop(s string, at func(i int) int) int {
	depth, quote := 0, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
		case c == ')' || c == ']' || c == '}':
			depth--
		case depth == 0:
			skip := at(i)
			if skip < 0 {
				return i
			}
			i += skip
		}
	}
	return -1
}
