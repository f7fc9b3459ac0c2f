package conformance

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/distrobench/distrobench/internal/result"
)

// spec builds a SpecReport of the kind Ginkgo produces.
func spec(file string, line int, containers []string, containerLabels [][]string, leaf string, leafLabels []string, state types.SpecState) types.SpecReport {
	locs := make([]types.CodeLocation, len(containers))
	for i := range locs {
		locs[i] = types.CodeLocation{FileName: file, LineNumber: 1}
	}
	return types.SpecReport{
		ContainerHierarchyTexts:     containers,
		ContainerHierarchyLocations: locs,
		ContainerHierarchyLabels:    containerLabels,
		LeafNodeType:                types.NodeTypeIt,
		LeafNodeLocation:            types.CodeLocation{FileName: file, LineNumber: line},
		LeafNodeText:                leaf,
		LeafNodeLabels:              leafLabels,
		State:                       state,
		RunTime:                     time.Second,
	}
}

func syntheticReport() types.Report {
	const watchGo = "/work/main/suites/api/watch.go"
	const crudGo = "github.com/distrobench/distrobench/suites/api/crud.go" // -trimpath form
	api := []string{"suite:api", "api"}

	passed := spec(crudGo, 20, []string{"core kinds CRUD"}, [][]string{api}, "creates a ConfigMap", nil, types.SpecStatePassed)

	failed := spec(watchGo, 40, []string{"watch", "from a resourceVersion"}, [][]string{api, {"datastore"}},
		"sees every event", []string{"slow"}, types.SpecStateFailed)
	failed.Failure = types.Failure{
		Message:  "event 3 is ADDED w-1@12, want MODIFIED w-0@11\nmore detail",
		Location: types.CodeLocation{FileName: watchGo, LineNumber: 77},
	}

	// Same container as failed, earlier line: must come first in the tree.
	passedFirst := spec(watchGo, 30, []string{"watch", "from a resourceVersion"}, [][]string{api, {"datastore"}},
		"opens a watch", nil, types.SpecStatePassed)

	notSelected := spec(watchGo, 90, []string{"watch"}, [][]string{api}, "replays history", []string{"slow"}, types.SpecStateSkipped)
	notSelected.RunTime = 0

	skipped := spec(crudGo, 50, []string{"core kinds CRUD"}, [][]string{api}, "allocates a ClusterIP", nil, types.SpecStateSkipped)
	skipped.Failure = types.Failure{Message: "no service CIDR API", Location: types.CodeLocation{FileName: crudGo, LineNumber: 55}}

	timedOut := spec(crudGo, 60, []string{"core kinds CRUD"}, [][]string{api}, "rejects stale updates", nil, types.SpecStateTimedout)
	timedOut.Failure = types.Failure{Message: "A SpecTimeout was exceeded", Location: types.CodeLocation{FileName: crudGo, LineNumber: 61},
		ForwardedPanic: ""}
	timedOut.AdditionalFailures = []types.AdditionalFailure{{State: types.SpecStateFailed, Failure: types.Failure{
		Message: "delete namespace: connection refused", FailureNodeType: types.NodeTypeCleanupAfterEach,
		Location: types.CodeLocation{FileName: crudGo, LineNumber: 70}}}}

	otherSuite := spec("/x/suites/join/join.go", 10, []string{"join"}, [][]string{{"suite:join"}}, "joins an agent", nil, types.SpecStatePassed)

	beforeSuite := types.SpecReport{LeafNodeType: types.NodeTypeBeforeSuite, State: types.SpecStatePassed}
	afterSuite := types.SpecReport{LeafNodeType: types.NodeTypeAfterSuite, State: types.SpecStateFailed,
		LeafNodeLocation: types.CodeLocation{FileName: "/x/suites/api/suite.go", LineNumber: 5},
		Failure:          types.Failure{Message: "cleanup failed: mysql://root:hunter2@tcp(127.0.0.1:3306)/kine", Location: types.CodeLocation{FileName: "/x/suites/api/suite.go", LineNumber: 6}}}

	return types.Report{
		SuiteSucceeded: false,
		SuiteConfig:    types.SuiteConfig{RandomSeed: 42},
		RunTime:        7 * time.Second,
		// Ginkgo lists specs in the order they ran.
		SpecReports: []types.SpecReport{beforeSuite, otherSuite, failed, timedOut, passed, notSelected, passedFirst, skipped, afterSuite},
	}
}

func find(t *testing.T, it *result.Item, path ...string) *result.Item {
	t.Helper()
	cur := it
	for _, name := range path {
		var next *result.Item
		for i := range cur.Items {
			if cur.Items[i].Name == name {
				next = &cur.Items[i]
				break
			}
		}
		if next == nil {
			var have []string
			for _, c := range cur.Items {
				have = append(have, c.Name)
			}
			t.Fatalf("no item %q under %q (have %q)", name, cur.Name, have)
		}
		cur = next
	}
	return cur
}

func childNames(it *result.Item) []string {
	var out []string
	for _, c := range it.Items {
		out = append(out, c.Name)
	}
	return out
}

func TestToItemBuildsTree(t *testing.T) {
	filter, err := composeFilter([]string{"api"}, "!slow || datastore")
	if err != nil {
		t.Fatal(err)
	}
	root := toItem(syntheticReport(), []string{"api"}, filter)

	if root.Name != RootName || root.Status != result.StatusFailed {
		t.Fatalf("root = %q %s, want %q failed", root.Name, root.Status, RootName)
	}
	if got := childNames(root); !slices.Equal(got, []string{"api", "[AfterSuite]"}) {
		t.Fatalf("root children = %q, want the api suite and the failed AfterSuite only (join not selected, BeforeSuite passed)", got)
	}
	if root.Meta[MetaRandomSeed] != "42" || root.Meta[MetaLabelFilter] != filter {
		t.Errorf("root meta = %v", root.Meta)
	}

	api := find(t, root, "api")
	if got := childNames(api); !slices.Equal(got, []string{"core kinds CRUD", "watch"}) {
		t.Errorf("api containers = %q, want sorted by file then line", got)
	}
	crud := find(t, root, "api", "core kinds CRUD")
	if got := childNames(crud); !slices.Equal(got, []string{"creates a ConfigMap", "allocates a ClusterIP", "rejects stale updates"}) {
		t.Errorf("crud specs = %q, want in source order", got)
	}
	inner := find(t, root, "api", "watch", "from a resourceVersion")
	if got := childNames(inner); !slices.Equal(got, []string{"opens a watch", "sees every event"}) {
		t.Errorf("nested container specs = %q", got)
	}

	ok := find(t, root, "api", "core kinds CRUD", "creates a ConfigMap")
	if ok.Status != result.StatusPassed || ok.DurationSeconds != 1 || ok.Message != "" {
		t.Errorf("passed spec = %+v", ok)
	}
	if ok.Meta[MetaLabels] != "api" {
		t.Errorf("labels = %q, want %q (suite label dropped)", ok.Meta[MetaLabels], "api")
	}
	if ok.Meta[MetaLocation] != "suites/api/crud.go:20" {
		t.Errorf("location = %q", ok.Meta[MetaLocation])
	}

	bad := find(t, inner, "sees every event")
	if bad.Status != result.StatusFailed || !strings.HasPrefix(bad.Message, "event 3 is ADDED") {
		t.Errorf("failed spec = %+v", bad)
	}
	if bad.Meta[MetaLabels] != "api,datastore,slow" || bad.Meta[MetaFailureLocation] != "suites/api/watch.go:77" {
		t.Errorf("failed spec meta = %v", bad.Meta)
	}

	to := find(t, crud, "rejects stale updates")
	if to.Status != result.StatusFailed || !strings.Contains(to.Message, "SpecTimeout") ||
		!strings.Contains(to.Message, "connection refused") || to.Meta[MetaState] != "timedout" {
		t.Errorf("timed-out spec = %+v", to)
	}

	sk := find(t, crud, "allocates a ClusterIP")
	if sk.Status != result.StatusSkipped || sk.Message != "skipped: no service CIDR API" {
		t.Errorf("Skip()ped spec = %+v", sk)
	}
	ns := find(t, root, "api", "watch", "replays history")
	if ns.Status != result.StatusNotSelected || !strings.Contains(ns.Message, "label filter") {
		t.Errorf("filtered spec = %+v", ns)
	}

	as := find(t, root, "[AfterSuite]")
	if as.Status != result.StatusFailed || strings.Contains(as.Message, "hunter2") || !strings.Contains(as.Message, "REDACTED") {
		t.Errorf("AfterSuite item = %+v (password must be redacted)", as)
	}

	if c := root.Counts(); c != (result.Counts{Passed: 2, Failed: 3, Skipped: 1, NotSelected: 1}) {
		t.Errorf("counts = %+v", c)
	}
	if s := find(t, root, "api", "watch").Status; s != result.StatusFailed {
		t.Errorf("watch container rolled up to %s, want failed", s)
	}
}

// TestToItemUnreachedSpecsAreErrors: a suite that ended early (Ctrl-C,
// its time limit, our abort when the run's context ends) with nothing
// failed is not a pass: the specs it never reached are errors saying why,
// and the root stays in error through RollUp.
func TestToItemUnreachedSpecsAreErrors(t *testing.T) {
	filter, _ := composeFilter([]string{"api"}, "")
	cancelled := spec("/w/suites/api/a.go", 2, []string{"a"}, [][]string{{"suite:api"}}, "two", nil, types.SpecStateAborted)
	cancelled.Failure = types.Failure{Message: abortCancelled + ": context canceled"}
	for _, tc := range []struct {
		name    string
		reasons []string
		second  types.SpecReport
		want    string
	}{
		{"interrupted", []string{"Interrupted by User"},
			spec("/w/suites/api/a.go", 2, []string{"a"}, [][]string{{"suite:api"}}, "two", nil, types.SpecStateSkipped),
			"not run: interrupted after 3m0s"},
		{"timed out", []string{"Suite Timeout Elapsed"},
			spec("/w/suites/api/a.go", 2, []string{"a"}, [][]string{{"suite:api"}}, "two", nil, types.SpecStateSkipped),
			"not run: suite timed out after 3m0s"},
		{"context ended", nil, cancelled, "not run: interrupted after 3m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := types.Report{
				SuiteSucceeded:             false,
				SpecialSuiteFailureReasons: tc.reasons,
				RunTime:                    3 * time.Minute,
				SpecReports: []types.SpecReport{
					spec("/w/suites/api/a.go", 1, []string{"a"}, [][]string{{"suite:api"}}, "one", nil, types.SpecStatePassed),
					tc.second,
					spec("/w/suites/api/a.go", 3, []string{"a"}, [][]string{{"suite:api"}}, "three", nil, types.SpecStateSkipped),
				},
			}
			root := toItem(r, []string{"api"}, filter)
			three := find(t, root, "api", "a", "three")
			if three.Status != result.StatusError || three.Message != tc.want {
				t.Errorf("spec never reached: %s %q, want error %q", three.Status, three.Message, tc.want)
			}
			if c := root.Counts(); c.Passed != 1 || c.Errored != 2 || c.Skipped != 0 {
				t.Errorf("counts %+v, want 1 passed and 2 errored", c)
			}
			if root.Status != result.StatusError {
				t.Errorf("root %s, want error (the suite ended early)", root.Status)
			}
			root.RollUp()
			if root.Status != result.StatusError {
				t.Errorf("root after another RollUp: %s, want error kept", root.Status)
			}
		})
	}
}

// TestToItemGinkgoFailedWithoutFailedSpec: Ginkgo's verdict says failed
// (RunSpecs returned false) but every spec passed: the tree must not pass.
func TestToItemGinkgoFailedWithoutFailedSpec(t *testing.T) {
	filter, _ := composeFilter([]string{"api"}, "")
	r := types.Report{
		SuiteSucceeded: false,
		SpecReports: []types.SpecReport{
			spec("/w/suites/api/a.go", 1, []string{"a"}, [][]string{{"suite:api"}}, "one", nil, types.SpecStatePassed),
		},
	}
	root := toItem(r, []string{"api"}, filter)
	if c := root.Counts(); c.Errored != 1 || root.Status == result.StatusPassed {
		t.Errorf("root %s counts %+v, want an error leaf saying Ginkgo failed the suite", root.Status, c)
	}
	if g := find(t, root, "[Ginkgo]"); !strings.Contains(g.Message, "no spec failed") {
		t.Errorf("[Ginkgo] leaf message %q", g.Message)
	}
}

func TestToItemSuiteWithoutSpecs(t *testing.T) {
	filter, _ := composeFilter([]string{"api"}, "nothing-has-this")
	root := toItem(types.Report{SuiteSucceeded: true}, []string{"api"}, filter)
	api := find(t, root, "api")
	if api.Status != result.StatusNotSelected || root.Status != result.StatusNotSelected {
		t.Errorf("empty run: root %s, api %s %q; want not selected", root.Status, api.Status, api.Message)
	}
}

func TestComposeFilterSelectsSuitesAndLabels(t *testing.T) {
	filter, err := composeFilter([]string{"api", "join"}, "!slow")
	if err != nil {
		t.Fatal(err)
	}
	match := types.MustParseLabelFilter(filter)
	for _, tc := range []struct {
		labels []string
		want   bool
	}{
		{[]string{"suite:api", "api"}, true},
		{[]string{"suite:join"}, true},
		{[]string{"suite:api", "slow"}, false},
		{[]string{"suite:other", "api"}, false},
		{[]string{"api"}, false},
	} {
		if got := match(tc.labels); got != tc.want {
			t.Errorf("filter %q on %q = %v, want %v", filter, tc.labels, got, tc.want)
		}
	}
	if _, err := composeFilter([]string{"api"}, "api &&& slow"); err == nil || !strings.Contains(err.Error(), "api &&& slow") {
		t.Errorf("bad filter: err = %v, want one naming the filter", err)
	}
}

func TestSuitesAndSelection(t *testing.T) {
	if !slices.Contains(Suites(), "api") {
		t.Fatalf("Suites() = %q, want the api suite registered", Suites())
	}
	got, err := selectSuites(nil)
	if err != nil || !slices.Equal(got, Suites()) {
		t.Errorf("selectSuites(nil) = %q, %v; want all", got, err)
	}
	_, err = selectSuites([]string{"nope"})
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), "api") {
		t.Errorf("unknown suite: err = %v, want one naming it and the valid suites", err)
	}
}

func TestRunRefusesBadInputWithoutUsingUpTheRun(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Options{Kubeconfig: "", Suites: []string{"api"}}); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("no kubeconfig: err = %v", err)
	}
	if _, err := Run(ctx, Options{Kubeconfig: "/nonexistent/kc.yaml"}); err == nil || !strings.Contains(err.Error(), "/nonexistent/kc.yaml") {
		t.Errorf("missing kubeconfig: err = %v", err)
	}
	if _, err := Run(ctx, Options{Kubeconfig: "/nonexistent/kc.yaml", Suites: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "unknown suite") {
		t.Errorf("unknown suite: err = %v", err)
	}
	runMu.Lock()
	used := ran
	runMu.Unlock()
	if used {
		t.Fatal("a refused Run used up the process's one Ginkgo run")
	}

	// The one-run-per-process guard.
	runMu.Lock()
	ran = true
	runMu.Unlock()
	defer func() { runMu.Lock(); ran = false; runMu.Unlock() }()
	if _, err := Run(ctx, Options{Kubeconfig: "/nonexistent/kc.yaml"}); !errors.Is(err, ErrAlreadyRan) {
		t.Errorf("second run: err = %v, want ErrAlreadyRan", err)
	}
}

func TestSuitesForLeavesNodeSuitesOutWithoutNodes(t *testing.T) {
	if !slices.Contains(Suites(), "nodes") {
		t.Fatalf("Suites() = %q, want the nodes suite linked in", Suites())
	}
	without := SuitesFor(0)
	if slices.Contains(without, "nodes") || !slices.Contains(without, "api") {
		t.Errorf("SuitesFor(0) = %q, want api without nodes (a cluster without nodes runs no pods)", without)
	}
	for _, n := range []int{1, 3} {
		if got := SuitesFor(n); !slices.Equal(got, Suites()) {
			t.Errorf("SuitesFor(%d) = %q, want every suite %q", n, got, Suites())
		}
	}
}
