package upstream

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestPlanCertifiedSplitsParallelAndSerial(t *testing.T) {
	sel, err := plan(&Options{Mode: ModeCertified, Procs: 6})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.passes) != 2 {
		t.Fatalf("passes %+v, want parallel then serial", sel.passes)
	}
	par, ser := sel.passes[0], sel.passes[1]
	if par.Name != "parallel" || par.Procs != 6 || par.LabelFilter != "Conformance && !Serial" || len(par.Focus) != 0 || len(par.Skip) != 0 {
		t.Errorf("parallel pass %+v", par)
	}
	// Disruptive specs are not skipped: sonobuoy's certified-conformance has no skip.
	if ser.Name != "serial" || ser.Procs != 1 || ser.LabelFilter != "Conformance && Serial" || len(ser.Skip) != 0 {
		t.Errorf("serial pass %+v", ser)
	}
}

func TestPlanQuickIsSonobuoysFocus(t *testing.T) {
	sel, err := plan(&Options{Mode: ModeQuick})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.passes) != 1 {
		t.Fatalf("passes %+v", sel.passes)
	}
	p := sel.passes[0]
	if p.Procs != 1 || !slices.Equal(p.Focus, []string{"Pods should be submitted and removed"}) || p.LabelFilter != "Conformance" {
		t.Errorf("quick pass %+v", p)
	}
	if !regexp.MustCompile(p.Focus[0]).MatchString("Kubernetes e2e suite " + QuickSpec) {
		t.Error("quick focus does not select QuickSpec")
	}
	if !strings.Contains(sel.notSelected, "quick") {
		t.Errorf("skip reason %q does not name the mode", sel.notSelected)
	}
}

func TestPlanCoreUsesExactNames(t *testing.T) {
	sel, err := plan(&Options{Mode: ModeCore, Procs: 4})
	if err != nil {
		t.Fatal(err)
	}
	var serial, parallel []string
	for _, p := range sel.passes {
		if p.Name == "serial" {
			serial = p.Wanted
			if p.Procs != 1 {
				t.Errorf("serial pass with %d procs", p.Procs)
			}
		} else {
			parallel = p.Wanted
		}
		if len(p.Focus) != len(p.Wanted) {
			t.Errorf("%s: %d focus regexps for %d specs", p.Name, len(p.Focus), len(p.Wanted))
		}
	}
	if len(serial)+len(parallel) != len(CoreSpecs) {
		t.Errorf("%d+%d specs planned, want %d", len(serial), len(parallel), len(CoreSpecs))
	}
	for _, n := range serial {
		if !strings.Contains(n, "[Serial]") {
			t.Errorf("non-serial spec in the serial pass: %s", n)
		}
	}
	for _, n := range parallel {
		if strings.Contains(n, "[Serial]") {
			t.Errorf("serial spec in the parallel pass: %s", n)
		}
	}
}

func TestCoreSpecsCoverEverySIG(t *testing.T) {
	got := map[string]int{}
	for _, n := range CoreSpecs {
		got[SIGOf(n)]++
	}
	for _, sig := range []string{"sig-api-machinery", "sig-apps", "sig-architecture", "sig-auth", "sig-cli",
		"sig-instrumentation", "sig-network", "sig-node", "sig-scheduling", "sig-storage"} {
		if got[sig] == 0 {
			t.Errorf("core mode has no %s spec", sig)
		}
	}
	if n := len(CoreSpecs); n < 25 || n > 35 {
		t.Errorf("core mode has %d specs, want 25-35", n)
	}
	if len(CoreSpecs) != len(uniq(CoreSpecs)) {
		t.Error("duplicate names in CoreSpecs")
	}
}

func uniq(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

// The focus regexp for an exact name must select that spec and no spec whose
// name merely contains it.
func TestExactFocusMatchesOnlyTheName(t *testing.T) {
	name := "[sig-node] Pods should be updated [Conformance] [NodeConformance]"
	re := regexp.MustCompile(exactFocus([]string{name})[0])
	if !re.MatchString("Kubernetes e2e suite " + name) {
		t.Error("does not match the spec itself")
	}
	for _, other := range []string{
		"[sig-node] Pods should be updated [Conformance] [NodeConformance] and more",
		"[sig-node] X [sig-node] Pods should be updated [Conformance] [NodeConformanceX]",
		"[sig-node] Pods should be updated [Conformance]",
	} {
		if re.MatchString("Kubernetes e2e suite " + other) {
			t.Errorf("also matches %q", other)
		}
	}
	// Metacharacters in names ((, ), [, ], *, ") are quoted.
	odd := `[sig-node] Probing container should *not* be restarted with a exec "cat /tmp/health" liveness probe [Conformance] [NodeConformance]`
	if !regexp.MustCompile(exactFocus([]string{odd})[0]).MatchString("Kubernetes e2e suite " + odd) {
		t.Error("quoted name does not match itself")
	}
}

func TestPlanSpecsAndFocusOverrideMode(t *testing.T) {
	sel, err := plan(&Options{Mode: ModeCertified, Specs: []string{"[sig-a] x [Conformance]", "[sig-b] y [Conformance] [Serial]", "[sig-a] x [Conformance]"}, NotSelectedReason: "not rerun"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.passes) != 2 || len(sel.passes[0].Wanted) != 1 || len(sel.passes[1].Wanted) != 1 || sel.notSelected != "not rerun" {
		t.Errorf("explicit specs: %+v", sel)
	}
	if sel.passes[0].Procs != 1 {
		t.Errorf("one parallel spec planned on %d procs, want 1", sel.passes[0].Procs)
	}
	sel, err = plan(&Options{Mode: ModeQuick, Focus: `\[sig-storage\]`, Skip: "Slow"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range sel.passes {
		if !slices.Equal(p.Focus, []string{`\[sig-storage\]`}) || !slices.Equal(p.Skip, []string{"Slow"}) {
			t.Errorf("focus pass %+v", p)
		}
	}
	if _, err := plan(&Options{Mode: ModeCore, Skip: "("}); err == nil {
		t.Error("invalid skip regexp accepted")
	}
	if _, err := plan(&Options{Mode: "everything"}); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestArgs(t *testing.T) {
	o := Options{Kubeconfig: "/k/kubeconfig", Mode: ModeCertified, Procs: 5, OutDir: "/out", KubectlPath: "/bin/kubectl",
		Timeout: 2 * time.Hour, ExtraArgs: []string{"--allowed-not-ready-nodes=1"}}
	passes, err := Args(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(passes) != 2 {
		t.Fatalf("%d passes", len(passes))
	}
	par := strings.Join(passes[0], " ")
	for _, want := range []string{"--no-color", "--procs=5", "--timeout=1h59m0s", "--label-filter=Conformance && !Serial",
		"/out/e2e.test --", "--kubeconfig=/k/kubeconfig", "--provider=local", "--report-dir=/out/parallel",
		"--disable-log-dump", "--kubectl-path=/bin/kubectl", "--allowed-not-ready-nodes=1"} {
		if !strings.Contains(par, want) {
			t.Errorf("parallel args lack %q: %s", want, par)
		}
	}
	// Ginkgo flags before the suite binary, e2e.test flags after "--".
	if i, j := slices.Index(passes[0], "--procs=5"), slices.Index(passes[0], "--"); i < 0 || j < i {
		t.Errorf("ginkgo flags must precede --: %v", passes[0])
	}
	ser := strings.Join(passes[1], " ")
	if strings.Contains(ser, "--procs") || !strings.Contains(ser, "--report-dir=/out/serial") {
		t.Errorf("serial args: %s", ser)
	}
}

func TestDefaultProcs(t *testing.T) {
	n := DefaultProcs()
	if n < 4 || n > 16 {
		t.Errorf("DefaultProcs %d outside [4,16]", n)
	}
	if want := min(max(2*runtime.NumCPU(), 4), 16); n != want {
		t.Errorf("DefaultProcs %d, want %d", n, want)
	}
}

// TestCoreSpecsExist checks CoreSpecs and QuickSpec against the e2e.test that
// `make -C distro e2e` built: a Kubernetes bump that renames a spec fails here.
func TestCoreSpecsExist(t *testing.T) {
	bin := builtE2ETest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	names, err := ListConformance(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	for _, n := range append([]string{QuickSpec}, CoreSpecs...) {
		if !have[n] {
			t.Errorf("not a [Conformance] spec of %s: %q", bin, n)
		}
	}
	// The same names, by the binary's own conformance list.
	out, err := exec.CommandContext(ctx, bin, "--list-conformance-tests").Output()
	if err != nil {
		t.Fatalf("%s --list-conformance-tests: %v", bin, err)
	}
	var list []struct {
		Codename string `json:"codename"`
	}
	if err := yaml.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, c := range list {
		listed[c.Codename] = true
	}
	if len(listed) != len(names) {
		t.Errorf("--list-conformance-tests has %d specs, the Conformance label %d", len(listed), len(names))
	}
	for _, n := range append([]string{QuickSpec}, CoreSpecs...) {
		if !listed[n] {
			t.Errorf("--list-conformance-tests lacks %q", n)
		}
	}
}

// builtE2ETest returns the e2e.test of `make -C distro e2e` for this
// machine's arch: the integration tier needs it (skipped with -short).
func builtE2ETest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs distro/_output/e2e.test-linux-" + runtime.GOARCH + " (make -C distro e2e)")
	}
	bin := BinaryPaths(filepath.Join("..", ".."), runtime.GOARCH).E2ETest
	if !isFile(bin) {
		t.Fatalf("%s missing: build it with `make -C distro e2e`", bin)
	}
	return bin
}
