package upstream

import (
	"strings"
	"testing"

	sonoresults "github.com/vmware-tanzu/sonobuoy/pkg/client/results"

	"github.com/distrobench/distrobench/internal/result"
)

func leafByName(t *testing.T, tree *result.Item, name string) (result.Item, []string) {
	t.Helper()
	for _, l := range tree.Leaves() {
		if l.Item.Name == name {
			return *l.Item, l.Path
		}
	}
	t.Fatalf("no leaf %q in tree; leaves: %v", name, leafNames(tree))
	return result.Item{}, nil
}

func leafNames(tree *result.Item) []string {
	var out []string
	for _, l := range tree.Leaves() {
		out = append(out, l.Item.Name)
	}
	return out
}

func TestParseJUnitBuildsSIGTree(t *testing.T) {
	tree, err := ParseJUnit("testdata/junit_01.xml")
	if err != nil {
		t.Fatal(err)
	}
	if tree.Name != RootName {
		t.Errorf("root %q, want %q", tree.Name, RootName)
	}
	var groups []string
	for _, g := range tree.Items {
		groups = append(groups, g.Name)
	}
	want := "sig-apps sig-cli sig-network sig-node sig-storage suite"
	if got := strings.Join(groups, " "); got != want {
		t.Errorf("groups %q, want %q (sorted, suite nodes apart)", got, want)
	}

	cases := []struct {
		name   string
		status result.Status
		sig    string
		msg    string // substring of Message
		dur    float64
	}{
		{"[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]", result.StatusPassed, "sig-node", "", 12.25},
		{"[sig-network] DNS should provide DNS for the cluster [Conformance]", result.StatusFailed, "sig-network", "Unable to read agnhost_udp", 61.75},
		{"[sig-apps] Job should manage the lifecycle of a job [Conformance]", result.StatusFailed, "sig-apps", "[TIMEDOUT]", 300},
		{"[sig-storage] Secrets should be consumable from pods in volume [Conformance] [NodeConformance]", result.StatusError, "sig-storage", "Interrupted by User", 4},
		{"[sig-node] Sysctls [LinuxOnly] should support sysctls [Environment:NotInUserNS] [Conformance] [NodeConformance]", result.StatusSkipped, "sig-node", "Only supported for node OS distro", 0.5},
		{"[sig-apps] Deployment deployment should support rollover [Conformance]", result.StatusSkipped, "sig-apps", "skipped", 0},
		{"[ReportAfterSuite] [sig-testing] Log Check", result.StatusFailed, GroupSuite, "data races", 0.01},
	}
	for _, c := range cases {
		leaf, path := leafByName(t, tree, c.name)
		if leaf.Status != c.status {
			t.Errorf("%s: status %s, want %s", c.name, leaf.Status, c.status)
		}
		if path[0] != c.sig || leaf.Meta[MetaSIG] != c.sig {
			t.Errorf("%s: under %v with meta sig %q, want %q", c.name, path, leaf.Meta[MetaSIG], c.sig)
		}
		if !strings.Contains(leaf.Message, c.msg) {
			t.Errorf("%s: message %q lacks %q", c.name, leaf.Message, c.msg)
		}
		if leaf.DurationSeconds != c.dur {
			t.Errorf("%s: duration %v, want %v", c.name, leaf.DurationSeconds, c.dur)
		}
	}
	// The passed [SynchronizedBeforeSuite] is noise and is dropped.
	for _, n := range leafNames(tree) {
		if strings.Contains(n, "SynchronizedBeforeSuite") {
			t.Errorf("passed suite node kept: %q", n)
		}
	}
	if c := tree.Counts(); c.Passed != 1 || c.Failed != 3 || c.Errored != 1 || c.Skipped != 3 {
		t.Errorf("counts %+v, want 1 passed, 3 failed, 1 errored, 3 skipped", c)
	}
	if tree.Status != result.StatusFailed {
		t.Errorf("root status %s, want failed (rolled up)", tree.Status)
	}
}

func TestParseJUnitLaterFileWins(t *testing.T) {
	dir := t.TempDir()
	rerun := dir + "/junit_rerun.xml"
	writeFile(t, rerun, `<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="Kubernetes e2e suite" tests="1">
  <testcase name="[It] [sig-network] DNS should provide DNS for the cluster [Conformance]" classname="Kubernetes e2e suite" status="passed" time="20"></testcase>
</testsuite>`)
	tree, err := ParseJUnit("testdata/junit_01.xml", rerun)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := leafByName(t, tree, "[sig-network] DNS should provide DNS for the cluster [Conformance]")
	if leaf.Status != result.StatusPassed || leaf.DurationSeconds != 20 {
		t.Errorf("rerun result not taken: %+v", leaf)
	}
}

func TestParseJUnitErrors(t *testing.T) {
	if _, err := ParseJUnit(); err == nil {
		t.Error("no paths: want an error")
	}
	if _, err := ParseJUnit("testdata/missing.xml"); err == nil {
		t.Error("missing file: want an error")
	}
	bad := t.TempDir() + "/junit_01.xml"
	writeFile(t, bad, `<testsuites><testsuite name="x"><testcase name="cut off`)
	if _, err := ParseJUnit(bad); err == nil || !strings.Contains(err.Error(), "is it complete") {
		t.Errorf("truncated file: got %v, want an error asking whether it is complete", err)
	}
}

func TestItemFromSonobuoy(t *testing.T) {
	// The shape results.PostProcessPlugin gives the e2e plugin:
	// plugin > node > file > suite > tests.
	in := sonoresults.Item{Name: "e2e", Status: sonoresults.StatusFailed, Metadata: map[string]string{"type": "summary"},
		Items: []sonoresults.Item{{Name: "global", Status: sonoresults.StatusFailed, Metadata: map[string]string{"type": "node"},
			Items: []sonoresults.Item{{Name: "junit_01.xml", Status: sonoresults.StatusFailed, Metadata: map[string]string{"type": "file", "file": "results/global/junit_01.xml"},
				Items: []sonoresults.Item{{Name: "Kubernetes e2e suite", Status: sonoresults.StatusFailed, Items: []sonoresults.Item{
					{Name: "[It] [sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]", Status: sonoresults.StatusPassed},
					{Name: "[It] [sig-network] DNS should provide DNS for the cluster [Conformance]", Status: sonoresults.StatusFailed,
						Details: map[string]interface{}{"failure": "Unable to read agnhost_udp"}},
					{Name: "[It] [sig-apps] Deployment deployment should support rollover [Conformance]", Status: sonoresults.StatusSkipped},
					{Name: "[It] [sig-apps] Job should delete a job [Conformance]", Status: sonoresults.StatusTimeout},
					{Name: "[SynchronizedBeforeSuite]", Status: sonoresults.StatusPassed},
				}}}}}}}}
	tree := ItemFromSonobuoy(in)
	if tree.Name != "e2e" {
		t.Errorf("root %q, want the plugin name", tree.Name)
	}
	want := map[string]result.Status{
		"[sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]": result.StatusPassed,
		"[sig-network] DNS should provide DNS for the cluster [Conformance]":              result.StatusFailed,
		"[sig-apps] Deployment deployment should support rollover [Conformance]":          result.StatusSkipped,
		"[sig-apps] Job should delete a job [Conformance]":                                result.StatusError,
	}
	got := map[string]result.Status{}
	for _, l := range tree.Leaves() {
		got[l.Item.Name] = l.Item.Status
		if l.Item.Meta[MetaSource] != "sonobuoy" {
			t.Errorf("%s: source %q", l.Item.Name, l.Item.Meta[MetaSource])
		}
		if l.Path[0] != l.Item.Meta[MetaSIG] {
			t.Errorf("%s: grouped under %q, meta sig %q", l.Item.Name, l.Path[0], l.Item.Meta[MetaSIG])
		}
	}
	if len(got) != len(want) {
		t.Errorf("leaves %v, want %v", got, want)
	}
	for n, s := range want {
		if got[n] != s {
			t.Errorf("%s: %s, want %s", n, got[n], s)
		}
	}
	dns, _ := leafByName(t, tree, "[sig-network] DNS should provide DNS for the cluster [Conformance]")
	if dns.Message != "Unable to read agnhost_udp" {
		t.Errorf("failure message %q", dns.Message)
	}
}

func TestItemFromSonobuoyKeepsUnreadableResults(t *testing.T) {
	// sonobuoy's errProcessor: a file item without tests that records why.
	in := sonoresults.Item{Name: "e2e", Items: []sonoresults.Item{{Name: "global", Metadata: map[string]string{"type": "node"},
		Items: []sonoresults.Item{{Name: "junit_01.xml", Status: sonoresults.StatusUnknown,
			Metadata: map[string]string{"type": "file", "error": "decoding junit: EOF"}}}}}}
	tree := ItemFromSonobuoy(in)
	l := tree.Leaves()
	if len(l) != 1 || l[0].Item.Status != result.StatusError || !strings.Contains(l[0].Item.Message, "EOF") {
		t.Fatalf("want one error leaf carrying the reason, got %+v", l)
	}
	if tree.Status != result.StatusFailed {
		t.Errorf("root %s, want failed", tree.Status)
	}
}

func TestSIGOfAndSpecName(t *testing.T) {
	for in, want := range map[string]string{
		"[sig-api-machinery] server version should find the server version [Conformance]": "sig-api-machinery",
		"[ReportAfterSuite] [sig-testing] Log Check":                                      GroupSuite,
		"[SynchronizedBeforeSuite]":                                                       GroupSuite,
		"[DeferCleanup (Suite)]":                                                          GroupSuite,
		"Some spec without a SIG":                                                         GroupOther,
	} {
		if got := SIGOf(in); got != want {
			t.Errorf("SIGOf(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SpecName("[It] [sig-node] Pods x"); got != "[sig-node] Pods x" {
		t.Errorf("SpecName: %q", got)
	}
	if got := SpecName("[ReportAfterSuite] x"); got != "[ReportAfterSuite] x" {
		t.Errorf("SpecName must keep suite node types: %q", got)
	}
}
