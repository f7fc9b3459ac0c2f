package upstream

import (
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

// passFromFixture is a pass whose JUnit report is testdata/junit_01.xml.
func passFromFixture(t *testing.T, name string, selected []string, incomplete string) *passRun {
	t.Helper()
	leaves, _, err := junitLeaves("testdata/junit_01.xml")
	if err != nil {
		t.Fatal(err)
	}
	pr := &passRun{pass: pass{Name: name}, selected: selected, incomplete: incomplete, results: map[string]result.Item{}}
	for _, l := range leaves {
		if l.Meta[MetaSIG] == GroupSuite {
			l.Name = name + " pass: " + l.Name
			pr.suiteLeaves = append(pr.suiteLeaves, l)
			continue
		}
		pr.results[l.Name] = l
	}
	return pr
}

const (
	podsSpec    = "[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]"
	dnsSpec     = "[sig-network] DNS should provide DNS for the cluster [Conformance]"
	rollover    = "[sig-apps] Deployment deployment should support rollover [Conformance]"
	sysctls     = "[sig-node] Sysctls [LinuxOnly] should support sysctls [Environment:NotInUserNS] [Conformance] [NodeConformance]"
	kubectlVer  = "[sig-cli] Kubectl client Kubectl version should check is all data is printed [Conformance]"
	neverListed = "[sig-storage] Never in any JUnit [Conformance]"
	serialSpec  = "[sig-scheduling] SchedulerPredicates validates that NodeSelector is respected if matching [Conformance] [Serial]"
)

func TestAssembleCompletePass(t *testing.T) {
	universe := []string{podsSpec, dnsSpec, rollover, sysctls, kubectlVer, serialSpec}
	par := passFromFixture(t, "parallel", []string{podsSpec, dnsSpec, rollover, sysctls}, "")
	tree := assemble(universe, []*passRun{par}, "not selected: mode core")

	want := map[string]struct {
		st  result.Status
		msg string
	}{
		podsSpec: {result.StatusPassed, ""},
		dnsSpec:  {result.StatusFailed, "Unable to read"},
		// selected but skipped by the spec itself: keeps its reason
		sysctls: {result.StatusSkipped, "Only supported for node OS distro"},
		// selected, plain "skipped" in a pass that ran to its end: as reported
		rollover: {result.StatusSkipped, "skipped"},
		// not selected: skipped with the mode's reason, although the
		// pass's JUnit lists it too
		kubectlVer: {result.StatusNotSelected, "not selected: mode core"},
		serialSpec: {result.StatusNotSelected, "not selected: mode core"},
	}
	for name, w := range want {
		leaf, _ := leafByName(t, tree, name)
		if leaf.Status != w.st || !strings.Contains(leaf.Message, w.msg) {
			t.Errorf("%s: %s %q, want %s containing %q", name, leaf.Status, leaf.Message, w.st, w.msg)
		}
	}
	// Specs in the JUnit report but neither selected nor [Conformance] are
	// left out (e2e.test lists thousands of them as skipped).
	for _, n := range leafNames(tree) {
		if strings.Contains(n, "Job should manage") || strings.Contains(n, "Secrets should be consumable") {
			t.Errorf("unselected non-universe spec in the tree: %s", n)
		}
	}
	// The failed suite node is kept, named after its pass.
	if leaf, path := leafByName(t, tree, "parallel pass: [ReportAfterSuite] [sig-testing] Log Check"); leaf.Status != result.StatusFailed || path[0] != GroupSuite {
		t.Errorf("suite node: %+v under %v", leaf, path)
	}
}

func TestAssembleInterruptedPasses(t *testing.T) {
	universe := []string{podsSpec, dnsSpec, rollover, neverListed, serialSpec}
	par := passFromFixture(t, "parallel", []string{podsSpec, dnsSpec, rollover, neverListed}, "interrupted (Ctrl-C)")
	par.missing = []string{"[sig-x] renamed spec [Conformance]"}
	ser := &passRun{pass: pass{Name: "serial"}, selected: []string{serialSpec}, incomplete: "interrupted before this pass started"}
	tree := assemble(universe, []*passRun{par, ser}, "unused")

	cases := map[string]struct {
		st  result.Status
		msg string
	}{
		podsSpec: {result.StatusPassed, ""},
		dnsSpec:  {result.StatusFailed, "Unable to read"},
		// never reached: ginkgo's plain "skipped" becomes an error
		rollover: {result.StatusError, "not run: interrupted (Ctrl-C)"},
		// not in the JUnit at all
		neverListed: {result.StatusError, "not run: interrupted (Ctrl-C)"},
		serialSpec:  {result.StatusError, "not run: interrupted before this pass started"},
		// wanted but unknown to the binary
		"[sig-x] renamed spec [Conformance]": {result.StatusError, "no spec of this name"},
	}
	for name, w := range cases {
		leaf, _ := leafByName(t, tree, name)
		if leaf.Status != w.st || !strings.Contains(leaf.Message, w.msg) {
			t.Errorf("%s: %s %q, want %s containing %q", name, leaf.Status, leaf.Message, w.st, w.msg)
		}
		if w.st == result.StatusError && leaf.Meta[MetaSource] != "not-run" {
			t.Errorf("%s: source %q, want not-run", name, leaf.Meta[MetaSource])
		}
	}
	if leaf, _ := leafByName(t, tree, serialSpec); leaf.Meta["pass"] != "serial" {
		t.Errorf("serial spec meta %v", leaf.Meta)
	}
	// A rerun of this report picks up exactly the failed and not-run specs.
	rep := result.New("r", testTime())
	rep.Tests = tree
	failed, err := FailedSpecs(rep, "r.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 5 {
		t.Errorf("FailedSpecs %q, want dns, rollover, neverListed, serial, renamed", failed)
	}
}
