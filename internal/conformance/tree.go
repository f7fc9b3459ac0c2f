package conformance

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/suites/framework"
)

// Meta keys of the items toItem builds.
const (
	MetaLabels          = "labels"          // spec labels, comma-separated, without the suite label
	MetaLocation        = "location"        // file:line of the spec
	MetaState           = "state"           // Ginkgo's spec state (passed, failed, timedout, ...)
	MetaFailureLocation = "failureLocation" // file:line of the failed assertion
	MetaLabelFilter     = "labelFilter"     // on the root: the filter the run used
	MetaRandomSeed      = "randomSeed"      // on the root: Ginkgo's seed (replays the order)
	MetaGinkgoVersion   = "ginkgoVersion"   // on the root
)

// toItem converts Ginkgo's suite report into the result tree: root
// "conformance" -> one item per selected suite (in the given order) ->
// containers (Describe/Context/DescribeTable texts) -> specs. Specs are
// ordered by source location, so reports of runs with different random
// seeds compare line by line. Suite-level nodes (BeforeSuite, AfterSuite,
// ReportAfterSuite...) appear only when they failed, under the root.
func toItem(r types.Report, suites []string, filter string) *result.Item {
	root := &result.Item{
		Name: RootName,
		Meta: map[string]string{
			MetaLabelFilter:   filter,
			MetaRandomSeed:    strconv.FormatInt(r.SuiteConfig.RandomSeed, 10),
			MetaGinkgoVersion: types.VERSION,
		},
		DurationSeconds: r.RunTime.Seconds(),
	}
	if len(r.SpecialSuiteFailureReasons) > 0 {
		root.Message = strings.Join(r.SpecialSuiteFailureReasons, "; ")
	}
	matches, err := types.ParseLabelFilter(filter)
	if err != nil {
		matches = func([]string) bool { return false }
	}

	specs := slices.Clone(r.SpecReports)
	slices.SortStableFunc(specs, func(a, b types.SpecReport) int {
		return cmp.Or(
			cmp.Compare(shortLocation(types.CodeLocation{FileName: a.LeafNodeLocation.FileName}),
				shortLocation(types.CodeLocation{FileName: b.LeafNodeLocation.FileName})),
			cmp.Compare(a.LeafNodeLocation.LineNumber, b.LeafNodeLocation.LineNumber))
	})

	bySuite := map[string]*result.Item{}
	for _, s := range suites {
		root.Items = append(root.Items, result.Item{Name: s})
	}
	// Pointers into root.Items are taken after the slice stops growing.
	for i := range root.Items {
		bySuite[root.Items[i].Name] = &root.Items[i]
	}

	notRun := endedEarly(r)
	var suiteNodes []result.Item
	for _, s := range specs {
		if !s.LeafNodeType.Is(types.NodeTypeIt) {
			if s.State.Is(types.SpecStateFailureStates) {
				it := specItem(s, matches, notRun)
				it.Name = "[" + s.LeafNodeType.String() + "]"
				suiteNodes = append(suiteNodes, it)
			}
			continue
		}
		suite, ok := bySuite[suiteOf(s.Labels())]
		if !ok {
			continue // a suite that was not selected
		}
		parent := suite
		for _, text := range s.ContainerHierarchyTexts {
			parent = child(parent, text)
		}
		parent.Items = append(parent.Items, specItem(s, matches, notRun))
	}
	for i := range root.Items {
		if len(root.Items[i].Items) == 0 {
			root.Items[i].Status = result.StatusNotSelected
			root.Items[i].Message = "no specs in this suite match the label filter"
		}
	}
	root.Items = append(root.Items, suiteNodes...)
	if len(root.Items) == 0 {
		root.Status = result.StatusNotSelected
		root.Message = strings.TrimPrefix(root.Message+"; no suites selected", "; ")
		return root
	}
	if c := root.Counts(); !r.SuiteSucceeded && c.Failed+c.Errored == 0 {
		// Ginkgo says the suite failed, yet no spec shows it (a failure
		// after the report was taken, --fail-on-pending ...): not a pass.
		root.Items = append(root.Items, result.Item{Name: "[Ginkgo]", Status: result.StatusError,
			Message: "Ginkgo reported the suite as failed though no spec failed: " + cmp.Or(root.Message, "it gave no reason (see its output with -v)")})
	}
	if notRun != "" {
		// Interrupted or timed out: the root says so whatever its specs
		// did (RollUp keeps an error it finds).
		root.Status = result.StatusError
	}
	root.RollUp()
	return root
}

// abortCancelled starts the message of the spec that aborts the suite
// because the run's context ended (see Run).
const abortCancelled = "run cancelled"

// endedEarly says why the specs the run never reached did not run ("" when
// the suite ran to its end): Ginkgo's interrupt or timeout, or a spec that
// aborted the suite (ours does when the run's context ends).
func endedEarly(r types.Report) string {
	if why := result.EndedEarly(strings.Join(r.SpecialSuiteFailureReasons, ","), r.RunTime); why != "" {
		return why
	}
	for _, s := range r.SpecReports {
		if !s.State.Is(types.SpecStateAborted) {
			continue
		}
		if strings.HasPrefix(s.Failure.Message, abortCancelled) {
			return result.Interrupted(r.RunTime)
		}
		return fmt.Sprintf("the suite was aborted after %s by %q", r.RunTime.Round(time.Second), s.FullText())
	}
	return ""
}

// child returns the child item of parent with that name, adding it if new.
func child(parent *result.Item, name string) *result.Item {
	for i := range parent.Items {
		if parent.Items[i].Name == name && len(parent.Items[i].Items) > 0 {
			return &parent.Items[i]
		}
	}
	parent.Items = append(parent.Items, result.Item{Name: name})
	return &parent.Items[len(parent.Items)-1]
}

// specItem is the leaf item of one spec; notRun says why the suite ended
// before its end ("" if it did not).
func specItem(s types.SpecReport, matchesFilter types.LabelFilter, notRun string) result.Item {
	it := result.Item{
		Name:            s.LeafNodeText,
		DurationSeconds: s.RunTime.Seconds(),
		Meta: map[string]string{
			MetaLocation: shortLocation(s.LeafNodeLocation),
			MetaState:    s.State.String(),
		},
	}
	var labels []string
	for _, l := range s.Labels() {
		if suiteOf([]string{l}) == "" {
			labels = append(labels, l)
		}
	}
	if len(labels) > 0 {
		it.Meta[MetaLabels] = strings.Join(labels, ",")
	}
	switch {
	case s.State.Is(types.SpecStatePassed):
		it.Status = result.StatusPassed
	case s.State.Is(types.SpecStatePending):
		it.Status = result.StatusSkipped
		it.Message = "pending: the spec is marked Pending"
	case s.State.Is(types.SpecStateSkipped):
		it.Status = result.StatusSkipped
		switch {
		case !s.Failure.IsZero():
			it.Message = "skipped: " + s.Failure.Message
		case !matchesFilter(s.Labels()):
			it.Status = result.StatusNotSelected
			it.Message = "not selected by the label filter"
		case notRun != "":
			// Selected, never reached: an error, not a skip.
			it.Status = result.StatusError
			it.Message = result.NotRunPrefix + notRun
		default:
			it.Message = "not run: Ginkgo skipped it without a reason"
		}
	default: // failed, panicked, timed out, interrupted, aborted
		it.Status = result.StatusFailed
		if s.State.Is(types.SpecStateInterrupted | types.SpecStateAborted) {
			it.Status = result.StatusError
		}
		it.Message = failureMessage(s)
		if !s.Failure.IsZero() {
			it.Meta[MetaFailureLocation] = shortLocation(s.Failure.Location)
		}
	}
	if it.Name == "" {
		it.Name = s.LeafNodeType.String()
	}
	return it
}

// failureMessage is the failure of a spec with its panic and the failures of
// its cleanup nodes, secrets redacted.
func failureMessage(s types.SpecReport) string {
	var b strings.Builder
	b.WriteString(strings.TrimSpace(s.Failure.Message))
	if b.Len() == 0 {
		fmt.Fprintf(&b, "spec %s", s.State)
	}
	if s.Failure.ForwardedPanic != "" {
		fmt.Fprintf(&b, "\npanic: %s", s.Failure.ForwardedPanic)
	}
	for _, af := range s.AdditionalFailures {
		fmt.Fprintf(&b, "\nalso %s in %s at %s: %s", af.State, af.Failure.FailureNodeType,
			shortLocation(af.Failure.Location), strings.TrimSpace(af.Failure.Message))
	}
	return redact.String(b.String())
}

// suiteOf returns the suite named by a "suite:<name>" label, or "".
func suiteOf(labels []string) string {
	for _, l := range labels {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.TrimSpace(k) == framework.SuiteLabelKey {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// shortLocation is file:line relative to the repository ("suites/api/
// watch.go:42") when the path shows it, else the base name of the file.
func shortLocation(cl types.CodeLocation) string {
	if cl.FileName == "" {
		return ""
	}
	f := filepath.ToSlash(cl.FileName)
	switch i := strings.LastIndex(f, "/suites/"); {
	case i >= 0:
		f = f[i+1:]
	case !strings.HasPrefix(f, "suites/"):
		f = filepath.Base(f)
	}
	return fmt.Sprintf("%s:%d", f, cl.LineNumber)
}
