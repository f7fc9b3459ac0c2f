package reports

import (
	"bufio"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

// methodFile is the contract: every measurement name the code emits has a
// "### <name>" heading in its "## Measurements" section.
const methodFile = "METHOD.md"

// measurementFuncs are the constructors whose first argument names a
// measurement, whatever package qualifier they are called with.
var measurementFuncs = []string{"NewMeasurement", "NotMeasured"}

// TestMethodDescribesEveryEmittedMeasurement is issue 11 "the method,
// written down": METHOD.md describes every figure the code can put in a
// report, nothing else, and the report fixtures use only those figures.
func TestMethodDescribesEveryEmittedMeasurement(t *testing.T) {
	root := moduleRoot(t)
	emitted, err := emittedNames(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(emitted) < 10 {
		t.Fatalf("found only %d measurement names in the code (%v): the scan is broken", len(emitted), slices.Sorted(maps.Keys(emitted)))
	}
	headings, err := methodHeadings(methodFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(emitted)) {
		if !headings[name] {
			t.Errorf("measurement %q (emitted at %s) is not described in reports/%s: add a \"### %s\" heading under \"## Measurements\"",
				name, strings.Join(emitted[name], ", "), methodFile, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(headings)) {
		if _, ok := emitted[name]; !ok {
			t.Errorf("reports/%s describes %q, which no code emits: remove or rename its heading", methodFile, name)
		}
	}
	used, err := fixtureNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if _, ok := emitted[name]; !ok {
			t.Errorf("report fixture %s uses measurement %q, which no code emits: use a real name", strings.Join(used[name], ", "), name)
		}
	}
}

// moduleRoot is the directory of the harness module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/distrobench/distrobench\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/distrobench/distrobench above the reports package")
		}
		dir = parent
	}
}

// goPackage is the parsed non-test files of one directory.
type goPackage struct {
	files  map[string]*ast.File // by path relative to the module root
	consts map[string]string    // package-level string constants by name
}

// emittedNames parses every non-test .go file of the module (not distro/,
// its own module, nor testdata) and returns each measurement name passed to
// NewMeasurement/NotMeasured (or set in a result.Measurement literal), with
// where.
func emittedNames(root string) (map[string][]string, error) {
	pkgs, err := parseModule(root)
	if err != nil {
		return nil, err
	}
	names := map[string][]string{}
	var errs []error
	for dir, pkg := range pkgs {
		for path, f := range pkg.files {
			imports := importDirs(f)
			ast.Inspect(f, func(n ast.Node) bool {
				arg, ok := nameArg(n)
				if _, lit := n.(*ast.CompositeLit); !ok || (lit && dir == resultDir) {
					return true // the constructors themselves take the name as a parameter
				}
				where := fmt.Sprintf("%s:%d", path, fset.Position(arg.Pos()).Line)
				name, err := resolveString(arg, pkgs[dir], pkgs, imports)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", where, err))
					return true
				}
				names[name] = append(names[name], where)
				return true
			})
		}
	}
	for _, where := range names {
		slices.Sort(where)
	}
	return names, errors.Join(errs...)
}

var fset = token.NewFileSet()

// resultDir holds the model, whose constructors build Measurement literals
// from their name parameter.
var resultDir = filepath.Join("internal", "result")

func parseModule(root string) (map[string]*goPackage, error) {
	pkgs := map[string]*goPackage{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			base := d.Name()
			if rel == "distro" || base == "testdata" || base == "vendor" || (rel != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		dir := filepath.Dir(rel)
		pkg := pkgs[dir]
		if pkg == nil {
			pkg = &goPackage{files: map[string]*ast.File{}, consts: map[string]string{}}
			pkgs[dir] = pkg
		}
		pkg.files[rel] = f
		collectConsts(f, pkg.consts)
		return nil
	})
	return pkgs, err
}

// collectConsts records the package-level constants of f whose value is a
// string literal.
func collectConsts(f *ast.File, into map[string]string) {
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						into[id.Name] = s
					}
				}
			}
		}
	}
}

// importDirs maps the names a file imports module packages under to their
// directories relative to the module root.
func importDirs(f *ast.File) map[string]string {
	const module = "github.com/distrobench/distrobench/"
	out := map[string]string{}
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if !strings.HasPrefix(path, module) {
			continue
		}
		name := filepath.Base(path)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		out[name] = filepath.FromSlash(strings.TrimPrefix(path, module))
	}
	return out
}

// nameArg returns the expression naming a measurement in n: the first
// argument of a NewMeasurement/NotMeasured call, or the Name field of a
// result.Measurement composite literal.
func nameArg(n ast.Node) (ast.Expr, bool) {
	switch n := n.(type) {
	case *ast.CallExpr:
		var fn string
		switch f := n.Fun.(type) {
		case *ast.Ident:
			fn = f.Name
		case *ast.SelectorExpr:
			fn = f.Sel.Name
		}
		if slices.Contains(measurementFuncs, fn) && len(n.Args) > 0 {
			return n.Args[0], true
		}
	case *ast.CompositeLit:
		if !isMeasurementType(n.Type) {
			return nil, false
		}
		for _, el := range n.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				if key, ok := kv.Key.(*ast.Ident); ok && key.Name == "Name" {
					return kv.Value, true
				}
			}
		}
	}
	return nil, false
}

func isMeasurementType(e ast.Expr) bool {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name == "Measurement"
	case *ast.SelectorExpr:
		x, ok := t.X.(*ast.Ident)
		return ok && x.Name == "result" && t.Sel.Name == "Measurement"
	}
	return false
}

// resolveString is the value of a string literal, or of a package-level
// string constant of this package or of an imported module package.
func resolveString(e ast.Expr, pkg *goPackage, pkgs map[string]*goPackage, imports map[string]string) (string, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			return strconv.Unquote(e.Value)
		}
	case *ast.Ident:
		if v, ok := pkg.consts[e.Name]; ok {
			return v, nil
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok {
			if other := pkgs[imports[x.Name]]; other != nil {
				if v, ok := other.consts[e.Sel.Name]; ok {
					return v, nil
				}
			}
		}
	}
	return "", fmt.Errorf("measurement name %s is not a string literal or a package-level string constant: "+
		"write the name as a literal (or a constant), so that reports/method_test.go can check reports/%s describes it",
		exprString(e), methodFile)
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	}
	return fmt.Sprintf("%T", e)
}

// methodHeadings returns the "### <name>" headings of the "## Measurements"
// section of the method file (backticks around the name allowed).
func methodHeadings(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (reports/%s is the contract of every figure)", err, methodFile)
	}
	defer f.Close()
	out := map[string]bool{}
	inSection := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			inSection = strings.TrimSpace(strings.TrimPrefix(line, "## ")) == "Measurements"
		case inSection && strings.HasPrefix(line, "### "):
			out[strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "### ")), "`")] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("reports/%s has no \"### <name>\" heading under \"## Measurements\"", methodFile)
	}
	return out, nil
}

var (
	htmlNameRE  = regexp.MustCompile(`<div class="mname">([^<]+)</div>`)
	mdNameRE    = regexp.MustCompile("^\\| `([^`{]+)(\\{[^`]*\\})?` \\|")
	junitNameRE = regexp.MustCompile(`<testcase name="([^"{]+)(\{[^"]*\})?" classname="measurements\.`)
)

// fixtureNames returns the measurement names of the report fixtures and of
// every file under testdata (rendered goldens, report JSON), with where.
func fixtureNames() (map[string][]string, error) {
	out := map[string][]string{}
	for _, fx := range fixtures {
		for _, m := range fx.make().Measurements {
			out[m.Name] = append(out[m.Name], fx.name+"Fixture")
		}
	}
	paths, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		return nil, err
	}
	for _, path := range paths {
		names, err := namesInFile(path)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out[n] = append(out[n], path)
		}
	}
	for name, where := range out {
		out[name] = slices.Compact(slices.Sorted(slices.Values(where)))
	}
	return out, nil
}

// namesInFile finds measurement names in one testdata file by its kind.
func namesInFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	switch {
	case strings.HasSuffix(path, ".json"):
		r, err := result.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, m := range r.Measurements {
			names = append(names, m.Name)
		}
	case strings.HasSuffix(path, ".html.golden"):
		for _, m := range htmlNameRE.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	case strings.HasSuffix(path, ".md.golden"):
		text := string(b)
		if i := strings.Index(text, "### Measurements\n"); i >= 0 {
			section := text[i+len("### Measurements\n"):]
			if j := strings.Index(section, "\n### "); j >= 0 {
				section = section[:j]
			}
			for line := range strings.SplitSeq(section, "\n") {
				if m := mdNameRE.FindStringSubmatch(line); m != nil {
					names = append(names, m[1])
				}
			}
		}
	case strings.HasSuffix(path, ".xml.golden"):
		for _, m := range junitNameRE.FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
	}
	return names, nil
}
