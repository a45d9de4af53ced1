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
// template at package initialisation (a package variable's value, a func
// init): those run at process start, before main, for every cold start; they are compiled at first use instead
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

// initCompiles lists the positions in the Go file path where code run at
// package initialisation calls one of compiledAtInit.
func initCompiles(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return initCompilesIn(fset, f)
}

// initCompilesIn lists where f calls one of compiledAtInit at package
// initialisation: in a package variable's initial value, a function
// literal called there included (one only passed along, to
// sync.OnceValue say, runs later), and in a func init.
func initCompilesIn(fset *token.FileSet, f *ast.File) []string {
	var found []string
	called := map[*ast.FuncLit]bool{}
	inspect := func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return called[n]
		case *ast.CallExpr:
			if lit, ok := n.Fun.(*ast.FuncLit); ok {
				called[lit] = true
			}
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && compiledAtInit[pkg.Name+"."+sel.Sel.Name] {
					found = append(found, fset.Position(n.Pos()).String())
				}
			}
		}
		return true
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.GenDecl:
			if d.Tok == token.VAR {
				ast.Inspect(d, inspect)
			}
		case *ast.FuncDecl:
			if d.Name.Name == "init" && d.Recv == nil && d.Body != nil {
				ast.Inspect(d.Body, inspect)
			}
		}
	}
	return found
}

// The check sees a pattern compiled at init in the ways these cases
// write it — directly, in a function literal called at once, in func
// init — and not one compiled later. It reads calls as written: a helper
// function called at init, a literal bound to a name and then called, or
// regexp imported under another name are not seen (a reviewer's eye is).
func TestInitCompilesSeesPatternsCompiledAtInit(t *testing.T) {
	for src, want := range map[string]int{
		`var re = regexp.MustCompile("a")`:                                                  1,
		`var re = func() *regexp.Regexp { return regexp.MustCompile("a") }()`:               1,
		`var re *regexp.Regexp; func init() { re = regexp.MustCompile("a") }`:               1,
		`func init() { regexp.MustCompile("a") }`:                                           1,
		`func init() { func() { regexp.MustCompile("a") }() }`:                              1,
		`var t = template.Must(template.New("t").Parse("x"))`:                               1,
		`var re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("a") })`: 0,
		`func f() *regexp.Regexp { return regexp.MustCompile("a") }`:                        0,
		`type T struct{}; func (T) init() { regexp.MustCompile("a") }`:                      0,
		`func init() { _ = func() { regexp.MustCompile("a") } }`:                            0,
	} {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", "package x\n"+src, 0)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if got := initCompilesIn(fset, f); len(got) != want {
			t.Errorf("%s: found %v, want %d", src, got, want)
		}
	}
}
