package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	yamlv3 "go.yaml.in/yaml/v3"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load reads and strictly decodes a DistributionProfile file. It does not
// default or validate: callers run SetDefaults and then Validate (after any
// WithOverrides). Every decoding error names the file and line.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return Decode(data, path)
}

// Decode is Load for bytes already in memory; file names them in errors and
// becomes Profile.File (it anchors ${PROFILE_DIR}).
func Decode(data []byte, file string) (*Profile, error) {
	p := &Profile{}
	if err := decodeStrict(data, file, KindProfile, p); err != nil {
		return nil, err
	}
	p.File = file
	return p, nil
}

// LoadMatrix reads and strictly decodes a Matrix file (no defaults, no
// validation, profiles not resolved yet: see Expand).
func LoadMatrix(path string) (*Matrix, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read matrix: %w", err)
	}
	return DecodeMatrix(data, path)
}

// DecodeMatrix is LoadMatrix for bytes already in memory.
func DecodeMatrix(data []byte, file string) (*Matrix, error) {
	m := &Matrix{}
	if err := decodeStrict(data, file, KindMatrix, m); err != nil {
		return nil, err
	}
	m.File = file
	return m, nil
}

// Resolve loads a profile given by name or by path. A bare name such as
// "k3s" means <profilesDir>/k3s.yaml; anything with a path separator or a
// .yaml/.yml suffix is a path. An unknown name lists the available ones.
func Resolve(nameOrPath, profilesDir string) (*Profile, error) {
	if nameOrPath == "" {
		return nil, errors.New("no profile given: pass a profile name (see profiles/) or a path to a profile file")
	}
	if isPath(nameOrPath) {
		return Load(nameOrPath)
	}
	path := filepath.Join(profilesDir, nameOrPath+".yaml")
	if _, err := os.Stat(path); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("profile %q: %w", nameOrPath, err)
		}
		if alt := filepath.Join(profilesDir, nameOrPath+".yml"); fileExists(alt) {
			return Load(alt)
		}
		names, lerr := List(profilesDir)
		if lerr != nil {
			return nil, fmt.Errorf("profile %q not found: %w", nameOrPath, lerr)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("profile %q not found: %s holds no profiles (pass a path to a profile file)", nameOrPath, profilesDir)
		}
		return nil, fmt.Errorf("profile %q not found in %s: available profiles: %s (or pass a path to a profile file)",
			nameOrPath, profilesDir, strings.Join(names, ", "))
	}
	return Load(path)
}

// List returns the names of the profiles in profilesDir (its *.yaml and
// *.yml files, without the extension, sorted). Subdirectories such as
// matrix/ and files/ are not profiles and are skipped.
func List(profilesDir string) ([]string, error) {
	entries, err := os.ReadDir(profilesDir)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w (run from the repository root or pass the profiles directory)", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		n := e.Name()
		for _, ext := range []string{".yaml", ".yml"} {
			if strings.HasSuffix(n, ext) {
				names = append(names, strings.TrimSuffix(n, ext))
				break
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

func isPath(s string) bool {
	return strings.ContainsRune(s, filepath.Separator) || strings.ContainsRune(s, '/') ||
		strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml")
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// DecodeError is one decoding problem at a place in a file.
type DecodeError struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	Field string // JSON path such as "spec.server.args[2]"; may be empty
	Msg   string
}

func (e *DecodeError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	return loc + ": " + e.Msg
}

// yamlLineRE finds the "line N:" yaml libraries put in their messages.
var yamlLineRE = regexp.MustCompile(`line (\d+): `)

// decodeStrict decodes one YAML document into out (a *Profile or *Matrix).
//
// sigs.k8s.io/yaml converts YAML to JSON and sigs.k8s.io/json decodes it
// strictly with full field paths ("spec.sever"), but the conversion loses
// line numbers. So the document is also parsed into a yaml.v3 node tree and
// each error's field path is looked up there to name the line. (Hand-written
// because no library maps a JSON field path back to a YAML line.)
func decodeStrict(data []byte, file, kind string, out any) error {
	// Strict YAML (duplicate keys are errors) and no implicit coercion of
	// numbers/booleans into strings: a wrong type is reported, not guessed.
	// Converted first: its syntax errors name the line more precisely.
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return yamlError(err, file)
	}
	root, err := parseNode(data, file)
	if err != nil {
		return err
	}
	if err := checkTypeMeta(root, file, kind); err != nil {
		return err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, out)
	if err != nil {
		// sigs.k8s.io/json's type error type is internal; encoding/json
		// reports the same mismatch with the same field path.
		fresh := reflect.New(reflect.TypeOf(out).Elem()).Interface()
		var te *json.UnmarshalTypeError
		if jerr := json.Unmarshal(js, fresh); errors.As(jerr, &te) {
			return typeError(root, file, te)
		}
		return &DecodeError{File: file, Msg: err.Error()}
	}
	if len(strictErrs) == 0 {
		return nil
	}
	errs := make([]*DecodeError, 0, len(strictErrs))
	for _, se := range strictErrs {
		de := &DecodeError{File: file, Msg: se.Error()}
		var fe kjson.FieldError
		if errors.As(se, &fe) {
			de.Field = fe.FieldPath()
			de.Line = lookup(root, de.Field).line
			if strings.HasPrefix(se.Error(), "unknown field") {
				de.Msg += hint(de.Field, out)
			}
		}
		errs = append(errs, de)
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// parseNode parses exactly one YAML document into a node tree.
func parseNode(data []byte, file string) (*yamlv3.Node, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(data))
	var doc yamlv3.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &DecodeError{File: file, Msg: "empty document: expected apiVersion, kind, metadata and spec"}
		}
		return nil, yamlError(err, file)
	}
	var extra yamlv3.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &DecodeError{File: file, Line: extra.Line, Msg: "more than one YAML document: put one document per file"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(err, file)
	}
	root := &doc
	if root.Kind == yamlv3.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yamlv3.MappingNode {
		return nil, &DecodeError{File: file, Line: root.Line,
			Msg: "expected a mapping with apiVersion, kind, metadata and spec"}
	}
	return root, nil
}

// yamlParserErrors are the parser (not scanner) errors of go-yaml, whose
// "line N" is the 0-based line of the problem (scanner errors are 1-based),
// e.g. a mis-indented key on line 6 is reported as "line 5: did not find
// expected key". Measured with go.yaml.in/yaml v2 and v3.
var yamlParserErrors = []string{
	"did not find expected key",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected '-' indicator",
	"did not find expected node content",
	"did not find expected <document start>",
}

// yamlError turns a yaml library error ("yaml: line 3: ...") into
// "file:3: ...".
func yamlError(err error, file string) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	msg = strings.TrimSpace(msg)
	line := 0
	if m := yamlLineRE.FindStringSubmatchIndex(msg); m != nil && m[0] == 0 {
		line, _ = strconv.Atoi(msg[m[2]:m[3]])
		msg = msg[m[1]:]
		for _, pe := range yamlParserErrors {
			if strings.HasPrefix(msg, pe) {
				line++
				break
			}
		}
	}
	return &DecodeError{File: file, Line: line, Msg: "invalid YAML: " + msg}
}

// checkTypeMeta checks apiVersion and kind before the strict decode, so that
// a file of the wrong kind is not reported as a list of unknown fields.
func checkTypeMeta(root *yamlv3.Node, file, kind string) error {
	get := func(key string) (string, int, bool) {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				v := root.Content[i+1]
				return v.Value, v.Line, true
			}
		}
		return "", root.Line, false
	}
	var errs []error
	if v, line, ok := get("apiVersion"); !ok || v == "" {
		errs = append(errs, &DecodeError{File: file, Line: line, Field: "apiVersion",
			Msg: fmt.Sprintf("apiVersion is required: expected %q", APIVersion)})
	} else if v != APIVersion {
		errs = append(errs, &DecodeError{File: file, Line: line, Field: "apiVersion",
			Msg: fmt.Sprintf("unsupported apiVersion %q: expected %q", v, APIVersion)})
	}
	if v, line, ok := get("kind"); !ok || v == "" {
		errs = append(errs, &DecodeError{File: file, Line: line, Field: "kind",
			Msg: fmt.Sprintf("kind is required: expected %q", kind)})
	} else if v != kind {
		errs = append(errs, &DecodeError{File: file, Line: line, Field: "kind",
			Msg: fmt.Sprintf("unsupported kind %q here: expected %q (%s files are loaded with %s)",
				v, kind, v, loaderFor(v))})
	}
	return errors.Join(errs...)
}

func loaderFor(kind string) string {
	switch kind {
	case KindProfile:
		return "--profile / profile.Load"
	case KindMatrix:
		return "--matrix / profile.LoadMatrix"
	}
	return "no distrobench loader"
}

// typeError names the line of a value of the wrong type. encoding/json
// reports the struct field ("spec.server.args") but not the list index or
// map key, so when the node there is a collection of scalars the first
// element of the wrong type is located.
func typeError(root *yamlv3.Node, file string, te *json.UnmarshalTypeError) error {
	path := te.Field
	loc := lookup(root, path)
	want := describeType(te.Type)
	n := loc.node
	if n != nil && te.Type != nil && !isCollection(te.Type.Kind()) {
		switch n.Kind {
		case yamlv3.SequenceNode:
			for i, c := range n.Content {
				if !scalarMatches(c, te.Type.Kind()) {
					path = fmt.Sprintf("%s[%d]", path, i)
					loc = location{node: c, line: c.Line}
					break
				}
			}
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if c := n.Content[i+1]; !scalarMatches(c, te.Type.Kind()) {
					path = path + "." + n.Content[i].Value
					loc = location{node: c, line: n.Content[i].Line}
					break
				}
			}
		}
	}
	got := "a " + te.Value
	switch te.Value {
	case "array":
		got = "a list"
	case "object":
		got = "a mapping"
	case "bool":
		got = "a boolean"
	}
	msg := fmt.Sprintf("%s: expected %s, got %s", path, want, got)
	if want == "a string" && (te.Value == "number" || te.Value == "bool") {
		msg += " (quote the value to make it a string)"
	}
	if path == "" {
		msg = fmt.Sprintf("expected %s, got %s", want, got)
	}
	return &DecodeError{File: file, Line: loc.line, Field: path, Msg: msg}
}

func isCollection(k reflect.Kind) bool {
	return k == reflect.Slice || k == reflect.Map || k == reflect.Struct || k == reflect.Pointer
}

// scalarMatches says whether a YAML node decodes into a Go value of kind k.
func scalarMatches(n *yamlv3.Node, k reflect.Kind) bool {
	if n.Kind != yamlv3.ScalarNode {
		return false
	}
	switch k {
	case reflect.String:
		return n.ShortTag() == "!!str"
	case reflect.Bool:
		return n.ShortTag() == "!!bool"
	default:
		return n.ShortTag() == "!!int" || n.ShortTag() == "!!float"
	}
}

func describeType(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return describeType(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map:
		return "a mapping of " + strings.TrimPrefix(describeType(t.Elem()), "a ") + "s"
	case reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

type location struct {
	node *yamlv3.Node
	line int
}

// lookup walks a JSON field path ("spec.server.args[1]", "spec.sever") down
// the node tree. It returns the deepest node found and the line of its key,
// so an unknown field is reported on its own line.
func lookup(root *yamlv3.Node, path string) location {
	loc := location{node: root, line: root.Line}
	if path == "" {
		return loc
	}
	for _, seg := range splitPath(path) {
		n := deref(loc.node)
		switch {
		case seg.index >= 0 && n.Kind == yamlv3.SequenceNode && seg.index < len(n.Content):
			c := n.Content[seg.index]
			loc = location{node: c, line: c.Line}
		case seg.index < 0 && n.Kind == yamlv3.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg.key {
					loc = location{node: n.Content[i+1], line: n.Content[i].Line}
					found = true
					break
				}
			}
			if !found {
				return loc
			}
		default:
			return loc
		}
	}
	return loc
}

func deref(n *yamlv3.Node) *yamlv3.Node {
	for n.Kind == yamlv3.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

type segment struct {
	key   string
	index int // -1 for a key
}

func splitPath(path string) []segment {
	var segs []segment
	for _, part := range strings.Split(path, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			segs = append(segs, segment{key: key, index: -1})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if err != nil {
				break
			}
			segs = append(segs, segment{index: i})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return segs
}

// hint suggests the known field closest to an unknown one ("spec.sever" ->
// did you mean "server"?). Known fields come from the json tags of the type
// the parent path decodes into.
func hint(path string, out any) string {
	parent, name := "", path
	if i := strings.LastIndex(path, "."); i >= 0 {
		parent, name = path[:i], path[i+1:]
	}
	t := reflect.TypeOf(out)
	for _, seg := range splitPath(parent) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if seg.index >= 0 {
			continue
		}
		f, ok := fieldByJSONName(t, seg.key)
		if !ok {
			return ""
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	var known []string
	best, bestDist := "", 3 // suggest only close matches
	for i := 0; i < t.NumField(); i++ {
		n := jsonName(t.Field(i))
		if n == "" {
			continue
		}
		known = append(known, n)
		if d := editDistance(strings.ToLower(name), strings.ToLower(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known fields: %s)", strings.Join(known, ", "))
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := 0; i < t.NumField(); i++ {
		if jsonName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func jsonName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if tag == "" {
		return f.Name
	}
	return tag
}

// editDistance is the Levenshtein distance (small strings only).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
