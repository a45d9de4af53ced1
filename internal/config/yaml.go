package config

import (
	"fmt"
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

// parse reads the file's single document. A syntax error is reported at its
// line (yaml.v3 does not give the column) and yields nil.
func (d *doc) parse() *yaml.Node {
	var root yaml.Node
	if err := yaml.Unmarshal(d.src, &root); err != nil {
		line, msg := 1, err.Error()
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		d.errors++
		d.problems = append(d.problems, Problem{File: d.file, Line: line, Col: 1, Msg: "YAML syntax: " + msg})
		return nil
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		d.errorAt(Pos{1, 1}, "file is empty")
		return nil
	}
	return root.Content[0]
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

// exprPos maps a rune offset inside the expression held by scalar n to a
// position in the file. Block scalars (| and >) keep their lines in the file
// with an indentation; quoted scalars start one column after the quote.
func (d *doc) exprPos(n *yaml.Node, offset int) Pos {
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		lines := strings.Split(string(d.src), "\n")
		line := n.Line // the indicator line; content starts below it
		indent := -1
		for line < len(lines) {
			text := lines[line]
			if strings.TrimSpace(text) == "" {
				line++
				offset--
				continue
			}
			if indent < 0 {
				indent = len(text) - len(strings.TrimLeft(text, " "))
			}
			content := []rune(text)
			if indent <= len(content) {
				content = content[indent:]
			}
			if offset <= len(content) {
				return Pos{line + 1, indent + offset + 1}
			}
			offset -= len(content) + 1
			line++
		}
		return Pos{n.Line, n.Column}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		return Pos{n.Line, n.Column + 1 + offset}
	}
	return Pos{n.Line, n.Column + offset}
}
