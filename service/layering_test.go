package service_test

// The tests that keep bankgate's layering true: which packages may reach
// a bank connector (only this one, through its one path), and what the
// transport may depend on.

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/bankgate/bankgate"

// root is the module's directory.
func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return dir
}

// goFiles parses every Go file of the module (tests included), by the
// package directory relative to the root ("." for the root package).
func goFiles(t *testing.T) (map[string][]*ast.File, *token.FileSet) {
	t.Helper()
	base := root(t)
	fset := token.NewFileSet()
	out := map[string][]*ast.File{}
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != base && (n == "testdata" || n == "node_modules" || strings.HasPrefix(n, ".") || n == "compat") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, filepath.Dir(path))
		out[filepath.ToSlash(rel)] = append(out[filepath.ToSlash(rel)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, fset
}

// importName returns the name under which f imports path, or "".
func importName(f *ast.File, path string) string {
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); p == path {
			if im.Name != nil {
				return im.Name.Name
			}
			return path[strings.LastIndex(path, "/")+1:]
		}
	}
	return ""
}

// connectorPackages are the packages that implement a bank connector: they
// assert it at compile time (var _ bank.Connector = ...).
func connectorPackages(files map[string][]*ast.File) []string {
	var out []string
	for dir, fs := range files {
		for _, f := range fs {
			name := importName(f, module+"/bank")
			if name == "" {
				continue
			}
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, s := range g.Specs {
					vs := s.(*ast.ValueSpec)
					if sel, ok := vs.Type.(*ast.SelectorExpr); ok && len(vs.Names) == 1 && vs.Names[0].Name == "_" &&
						sel.Sel.Name == "Connector" && isIdent(sel.X, name) && !slices.Contains(out, dir) {
						out = append(out, dir)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// TestOnlyServiceCallsConnectors: outside the service, the bank contract
// and the connectors themselves (and their own tests), code may name
// bank.Connector, to wire connectors into the service, and nothing else
// of package bank. Every capability method takes a *bank.Call (or a
// bank.LoginRequest) and is found through a capability interface, so
// code that cannot name those cannot call a connector: every connector
// call goes through the service's one path (MFA operations, recording,
// idempotency). The one exception is the model bank, a bank and not a
// part of bankgate's serving path: it reads its PSUs' data from the
// sandbox connector directly.
func TestOnlyServiceCallsConnectors(t *testing.T) {
	files, fset := goFiles(t)
	connectors := connectorPackages(files)
	if !slices.Contains(connectors, "sandbox") {
		t.Fatalf("connector packages found: %v; the sandbox should be one (does it still assert var _ bank.Connector?)", connectors)
	}
	allowed := append([]string{"service", "bank", "modelbank"}, connectors...)
	checked := 0
	for dir, fs := range files {
		if slices.Contains(allowed, dir) {
			continue
		}
		for _, f := range fs {
			name := importName(f, module+"/bank")
			if name == "" {
				continue
			}
			checked++
			ast.Inspect(f, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if ok && isIdent(sel.X, name) && sel.Sel.Name != "Connector" {
					t.Errorf("%s: %s.%s: only the service (and connectors) may use the connector contract; outside them name bank.Connector alone, to wire a connector into the service",
						fset.Position(sel.Pos()), name, sel.Sel.Name)
				}
				return true
			})
		}
	}
	if checked == 0 {
		t.Fatal("no file outside the service imports package bank; cmd/bankgate should, to wire connectors (is the walk broken?)")
	}
}

// deps returns the module packages that pkg (a directory relative to the
// root) imports, directly or not, without tests: what go list -deps shows
// of the module.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	base := root(t)
	seen := map[string]bool{}
	var visit func(dir string)
	visit = func(dir string) {
		bp, err := build.Default.ImportDir(filepath.Join(base, dir), 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, im := range bp.Imports {
			rel, ok := strings.CutPrefix(im, module)
			if !ok || (rel != "" && rel[0] != '/') {
				continue
			}
			rel = strings.TrimPrefix(rel, "/")
			if rel == "" {
				rel = "."
			}
			if !seen[rel] {
				seen[rel] = true
				visit(rel)
			}
		}
	}
	visit(pkg)
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// TestTransportDependencies: the HTTP transport and the Connect page depend
// on the domain and on interfaces they declare, never on the service, the
// connector contract, the server's secrets or a concrete adapter; so
// `go list -deps ./http` shows no bankgate/bank and no bankgate/secret.
func TestTransportDependencies(t *testing.T) {
	forbidden := []string{"bank", "secret", "service", "sandbox", "sqlite", "postgres", "feed"}
	for _, pkg := range []string{"http", "connect"} {
		got := deps(t, pkg)
		if !slices.Contains(got, ".") {
			t.Fatalf("%s: deps %v lack the domain package (is the walk broken?)", pkg, got)
		}
		for _, f := range forbidden {
			if slices.Contains(got, f) {
				t.Errorf("%s depends on bankgate/%s (all its module deps: %v)", pkg, f, got)
			}
		}
	}
	if got := deps(t, "."); len(got) != 0 {
		t.Errorf("the domain package imports %v; it must import no other bankgate package", got)
	}
}

// TestOpenTelemetrySDKOnlyInMain: tracing is wired in cmd/bankgate alone.
// The other packages may use OpenTelemetry's API (a trace.Tracer, nil when
// tracing is off), never its SDK or an exporter, and the domain package
// none of it; tests may use the SDK's in-memory exporter.
func TestOpenTelemetrySDKOnlyInMain(t *testing.T) {
	files, _ := goFiles(t)
	checked := 0
	for dir := range files {
		bp, err := build.Default.ImportDir(filepath.Join(root(t), dir), 0)
		if err != nil {
			continue // a directory of tests only, or of no buildable files
		}
		checked++
		for _, im := range bp.Imports {
			if !strings.HasPrefix(im, "go.opentelemetry.io/") {
				continue
			}
			if dir == "." {
				t.Errorf("the domain package imports %s: it must stay free of OpenTelemetry", im)
			}
			sdk := strings.HasPrefix(im, "go.opentelemetry.io/otel/sdk") || strings.HasPrefix(im, "go.opentelemetry.io/otel/exporters")
			if sdk && dir != "cmd/bankgate" {
				t.Errorf("%s imports %s: only cmd/bankgate may use the OpenTelemetry SDK and exporters", dir, im)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages checked (is the walk broken?)", checked)
	}
}
