package profile

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// loadAndCheck runs the whole pipeline a caller runs: Load, SetDefaults,
// Validate. It returns the first error and the stage it came from.
func loadAndCheck(path string) (stage string, err error) {
	p, err := Load(path)
	if err != nil {
		return "decode", err
	}
	p.SetDefaults()
	if err := p.Validate(); err != nil {
		return "validate", err
	}
	return "", nil
}

func TestValidFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/valid-*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if strings.Contains(f, "matrix") {
				m, err := LoadMatrix(f)
				if err != nil {
					t.Fatal(err)
				}
				m.SetDefaults()
				if err := m.Validate(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if stage, err := loadAndCheck(f); err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
		})
	}
}

func TestInvalidFixtures(t *testing.T) {
	tests := []struct {
		file  string
		stage string   // where the error must come from
		want  []string // fragments, all required
		not   []string // fragments that must not appear
	}{
		{
			file:  "invalid-unknown-field.yaml",
			stage: "decode",
			want: []string{
				`testdata/invalid-unknown-field.yaml:8: unknown field "spec.sever" (did you mean "server"?)`,
				`testdata/invalid-unknown-field.yaml:12: unknown field "spec.datastore.endpont" (did you mean "endpoint"?)`,
			},
		},
		{
			// Removed: node processes are found by cgroup, not by name.
			file:  "invalid-footprint.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-footprint.yaml:10: unknown field "spec.footprint"`},
		},
		{
			file:  "invalid-datastore.yaml",
			stage: "validate",
			want: []string{
				`testdata/invalid-datastore.yaml: invalid DistributionProfile`,
				`spec.datastore.type: Unsupported value: "mongo": supported values: "embedded-etcd", "etcd", "mysql", "postgres", "sqlite"`,
			},
		},
		{
			file:  "invalid-missing-name.yaml",
			stage: "validate",
			want:  []string{`metadata.name: Required value`},
		},
		{
			file:  "invalid-bundled-and-binary.yaml",
			stage: "validate",
			want:  []string{`spec.binary: Forbidden: spec.bundled and spec.binary are mutually exclusive`},
		},
		{
			file:  "invalid-owned-flag.yaml",
			stage: "validate",
			want: []string{
				`(3 problems)`,
				`spec.server.args[1]: Forbidden: "--data-dir" is set by distrobench`,
				`spec.server.args[2]: Forbidden: "--token" is set by distrobench`,
				`spec.server.args[4]: Forbidden: "--cluster-init" is set by distrobench`,
			},
		},
		{
			file:  "invalid-apiversion.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-apiversion.yaml:1: unsupported apiVersion "distrobench.io/v1": expected "distrobench.io/v1alpha1"`},
		},
		{
			file:  "invalid-kind.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-kind.yaml:3: unsupported kind "Matrix" here: expected "DistributionProfile"`},
			not:   []string{"unknown field"},
		},
		{
			file:  "invalid-type.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-type.yaml:8: spec.timeouts.ready: expected a string, got a number (quote the value to make it a string)`},
		},
		{
			file:  "invalid-type-list-element.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-type-list-element.yaml:10: spec.server.args[1]: expected a string, got a number`},
		},
		{
			file:  "invalid-type-list.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-type-list.yaml:8: spec.server.args: expected a list of strings, got a string`},
		},
		{
			file:  "invalid-syntax.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-syntax.yaml:6: invalid YAML:`},
		},
		{
			file:  "invalid-duplicate-key.yaml",
			stage: "decode",
			want:  []string{`testdata/invalid-duplicate-key.yaml:8: invalid YAML:`, `"style"`},
		},
		{
			file:  "invalid-many.yaml",
			stage: "validate",
			want: []string{
				`(7 problems)`,
				`metadata.name: Invalid value: "Many_Problems"`,
				`spec.style: Unsupported value: "openshift": supported values: "k3s", "rke2"`,
				`spec.datastore.endpoint: Invalid value: "mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine": a sqlite endpoint must start with sqlite://`,
				`spec.arch: Unsupported value: "riscv64": supported values: "amd64", "arm64"`,
				`spec.server.args[0]: Invalid value: "--audit-log-path=${LOG_DIR}/audit.log": unknown placeholder ${LOG_DIR}`,
				`spec.timeouts.ready: Invalid value: "soon": not a duration`,
				`spec.timeouts.stop: Invalid value: "-5s": must be greater than zero`,
			},
			not: []string{"hunter2"},
		},
		{
			file:  "invalid-nodes.yaml",
			stage: "validate",
			want: []string{
				`(3 problems)`,
				`spec.agent.args[1]: Forbidden: "--server" is set by distrobench for every agent`,
				`spec.agent.args[2]: Forbidden: "--node-ip" is set by distrobench for every agent`,
				`spec.nodes.agents: Invalid value: 300: must be between 0 and 252`,
			},
		},
		{
			file:  "invalid-endpoint-scheme.yaml",
			stage: "validate",
			want: []string{
				`spec.datastore.endpoint: Invalid value: "postgres://kine:REDACTED@127.0.0.1:5432/kine": a mysql endpoint must start with mysql://`,
			},
			not: []string{"hunter2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			stage, err := loadAndCheck(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatal("no error")
			}
			if stage != tt.stage {
				t.Errorf("error came from %s, want %s: %v", stage, tt.stage, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error contains %q:\n%v", n, err)
				}
			}
		})
	}
}

func TestInvalidMatrixFixtures(t *testing.T) {
	_, err := LoadMatrix("testdata/invalid-matrix-unknown-field.yaml")
	if err == nil || !strings.Contains(err.Error(),
		`testdata/invalid-matrix-unknown-field.yaml:8: unknown field "spec.arch" (did you mean "archs"?)`) {
		t.Errorf("unknown matrix field: got %v", err)
	}

	m, err := LoadMatrix("testdata/invalid-matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m.SetDefaults()
	err = m.Validate()
	for _, w := range []string{
		`metadata.name: Required value`,
		`spec.datastores[1]: Unsupported value: "cassandra": supported values: "embedded-etcd", "etcd", "mysql", "postgres", "sqlite"`,
		`spec.archs[1]: Duplicate value: "amd64"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("matrix validation lacks %q: %v", w, err)
		}
	}
	if _, err := m.Expand("testdata"); err == nil {
		t.Error("Expand of an invalid matrix succeeded")
	}

	if _, err := Load("testdata/valid-matrix.yaml"); err == nil ||
		!strings.Contains(err.Error(), `unsupported kind "Matrix" here: expected "DistributionProfile"`) {
		t.Errorf("matrix loaded as a profile: %v", err)
	}
}

func TestValidationErrorUnwrapsFieldErrors(t *testing.T) {
	p := &Profile{Spec: Spec{Datastore: DatastoreSpec{Type: "mongo"}}}
	p.SetDefaults()
	err := p.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("not a *ValidationError: %T %v", err, err)
	}
	var fe *field.Error
	if !errors.As(err, &fe) {
		t.Fatal("errors.As does not reach the *field.Error")
	}
	got := map[string]bool{}
	for _, e := range ve.Errors {
		got[e.Field] = true
	}
	for _, f := range []string{"metadata.name", "spec.datastore.type"} {
		if !got[f] {
			t.Errorf("no error for %s: %v", f, err)
		}
	}
	// A profile not from a file is named by kind and name.
	if !strings.HasPrefix(err.Error(), `DistributionProfile "": invalid DistributionProfile (2 problems):`) {
		t.Errorf("unexpected header: %v", err)
	}
}

func TestDecodeEdgeCases(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "x.yaml: empty document"},
		{"mis-indented key", "a: 1\nb:\n  c: 2\n d: 3\n", "x.yaml:4: invalid YAML: did not find expected key"},
		{"list item then key", "a: 1\nb:\n  - x\n  y: 2\n", "x.yaml:4: invalid YAML: did not find expected '-' indicator"},
		{"tab", "a: 1\nb:\n\t- x\n", "x.yaml:3: invalid YAML: found character that cannot start any token"},
		{"mapping in value", "a: 1\nb: c: d\n", "x.yaml:2: invalid YAML: mapping values are not allowed in this context"},
		{"comments only", "# nothing\n", "x.yaml: empty document"},
		{"not a mapping", "- a\n- b\n", "x.yaml:1: expected a mapping"},
		{"two documents", "apiVersion: distrobench.io/v1alpha1\nkind: DistributionProfile\n---\nkind: x\n", "x.yaml:3: more than one YAML document"},
		{"no apiVersion", "kind: DistributionProfile\n", `x.yaml:1: apiVersion is required: expected "distrobench.io/v1alpha1"`},
		{"no kind", "apiVersion: distrobench.io/v1alpha1\n", `kind is required: expected "DistributionProfile"`},
		{"far from any field", "apiVersion: distrobench.io/v1alpha1\nkind: DistributionProfile\nspec:\n  zzzzzz: 1\n",
			`x.yaml:4: unknown field "spec.zzzzzz" (known fields: style, bundled, binary, server, agent, nodes, datastore, arch, kubeconfig, tokenFile, timeouts)`},
		{"map value type", "apiVersion: distrobench.io/v1alpha1\nkind: DistributionProfile\nspec:\n  server:\n    env:\n      A: x\n      B: 1\n",
			`x.yaml:7: spec.server.env.B: expected a string, got a number`},
		{"bool for struct", "apiVersion: distrobench.io/v1alpha1\nkind: DistributionProfile\nspec:\n  bundled: true\n",
			`x.yaml:4: spec.bundled: expected a mapping, got a boolean`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc), "x.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
			var de *DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Errorf("not a *DecodeError: %T", err)
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	p, err := Load("testdata/valid-minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p.SetDefaults()
	want := Spec{
		Style:     "k3s",
		Bundled:   &Bundled{},
		Datastore: DatastoreSpec{Type: dstype.SQLite},
		Arch:      runtime.GOARCH,
		TokenFile: "server/token",
		Timeouts:  Timeouts{Ready: "120s", Stop: "30s"},
	}
	if !reflect.DeepEqual(p.Spec, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", p.Spec, want)
	}
	before := p.DeepCopy()
	p.SetDefaults()
	if !reflect.DeepEqual(p, before) {
		t.Error("SetDefaults is not idempotent")
	}

	// Set values are kept; a binary means no Bundled.
	full, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	orig := full.DeepCopy()
	full.SetDefaults()
	if !reflect.DeepEqual(full, orig) {
		t.Errorf("SetDefaults changed set values:\n got %+v\nwant %+v", full.Spec, orig.Spec)
	}
	b := &Profile{Spec: Spec{Binary: "/usr/local/bin/rke2"}}
	b.SetDefaults()
	if b.Spec.Bundled != nil {
		t.Errorf("binary defaults: bundled=%v", b.Spec.Bundled)
	}
}

func TestValidateBinary(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "k3s")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		binary, file, want string
	}{
		{binary: exe},
		// Relative paths are relative to the working directory, like a
		// --binary flag, not to the profile file.
		{binary: "k3s", file: filepath.Join(dir, "p.yaml"), want: `spec.binary: Not found: "k3s"`},
		{binary: "/x/k3s", want: `spec.binary: Not found: "/x/k3s": no such file (build one with 'distrobench build' or point to an installed k3s/rke2 binary)`},
		{binary: plain, want: `spec.binary: Invalid value: "` + plain + `": not executable (chmod +x it)`},
		{binary: dir, want: `is a directory`},
	}
	for _, tt := range tests {
		p := &Profile{Metadata: Metadata{Name: "bin"}, Spec: Spec{Binary: tt.binary}, File: tt.file}
		p.SetDefaults()
		err := p.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("binary %q: %v", tt.binary, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("binary %q: got %v, want %q", tt.binary, err, tt.want)
		}
	}
}

func TestOwnedFlag(t *testing.T) {
	tests := map[string]string{
		"--data-dir":                   "--data-dir",
		"--data-dir=/x":                "--data-dir",
		"-data-dir=/x":                 "--data-dir",
		"-d":                           "--data-dir",
		"-o":                           "--write-kubeconfig",
		"--write-kubeconfig=/k":        "--write-kubeconfig",
		"--https-listen-port=7443":     "--https-listen-port",
		"--datastore-endpoint=x":       "--datastore-endpoint",
		"--cluster-init":               "--cluster-init",
		"--token=abc":                  "--token",
		"--token-file=/t":              "",
		"--write-kubeconfig-mode=0644": "",
		"--disable-agent":              "",
		"--kube-apiserver-arg=token=x": "",
		"data-dir":                     "",
	}
	for arg, want := range tests {
		if got := ownedFlag(arg); got != want {
			t.Errorf("ownedFlag(%q) = %q, want %q", arg, got, want)
		}
	}
}

func TestDatastoreEndpoints(t *testing.T) {
	tests := []struct {
		typ, endpoint, want string
	}{
		{dstype.MySQL, "mysql://root:pw@tcp(127.0.0.1:3306)/kine", ""},
		{dstype.Postgres, "postgres://u:pw@127.0.0.1:5432/kine?sslmode=disable", ""},
		{dstype.Postgres, "postgresql://u@127.0.0.1/kine", ""},
		{dstype.Etcd, "https://127.0.0.1:2379,https://127.0.0.2:2379", ""},
		{dstype.Etcd, "http://127.0.0.1:2379", ""},
		{dstype.Etcd, "https://127.0.0.1:2379,127.0.0.2:2379", "an etcd endpoint must start with http:// or https://"},
		{dstype.MySQL, "root:pw@tcp(127.0.0.1:3306)/kine", "a mysql endpoint must start with mysql://"},
		{dstype.Postgres, "mysql://x", "a postgres endpoint must start with postgres:// or postgresql://"},
		{dstype.EmbeddedEtcd, "https://127.0.0.1:2379", `Forbidden: datastore type "embedded-etcd" runs inside the server`},
		// K3s and k3lite take sqlite://PATH: where the SQLite file lives.
		{dstype.SQLite, "sqlite:///tmp/state.db", ""},
		{dstype.SQLite, "/tmp/state.db", "a sqlite endpoint must start with sqlite://"},
	}
	for _, tt := range tests {
		errs := validateDatastore(DatastoreSpec{Type: tt.typ, Endpoint: tt.endpoint}, field.NewPath("spec", "datastore"))
		got := errs.ToAggregate()
		switch {
		case tt.want == "" && got != nil:
			t.Errorf("%s %s: %v", tt.typ, tt.endpoint, got)
		case tt.want != "" && (got == nil || !strings.Contains(got.Error(), tt.want)):
			t.Errorf("%s %s: got %v, want %q", tt.typ, tt.endpoint, got, tt.want)
		}
		if got != nil && strings.Contains(got.Error(), ":pw@") {
			t.Errorf("password leaked: %v", got)
		}
	}
}

func TestResolveAndList(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: distrobench.io/v1alpha1\nkind: DistributionProfile\nmetadata:\n  name: NAME\n"
	for _, n := range []string{"k3s", "rke2"} {
		if err := os.WriteFile(filepath.Join(dir, n+".yaml"), []byte(strings.Replace(doc, "NAME", n, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "alt.yml"), []byte(strings.Replace(doc, "NAME", "alt", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "matrix"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a profile"), 0o644); err != nil {
		t.Fatal(err)
	}

	names, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"alt", "k3s", "rke2"}; !reflect.DeepEqual(names, want) {
		t.Errorf("List = %v, want %v", names, want)
	}

	for ref, wantName := range map[string]string{
		"k3s":                           "k3s",
		"alt":                           "alt",
		filepath.Join(dir, "rke2.yaml"): "rke2",
	} {
		p, err := Resolve(ref, dir)
		if err != nil {
			t.Errorf("Resolve(%q): %v", ref, err)
			continue
		}
		if p.Metadata.Name != wantName || p.File == "" {
			t.Errorf("Resolve(%q) = name %q file %q", ref, p.Metadata.Name, p.File)
		}
	}

	_, err = Resolve("k3z", dir)
	if err == nil || !strings.Contains(err.Error(), `profile "k3z" not found in `+dir+`: available profiles: alt, k3s, rke2`) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Resolve("missing.yaml", dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	if _, err := Resolve("", dir); err == nil {
		t.Error("empty name accepted")
	}
	if _, err := List(filepath.Join(dir, "nope")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("List of a missing dir: %v", err)
	}
}

func TestWithOverrides(t *testing.T) {
	base, err := Load("testdata/valid-full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base.SetDefaults()
	orig := base.DeepCopy()

	same := base.WithOverrides("", "", "")
	if !reflect.DeepEqual(same, base) {
		t.Error("empty overrides changed the profile")
	}
	// A deep copy: changing the copy leaves the base alone.
	same.Spec.Server.Args[0] = "--changed"
	same.Spec.Bundled.Tags[0] = "changed"
	same.Spec.Bundled.Env["GOAMD64"] = "changed"
	same.Spec.Server.Env["GOGC"] = "changed"
	same.Spec.Agent.Args[0] = "changed"
	if !reflect.DeepEqual(base, orig) {
		t.Error("the copy shares memory with the base")
	}

	pg := base.WithOverrides(dstype.Postgres, "", "amd64")
	if pg.Spec.Datastore.Type != dstype.Postgres || pg.Spec.Datastore.Endpoint != "" || pg.Spec.Arch != "amd64" {
		t.Errorf("datastore override kept the mysql endpoint or lost arch: %+v %s", pg.Spec.Datastore, pg.Spec.Arch)
	}
	ep := base.WithOverrides("", "mysql://u:p@tcp(127.0.0.1:3307)/other", "")
	if ep.Spec.Datastore.Type != dstype.MySQL || ep.Spec.Datastore.Endpoint != "mysql://u:p@tcp(127.0.0.1:3307)/other" {
		t.Errorf("endpoint override: %+v", ep.Spec.Datastore)
	}
	sameType := base.WithOverrides(dstype.MySQL, "", "")
	if sameType.Spec.Datastore.Endpoint != base.Spec.Datastore.Endpoint {
		t.Error("overriding the datastore with its own type dropped the endpoint")
	}
	if !reflect.DeepEqual(base, orig) {
		t.Error("WithOverrides changed the base")
	}
}

func TestExpandArgs(t *testing.T) {
	p := &Profile{File: filepath.Join("testdata", "valid-full.yaml")}
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--a=${DATA_DIR}/server/logs/audit.log",
		"--b=${RUN_DIR}/x,${PROFILE_DIR}/files/y",
		"--c=$HOME/${UNKNOWN}",
		"--plain",
	}
	got := p.ExpandArgs(args, "/data", "/run/1")
	want := []string{
		"--a=/data/server/logs/audit.log",
		"--b=/run/1/x," + abs + "/files/y",
		"--c=$HOME/${UNKNOWN}",
		"--plain",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ExpandArgs:\n got %q\nwant %q", got, want)
	}
	if args[0] != "--a=${DATA_DIR}/server/logs/audit.log" {
		t.Error("ExpandArgs modified its input")
	}
	// Without a file, ${PROFILE_DIR} stays and Validate says why.
	noFile := &Profile{Metadata: Metadata{Name: "x"}, Spec: Spec{Server: Component{Args: []string{"--f=${PROFILE_DIR}/a"}}}}
	if got := noFile.ExpandArgs(noFile.Spec.Server.Args, "/d", "/r"); got[0] != "--f=${PROFILE_DIR}/a" {
		t.Errorf("no file: %q", got)
	}
	noFile.SetDefaults()
	if err := noFile.Validate(); err == nil || !strings.Contains(err.Error(), "${PROFILE_DIR} needs a profile loaded from a file") {
		t.Errorf("no file: %v", err)
	}
	// A ${PROFILE_DIR} file that does not exist is reported.
	missing := &Profile{Metadata: Metadata{Name: "x"}, File: "testdata/p.yaml",
		Spec: Spec{Server: Component{Args: []string{"--kube-apiserver-arg=audit-policy-file=${PROFILE_DIR}/files/nope.yaml"}}}}
	missing.SetDefaults()
	if err := missing.Validate(); err == nil || !strings.Contains(err.Error(),
		`spec.server.args[0]: Not found: "`+abs+`/files/nope.yaml": no such file next to the profile`) {
		t.Errorf("missing profile file: %v", err)
	}
}

func TestMatrixExpand(t *testing.T) {
	m, err := LoadMatrix("testdata/valid-matrix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m.SetDefaults()
	cells, err := m.Expand("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cells {
		names = append(names, c.Name())
		if c.Profile.Spec.Arch != c.Arch || c.Profile.Spec.Datastore.Type != c.Datastore {
			t.Errorf("%s: cell and its profile disagree: %+v", c.Name(), c.Profile.Spec)
		}
	}
	// Datastores axis empty: each profile keeps its own (minimal: sqlite by
	// default, full: mysql with its endpoint).
	want := []string{"minimal-sqlite-amd64", "minimal-sqlite-arm64", "full-mysql-amd64", "full-mysql-arm64"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("cells = %v, want %v", names, want)
	}
	if cells[0].Profile == cells[1].Profile {
		t.Error("cells share a profile")
	}
	if cells[2].Profile.Spec.Datastore.Endpoint == "" {
		t.Error("the full profile lost its endpoint")
	}

	// Problems in cells are all reported.
	bad := &Matrix{Metadata: Metadata{Name: "bad"}, Spec: MatrixSpec{
		Profiles:   []string{"valid-minimal", "nope", "invalid-datastore"},
		Datastores: []string{dstype.SQLite},
	}}
	bad.SetDefaults()
	_, err = bad.Expand("testdata")
	for _, w := range []string{
		`profile "nope" not found in testdata: available profiles:`,
		// invalid-datastore.yaml says mongo; the cell overrides it to sqlite,
		// so that cell is valid: later wins.
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Expand error lacks %q: %v", w, err)
		}
	}
	if strings.Contains(err.Error(), "mongo") {
		t.Errorf("the datastore override did not win: %v", err)
	}
	dup := &Matrix{Metadata: Metadata{Name: "dup"}, Spec: MatrixSpec{
		Profiles: []string{"valid-minimal", "testdata/valid-minimal.yaml"},
	}}
	dup.SetDefaults()
	if _, err := dup.Expand("testdata"); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate cells: %v", err)
	}
	invalidCell := &Matrix{Metadata: Metadata{Name: "cell"}, Spec: MatrixSpec{Profiles: []string{"invalid-many"}}}
	invalidCell.SetDefaults()
	if _, err := invalidCell.Expand("testdata"); err == nil ||
		!strings.Contains(err.Error(), `matrix cell Many_Problems-sqlite-riscv64: testdata/invalid-many.yaml: invalid DistributionProfile`) ||
		!strings.Contains(err.Error(), `spec.style: Unsupported value: "openshift"`) {
		t.Errorf("invalid cell: %v", err)
	}
}
