package samtemplate

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// StoreMethods returns the methods of store that the users reach: every
// field of the users' struct types whose type is an interface store
// implements is a way in (the interfaces are declared by their consumers,
// so a consumer's field type says exactly what it may call). users are
// values of those struct types, or pointers to them.
func StoreMethods(store reflect.Type, users ...any) []string {
	var out []string
	for _, u := range users {
		t := reflect.TypeOf(u)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := range t.NumField() {
			ft := t.Field(i).Type
			if ft.Kind() != reflect.Interface || ft.NumMethod() == 0 || !store.Implements(ft) {
				continue
			}
			for m := range ft.NumMethod() {
				out = append(out, ft.Method(m).Name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// transactItems maps the TransactWriteItems item kinds to the IAM actions
// that authorise them (a transaction is authorised item by item).
var transactItems = map[string]string{"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem", "Delete": "dynamodb:DeleteItem"}

// DynamoDBActions reads the Go package in dir (internal/dynamostore) and
// returns the IAM actions the named methods of its type typ may need: the
// DynamoDB calls (<receiver>.db.<Call>) reachable from them through the
// package's functions and methods, with TransactWriteItems counted as the
// item kinds (types.Put{...}, ...) reachable. The call graph is read by
// name, so it may over-approximate (a method name shared by two types
// reaches both), never under-approximate.
func DynamoDBActions(dir, typ string, methods []string) ([]string, error) {
	g, err := parseCalls(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var visit func(fn string)
	visit = func(fn string) {
		if seen[fn] {
			return
		}
		seen[fn] = true
		for _, next := range g.edges[fn] {
			visit(next)
		}
	}
	for _, m := range methods {
		fn := typ + "." + m
		if _, ok := g.edges[fn]; !ok {
			return nil, fmt.Errorf("%s: no method %s", dir, fn)
		}
		visit(fn)
	}
	var out []string
	for fn := range seen {
		for _, call := range g.calls[fn] {
			if kind, ok := strings.CutPrefix(call, "types."); ok {
				out = append(out, transactItems[kind])
			} else if call != "TransactWriteItems" {
				out = append(out, "dynamodb:"+call)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

type callGraph struct {
	edges map[string][]string // function → functions it names
	calls map[string][]string // function → DynamoDB calls and transact item kinds it makes
}

func parseCalls(dir string) (*callGraph, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var decls []*ast.FuncDecl
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				decls = append(decls, fd)
			}
		}
	}
	// A bare identifier can only name a function; a selector's name, a
	// method of any of the package's types.
	funcs, methods := map[string][]string{}, map[string][]string{}
	for _, fd := range decls {
		if fd.Recv == nil {
			funcs[fd.Name.Name] = append(funcs[fd.Name.Name], qualified(fd))
		} else {
			methods[fd.Name.Name] = append(methods[fd.Name.Name], qualified(fd))
		}
	}
	g := &callGraph{edges: map[string][]string{}, calls: map[string][]string{}}
	for _, fd := range decls {
		fn := qualified(fd)
		if _, ok := g.edges[fn]; !ok {
			g.edges[fn] = nil // known, even if it names nothing
		}
		own := ownValues(fd, methods)
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if inner, ok := x.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "db" {
					g.calls[fn] = append(g.calls[fn], x.Sel.Name)
				}
				// An unexported name can only be this package's method (or
				// a field); an exported one is ours when called on one of
				// our values (c.Digest, g.Due() are other packages').
				if id, ok := x.X.(*ast.Ident); !token.IsExported(x.Sel.Name) || ok && own[id.Name] {
					g.edges[fn] = append(g.edges[fn], methods[x.Sel.Name]...)
				}
				ast.Inspect(x.X, func(n ast.Node) bool { return visitIdent(g, fn, funcs, n) })
				return false // Sel is not a bare identifier
			case *ast.CompositeLit:
				if sel, ok := x.Type.(*ast.SelectorExpr); ok && fmt.Sprint(sel.X) == "types" && transactItems[sel.Sel.Name] != "" {
					g.calls[fn] = append(g.calls[fn], "types."+sel.Sel.Name)
				}
			}
			return visitIdent(g, fn, funcs, n)
		})
	}
	return g, nil
}

func visitIdent(g *callGraph, fn string, funcs map[string][]string, n ast.Node) bool {
	if id, ok := n.(*ast.Ident); ok {
		g.edges[fn] = append(g.edges[fn], funcs[id.Name]...)
	}
	return true
}

// ownValues are the names a function gives values of the package's types
// with methods: its receiver and parameters.
func ownValues(fd *ast.FuncDecl, methods map[string][]string) map[string]bool {
	types := map[string]bool{}
	for _, qs := range methods {
		for _, q := range qs {
			types[strings.Split(q, ".")[0]] = true
		}
	}
	own := map[string]bool{}
	var fields []*ast.Field
	if fd.Recv != nil {
		fields = append(fields, fd.Recv.List...)
	}
	fields = append(fields, fd.Type.Params.List...)
	for _, f := range fields {
		t := f.Type
		if s, ok := t.(*ast.StarExpr); ok {
			t = s.X
		}
		if id, ok := t.(*ast.Ident); ok && types[id.Name] {
			for _, n := range f.Names {
				own[n.Name] = true
			}
		}
	}
	return own
}

// qualified names a function "name" and a method "Type.name".
func qualified(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
