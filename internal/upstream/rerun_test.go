package upstream

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

func upstreamLeaf(name string, st result.Status, source string) result.Item {
	return result.Item{Name: name, Status: st, Meta: map[string]string{MetaSIG: SIGOf(name), MetaSource: source}}
}

func TestFailedSpecsFromReport(t *testing.T) {
	tree := groupBySIG(RootName, []result.Item{
		upstreamLeaf("[sig-node] a [Conformance]", result.StatusPassed, "junit"),
		upstreamLeaf("[sig-network] b [Conformance]", result.StatusFailed, "junit"),
		upstreamLeaf("[sig-apps] c [Conformance] [Serial]", result.StatusError, "not-run"),
		upstreamLeaf("[sig-apps] d [Conformance]", result.StatusSkipped, "not-selected"),
		upstreamLeaf("[sig-storage] e [Conformance]", result.StatusFailed, "sonobuoy"),
		// suite nodes are no specs: they cannot be focused
		suiteNodeLeaf("parallel pass: [SynchronizedBeforeSuite]"),
	})
	// Our own suites' leaves carry no upstream source: never rerun here.
	own := result.Item{Name: "conformance", Items: []result.Item{{Name: "api", Items: []result.Item{
		{Name: "[sig-x] own failing spec", Status: result.StatusFailed}}}}}
	rep := result.New("r", testTime())
	rep.Tests = &result.Item{Name: "tests", Items: []result.Item{own, *tree}}

	got, err := FailedSpecs(rep, "report.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[sig-apps] c [Conformance] [Serial]", "[sig-network] b [Conformance]", "[sig-storage] e [Conformance]"}
	if !slices.Equal(got, want) {
		t.Errorf("FailedSpecs = %q, want %q", got, want)
	}
	// And the rerun plan puts the serial one on one process.
	sel, err := plan(&Options{Specs: got, Procs: 4, NotSelectedReason: RerunReason(len(got), "report.json")})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel.passes) != 2 || !slices.Equal(sel.passes[1].Wanted, []string{"[sig-apps] c [Conformance] [Serial]"}) {
		t.Errorf("rerun passes %+v", sel.passes)
	}
	if !strings.Contains(sel.notSelected, "3 specs that failed") {
		t.Errorf("not-selected reason %q", sel.notSelected)
	}
}

func TestFailedSpecsErrors(t *testing.T) {
	rep := result.New("r", testTime())
	if _, err := FailedSpecs(rep, "x.json"); err == nil || !strings.Contains(err.Error(), "no test results") {
		t.Errorf("empty report: %v", err)
	}
	rep.Tests = &result.Item{Name: "conformance", Items: []result.Item{{Name: "s", Status: result.StatusFailed}}}
	if _, err := FailedSpecs(rep, "x.json"); err == nil || !strings.Contains(err.Error(), "no upstream conformance results") {
		t.Errorf("report without upstream results: %v", err)
	}
	rep.Tests = groupBySIG(RootName, []result.Item{upstreamLeaf("[sig-node] a", result.StatusPassed, "junit")})
	if _, err := FailedSpecs(rep, "x.json"); !errors.Is(err, ErrNothingToRerun) {
		t.Errorf("all passed: %v, want ErrNothingToRerun", err)
	}
}

func testTime() time.Time { return time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC) }

// suiteNodeLeaf is a failed suite-level node as Run records it: renamed
// after its pass, grouped under GroupSuite.
func suiteNodeLeaf(name string) result.Item {
	return result.Item{Name: name, Status: result.StatusFailed, Meta: map[string]string{MetaSIG: GroupSuite, MetaSource: "junit"}}
}
