package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/expression"
)

// doc decodes one YAML file by walking its node tree, so that every value
// keeps its line and column and every problem is collected rather than
// stopping at the first (a pull request should show all of them at once).
type doc struct {
	file     string // path as shown to the user
	src      []byte
	problems []Problem
	errors   int

	exprCompiler *expression.Compiler
}

func (d *doc) errorf(n *yaml.Node, format string, args ...any) {
	d.errors++
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

func (d *doc) errorAt(p Pos, format string, args ...any) {
	d.errors++
	d.problems = append(d.problems, Problem{File: d.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
}

func (d *doc) warnf(n *yaml.Node, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Col: n.Column, Warning: true, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxExpandedNodes bounds what aliases may expand to: the walker follows
// aliases, so a "billion laughs" file of a few hundred bytes would otherwise
// expand to billions of nodes.
const maxExpandedNodes = 100_000

// parse reads the file's single document. A syntax error is reported at its
// line (yaml.v3 does not give the column) and yields nil; so do a second
// document (silently ignoring it would hide its rules from validation) and
// excessive aliasing.
func (d *doc) parse() *yaml.Node {
	if d.src == nil && d.errors > 0 {
		return nil // not read, and reported so
	}
	dec := yaml.NewDecoder(bytes.NewReader(d.src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorAt(Pos{1, 1}, "file is empty")
			return nil
		}
		d.syntaxError(err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorAt(Pos{next.Line, next.Column}, "a second YAML document (after ---): one file holds one %s; move it to its own file", d.what())
		return nil
	case !errors.Is(err, io.EOF):
		d.syntaxError(err)
		return nil
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		d.errorAt(Pos{1, 1}, "file is empty")
		return nil
	}
	// Aliases may add maxExpandedNodes to what the file itself holds (its
	// size is capped already): a large file is not an alias bomb.
	limit := treeSize(root.Content[0]) + maxExpandedNodes
	if expandedSize(root.Content[0], map[*yaml.Node]int{}, limit) > limit {
		d.errorAt(Pos{1, 1}, "aliases expand the file by more than %d nodes: write the values out", maxExpandedNodes)
		return nil
	}
	return root.Content[0]
}

func (d *doc) what() string {
	if strings.Contains(d.file, "owners") {
		return "owner"
	}
	return "model"
}

func (d *doc) syntaxError(err error) {
	line, msg := 1, err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.errorAt(Pos{line, 1}, "YAML syntax: %s", msg)
}

// treeSize counts the nodes of the file itself, aliases not followed.
func treeSize(n *yaml.Node) int {
	size := 1
	for _, c := range n.Content {
		size += treeSize(c)
	}
	return size
}

// expandedSize counts the nodes n stands for once aliases are followed,
// memoised so that the count itself stays linear in the file, and stops
// counting past limit.
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int, limit int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	memo[n] = 1 // an alias cycle counts once
	size := 1
	if n.Kind == yaml.AliasNode {
		size = expandedSize(n.Alias, memo, limit)
	}
	for _, c := range n.Content {
		size += expandedSize(c, memo, limit)
		if size > limit {
			break
		}
	}
	memo[n] = size
	return size
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func pos(n *yaml.Node) Pos { return Pos{n.Line, n.Column} }

// field handles one key of a mapping.
type field struct {
	name     string
	required bool
	decode   func(key, val *yaml.Node)
}

// mapping decodes n as a mapping with the given fields: unknown keys (with a
// suggestion for typos), duplicate keys and missing required keys are all
// reported. It returns false when n is not a mapping at all.
func (d *doc) mapping(n *yaml.Node, what string, fields ...field) bool {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n != nil {
			d.errorf(n, "%s must be a mapping of keys to values", what)
		}
		return false
	}
	seen := map[string]bool{}
	// misspelt holds required keys that an unknown key looks like a typo of:
	// "sevrity" is reported once, not also as a missing "severity".
	misspelt := map[string]bool{}
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if seen[k.Value] {
			d.errorf(k, "%s: key %q appears twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		j := slices.Index(names, k.Value)
		if k.Value == "<<" {
			d.errorf(k, "%s: merge keys (<<) are not supported: write the keys out", what)
			for _, f := range fields {
				misspelt[f.name] = true // the merged keys may be the missing ones
			}
			continue
		}
		if j < 0 {
			hint := expression.Suggest(k.Value, names)
			d.errorf(k, "%s: unknown field %q%s", what, k.Value, hint)
			for _, f := range fields {
				if hint != "" && strings.Contains(hint, strconv.Quote(f.name)) {
					misspelt[f.name] = true
				}
			}
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" && fields[j].required {
			hint := ""
			if v.LineComment != "" || k.LineComment != "" {
				hint = " (# starts a YAML comment: quote a value that begins with #)"
			}
			d.errorf(v, "%s: %s is empty%s", what, k.Value, hint)
			continue
		}
		fields[j].decode(k, v)
	}
	for _, f := range fields {
		if f.required && !seen[f.name] && !misspelt[f.name] {
			d.errorf(n, "%s: missing required field %q", what, f.name)
		}
	}
	return true
}

// str decodes a string scalar. Numbers and booleans are refused for fields
// that are names, so `severity: 1` or `owner: yes` is caught.
func (d *doc) str(n *yaml.Node, what string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!timestamp") {
		d.errorf(n, "%s must be a string", what)
		return "", false
	}
	return n.Value, true
}

func (d *doc) number(n *yaml.Node, what string) (float64, bool) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err == nil {
			return f, true
		}
	}
	d.errorf(n, "%s must be a number", what)
	return 0, false
}

// enum decodes a string that must be one of values.
func (d *doc) enum(n *yaml.Node, what string, values []string) (string, bool) {
	s, ok := d.str(n, what)
	if !ok {
		return "", false
	}
	if !slices.Contains(values, s) {
		d.errorf(n, "unknown %s %q%s (want one of %s)", what, s, expression.Suggest(s, values), strings.Join(values, ", "))
		return "", false
	}
	return s, true
}

// seq calls fn for each item of a sequence.
func (d *doc) seq(n *yaml.Node, what string, fn func(item *yaml.Node)) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list", what)
		return
	}
	for _, item := range n.Content {
		fn(resolve(item))
	}
}

func (d *doc) strings(n *yaml.Node, what string) ([]string, []Pos) {
	var out []string
	var ps []Pos
	d.seq(n, what, func(item *yaml.Node) {
		if s, ok := d.str(item, what+" entry"); ok {
			out = append(out, s)
			ps = append(ps, pos(item))
		}
	})
	return out, ps
}

// exprPos maps a rune offset inside the value of scalar n to its position
// in the file, by walking the source the way YAML reads each style.
func (d *doc) exprPos(n *yaml.Node, offset int) Pos {
	ps := scalarPositions(d.src, n)
	switch {
	case len(ps) == 0:
		return pos(n)
	case offset < len(ps):
		return ps[offset]
	}
	last := ps[len(ps)-1]
	return Pos{last.Line, last.Col + 1}
}

// scalarPositions returns the file position of each rune of n's value.
// Plain and quoted scalars fold a line break into one space and skip the
// next line's indentation; double quotes have escapes, single quotes ”.
// Block scalars (| and >) start on the line after the indicator, at the
// indentation of their first line; a folded line break is one space, or
// one newline per blank line it spans. Windows line ends count as one.
func scalarPositions(src []byte, n *yaml.Node) []Pos {
	value := []rune(n.Value)
	text := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(src))
	lines := strings.Split(text, "\n")
	if n.Line < 1 || n.Line > len(lines) {
		return nil
	}
	out := make([]Pos, 0, len(value))
	emit := func(line, col, count int) {
		for range count {
			out = append(out, Pos{line, col})
		}
	}
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		indent, blank := -1, 0
		for l := n.Line; l < len(lines) && len(out) < len(value); l++ {
			row := []rune(lines[l])
			if strings.TrimSpace(lines[l]) == "" {
				blank++
				continue
			}
			if indent < 0 {
				indent = len(row) - len([]rune(strings.TrimLeft(lines[l], " ")))
			} else {
				// The break(s) before this line: literal keeps each; folded
				// turns one into a space, or keeps the blank lines' breaks.
				breaks := blank + 1
				if n.Style == yaml.FoldedStyle && blank > 0 {
					breaks = blank
				}
				emit(l, len(row)+1, breaks)
			}
			blank = 0
			for c := indent; c < len(row); c++ {
				emit(l+1, c+1, 1)
			}
		}
	default:
		l, c := n.Line-1, n.Column-1
		row := []rune(lines[l])
		quote := rune(0)
		if n.Style == yaml.DoubleQuotedStyle || n.Style == yaml.SingleQuotedStyle {
			quote, c = row[c], c+1
		}
		for len(out) < len(value) && l < len(lines) {
			if c >= len(row) {
				// A line break folds into one space; the next line's
				// indentation is not part of the value.
				l++
				if l >= len(lines) {
					break
				}
				row = []rune(lines[l])
				c = len(row) - len([]rune(strings.TrimLeft(lines[l], " \t")))
				emit(l+1, c+1, 1)
				continue
			}
			width := 1
			switch {
			case quote == '"' && row[c] == '\\' && c+1 < len(row):
				width = map[rune]int{'x': 4, 'u': 6, 'U': 10}[row[c+1]]
				width = max(width, 2)
			case quote == '\'' && row[c] == '\'' && c+1 < len(row) && row[c+1] == '\'':
				width = 2
			case quote != 0 && row[c] == quote:
				return out
			}
			emit(l+1, c+1, 1)
			c += width
		}
	}
	return out
}
