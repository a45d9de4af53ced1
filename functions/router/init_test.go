package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// compiledAtInit are the calls that do measurable work when a package
// variable is initialised with them: every cold start pays it before main,
// whether or not the router's events ever need it.
var compiledAtInit = map[string]bool{"regexp.MustCompile": true, "regexp.Compile": true,
	"regexp.MustCompilePOSIX": true, "template.Must": true}

// initExempt are packages allowed to compile patterns at init, with why.
var initExempt = map[string]string{
	// The loader checks every model's and owner's ids with them at each
	// start, so compiling them later would save nothing; part B of issue
	// 19 (configuration compiled per model) owns the package.
	"github.com/stakeout-ml/stakeout/internal/config": "used by every start's loader",
}

// No package of ours the router links compiles a regular expression or a
// template into a package variable: those run at process start, before
// main, for every cold start; they are compiled at first use instead
// (sync.OnceValue), by the events that need them (a CloudWatch alarm's
// reason, a Slack mention).
func TestNoPatternCompiledAtInit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{.Dir}} {{join .GoFiles ","}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for line := range strings.Lines(string(bytes.TrimSpace(out))) {
		fields := strings.Fields(line)
		if len(fields) < 3 || !strings.HasPrefix(fields[0], "github.com/stakeout-ml/stakeout") || initExempt[fields[0]] != "" {
			continue
		}
		for _, name := range strings.Split(fields[2], ",") {
			for _, at := range initCompiles(t, filepath.Join(fields[1], name)) {
				t.Errorf("%s: a package variable is compiled at init (%s): compile it at first use", at, fields[0])
			}
		}
	}
}

// initCompiles lists the positions in the Go file path where a package
// variable's initial value calls one of compiledAtInit (not inside a
// function literal, which runs later).
func initCompiles(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		ast.Inspect(gen, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncLit:
				return false
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					if pkg, ok := sel.X.(*ast.Ident); ok && compiledAtInit[pkg.Name+"."+sel.Sel.Name] {
						found = append(found, fset.Position(n.Pos()).String())
					}
				}
			}
			return true
		})
	}
	return found
}
