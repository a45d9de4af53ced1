package config

import (
	"strings"
	"testing"
	"testing/fstest"
)

// Each style of YAML scalar holds an expression with the misspelt name
// "valu"; the problem must point at that word in the file.
func TestExpressionPositionsInEveryScalarStyle(t *testing.T) {
	for _, tc := range []struct{ name, when string }{
		{"plain", `when: kind == "drift" && valu > 1`},
		{"plain over two lines", "when: kind == \"drift\"\n      && valu > 1"},
		{"double quoted with escapes", `when: "kind == \"drift\" && metric != \"a\\tb\" && valu > 1"`},
		{"double quoted unicode escape", `when: "kind == \"\u00e9\" || valu > 1"`},
		{"single quoted with doubled quotes", `when: 'kind == ''drift'' && valu > 1'`},
		{"literal block", "when: |\n      kind == \"drift\"\n        && valu > 1"},
		{"folded block", "when: >\n      kind == \"drift\"\n        && valu > 1"},
		{"folded block with a blank line", "when: >\n      kind == \"drift\"\n\n      && valu > 1"},
		{"literal block with a blank line", "when: |\n      kind == \"drift\"\n\n      && valu > 1"},
		{"unicode before the error", `when: kind == "dérive" && valu > 1`},
	} {
		for _, eol := range []string{"\n", "\r\n"} {
			name := tc.name
			if eol == "\r\n" {
				name += " (CRLF)"
			}
			t.Run(name, func(t *testing.T) {
				model := "model: m\nstakes: low\nowners: {data: team, model: team, platform: team, product: team}\n" +
					"expect: [{kind: drift, every: 1d}]\nrules:\n  - name: r\n    severity: info\n    owner: data\n    " + tc.when + "\n"
				model = strings.ReplaceAll(model, "\n", eol)
				cfg, err := LoadFS(fstest.MapFS{
					"rules/m.yaml":     {Data: []byte(model)},
					"owners/team.yaml": {Data: []byte("id: team\nslack: {channel: C0TEAM0001}\n")},
				}, ".")
				if err != nil {
					t.Fatal(err)
				}
				errs := cfg.Errors()
				if len(errs) != 1 || !strings.Contains(errs[0].Msg, `unknown name "valu"`) {
					t.Fatalf("problems = %v, want one unknown name \"valu\"", errs)
				}
				line, col := find(strings.ReplaceAll(model, "\r\n", "\n"), "valu")
				if errs[0].Line != line || errs[0].Col != col {
					t.Errorf("problem at %d:%d, want %d:%d (where valu is)", errs[0].Line, errs[0].Col, line, col)
				}
			})
		}
	}
}

// find returns the 1-based line and rune column of the first needle.
func find(text, needle string) (int, int) {
	for i, l := range strings.Split(text, "\n") {
		if j := strings.Index(l, needle); j >= 0 {
			return i + 1, len([]rune(l[:j])) + 1
		}
	}
	return 0, 0
}
