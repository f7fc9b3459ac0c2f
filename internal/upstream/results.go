package upstream

import (
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	sonoresults "github.com/vmware-tanzu/sonobuoy/pkg/client/results"

	"github.com/distrobench/distrobench/internal/result"
)

// RootName is the name of the tree Run and the CLI return: the upstream
// conformance results, one child per SIG.
const RootName = "upstream-conformance"

// Meta keys set on the leaves of the tree.
const (
	// MetaSIG is the SIG a spec belongs to ("sig-node"), or GroupSuite /
	// GroupOther.
	MetaSIG = "sig"
	// MetaSource says where a leaf came from: "junit", "sonobuoy", or
	// "not-run" for specs that were selected but produced no result.
	MetaSource = "source"
)

// Groups for leaves that carry no "[sig-...]" prefix.
const (
	// GroupSuite holds Ginkgo's suite-level nodes ([SynchronizedBeforeSuite],
	// [ReportAfterSuite] ...). Only failed ones are kept: a failed suite setup
	// explains why every spec failed, a passed one is noise.
	GroupSuite = "suite"
	// GroupOther holds specs whose name has no SIG prefix.
	GroupOther = "other"
)

// maxMessage bounds a failure message kept in the report: Ginkgo failure
// texts can carry whole timelines; the full text stays in the JUnit file.
const maxMessage = 8 << 10

// specLeafPrefix matches the leaf node type Ginkgo's JUnit reporter puts in
// front of a spec's full text ("[It] [sig-node] Pods ...").
var specLeafPrefix = regexp.MustCompile(`^\[It\] `)

// suiteNode matches Ginkgo's suite-level nodes as the JUnit reporter names
// them: "[SynchronizedBeforeSuite]", "[ReportAfterSuite] Kubernetes e2e
// JUnit report", "[DeferCleanup (Suite)]".
var suiteNode = regexp.MustCompile(`^\[(BeforeSuite|AfterSuite|SynchronizedBeforeSuite|SynchronizedAfterSuite|ReportBeforeSuite|ReportAfterSuite|DeferCleanup \(Suite\))\]`)

var sigPrefix = regexp.MustCompile(`^\[(sig-[a-z0-9-]+)\]`)

// SpecName turns a test name as JUnit or sonobuoy report it into the spec's
// full text, the name --list-conformance-tests prints as codename: the
// "[It] " leaf type prefix is dropped.
func SpecName(junitName string) string {
	return specLeafPrefix.ReplaceAllString(strings.TrimSpace(junitName), "")
}

// SIGOf returns the group a spec belongs to: "sig-xyz" from its "[sig-xyz]"
// prefix, GroupSuite for Ginkgo's suite nodes, GroupOther otherwise.
func SIGOf(name string) string {
	if m := sigPrefix.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	if suiteNode.MatchString(name) {
		return GroupSuite
	}
	return GroupOther
}

// ItemFromSonobuoy converts a sonobuoy results tree (what
// results.PostProcessPlugin returns for the e2e plugin, or a plugin's
// sonobuoy_results.yaml: plugin > node > file > suite > test) into
// distrobench's tree: the root keeps the sonobuoy item's name, its children
// are one group per SIG (sorted), and each leaf is one spec named by its full
// text with status passed, failed, skipped or error (sonobuoy's timeout and
// unknown), the failure text as Message and the SIG in Meta.
//
// Every leaf of the sonobuoy tree is a spec, except file items without tests
// that carry an "error" (sonobuoy's marker for a plugin that produced no
// readable results): those become error leaves in GroupSuite so the failure
// stays visible. Passed suite-level nodes are dropped (see GroupSuite).
func ItemFromSonobuoy(it sonoresults.Item) *result.Item {
	var leaves []result.Item
	var walk func(n *sonoresults.Item)
	walk = func(n *sonoresults.Item) {
		if len(n.Items) > 0 {
			for i := range n.Items {
				walk(&n.Items[i])
			}
			return
		}
		if leaf, ok := sonobuoyLeaf(n); ok {
			leaves = append(leaves, leaf)
		}
	}
	walk(&it)
	name := it.Name
	if name == "" {
		name = RootName
	}
	return groupBySIG(name, leaves)
}

func sonobuoyLeaf(n *sonoresults.Item) (result.Item, bool) {
	typ := n.Metadata[sonoresults.MetadataTypeKey]
	if typ == sonoresults.MetadataTypeFile || typ == sonoresults.MetadataTypeNode || typ == sonoresults.MetadataTypeSummary {
		// A container without children: only interesting when it records
		// an error (unreadable or missing results).
		msg := n.Metadata["error"]
		if msg == "" {
			msg = detail(n.Details, "error")
		}
		if msg == "" && !sonoresults.IsFailureStatus(n.Status) {
			return result.Item{}, false
		}
		if msg == "" {
			msg = "no test results"
		}
		return result.Item{
			Name: n.Name, Status: result.StatusError, Message: clip(msg),
			Meta: map[string]string{MetaSIG: GroupSuite, MetaSource: "sonobuoy"},
		}, true
	}
	name := SpecName(n.Name)
	leaf := result.Item{Name: name, Meta: map[string]string{MetaSIG: SIGOf(name), MetaSource: "sonobuoy"}}
	switch n.Status {
	case sonoresults.StatusPassed:
		leaf.Status = result.StatusPassed
	case sonoresults.StatusFailed:
		leaf.Status = result.StatusFailed
		leaf.Message = clip(firstNonEmpty(detail(n.Details, sonoresults.JUnitFailureKey), detail(n.Details, sonoresults.JUnitErrorKey), "failed"))
	case sonoresults.StatusSkipped:
		leaf.Status = result.StatusSkipped
		leaf.Message = firstNonEmpty(detail(n.Details, "skipped"), "skipped")
	case sonoresults.StatusTimeout:
		leaf.Status = result.StatusError
		leaf.Message = clip(firstNonEmpty(detail(n.Details, "error"), "timed out"))
	default:
		leaf.Status = result.StatusError
		leaf.Message = clip(firstNonEmpty(detail(n.Details, "error"), n.Metadata["error"], fmt.Sprintf("unknown status %q", n.Status)))
	}
	if d, err := strconv.ParseFloat(n.Metadata["duration"], 64); err == nil {
		leaf.DurationSeconds = d
	}
	if leaf.Meta[MetaSIG] == GroupSuite && leaf.Status == result.StatusPassed {
		return result.Item{}, false
	}
	return leaf, true
}

// ParseJUnit reads JUnit files as e2e.test writes them (junit_01.xml: one
// <testsuite>, or <testsuites>) with sonobuoy's JUnit types and returns the
// specs grouped by SIG under RootName, keeping each spec's duration, which
// sonobuoy's own post-processing drops. <failure> (Ginkgo's failed, timedout
// and aborted specs) is failed, <error> (panicked, interrupted) is error,
// <skipped> keeps its message as the reason. With several files a spec's
// last result wins (a rerun after a first pass). Every testcase is kept,
// also the thousands of non-conformance specs e2e.test lists as "skipped";
// Run keeps only what it selected.
func ParseJUnit(paths ...string) (*result.Item, error) {
	if len(paths) == 0 {
		return nil, errors.New("parse JUnit: no file given")
	}
	byName := map[string]int{}
	var leaves []result.Item
	for _, p := range paths {
		ls, _, err := junitLeaves(p)
		if err != nil {
			return nil, err
		}
		for _, leaf := range ls {
			if i, seen := byName[leaf.Name]; seen {
				leaves[i] = leaf
				continue
			}
			byName[leaf.Name] = len(leaves)
			leaves = append(leaves, leaf)
		}
	}
	return groupBySIG(RootName, leaves), nil
}

// junitLeaves reads one JUnit file into leaves (passed suite nodes dropped)
// and the suite properties Ginkgo writes (SpecialSuiteFailureReason ...).
func junitLeaves(path string) ([]result.Item, map[string]string, error) {
	cases, props, err := readJUnit(path)
	if err != nil {
		return nil, nil, err
	}
	var out []result.Item
	for _, tc := range cases {
		if leaf, ok := junitLeaf(tc); ok {
			out = append(out, leaf)
		}
	}
	return out, props, nil
}

func readJUnit(path string) ([]sonoresults.JUnitTestCase, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read JUnit report: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	var jr sonoresults.JUnitResult
	if err := xml.NewDecoder(f).Decode(&jr); err != nil {
		return nil, nil, fmt.Errorf("JUnit report %s: %w (is it complete? e2e.test writes it when the suite ends)", path, err)
	}
	var out []sonoresults.JUnitTestCase
	props := map[string]string{}
	for _, s := range jr.Suites.Suites {
		out = append(out, s.TestCases...)
		for _, p := range s.Properties {
			props[p.Name] = p.Value
		}
	}
	return out, props, nil
}

func junitLeaf(tc sonoresults.JUnitTestCase) (result.Item, bool) {
	name := SpecName(tc.Name)
	leaf := result.Item{Name: name, Meta: map[string]string{MetaSIG: SIGOf(name), MetaSource: "junit"}}
	if d, err := strconv.ParseFloat(tc.Time, 64); err == nil {
		leaf.DurationSeconds = d
	}
	switch {
	case tc.SkipMessage != nil:
		leaf.Status = result.StatusSkipped
		leaf.Message = firstNonEmpty(tc.SkipMessage.Message, "skipped")
	case tc.Failure != nil:
		leaf.Status = result.StatusFailed
		leaf.Message = clip(firstNonEmpty(strings.TrimSpace(tc.Failure.Message+"\n"+tc.Failure.Contents), "failed"))
	case tc.ErrorMessage != nil:
		leaf.Status = result.StatusError
		leaf.Message = clip(firstNonEmpty(strings.TrimSpace(tc.ErrorMessage.Message+"\n"+tc.ErrorMessage.Contents), "error"))
	default:
		leaf.Status = result.StatusPassed
	}
	if leaf.Meta[MetaSIG] == GroupSuite && leaf.Status == result.StatusPassed {
		return result.Item{}, false
	}
	return leaf, true
}

// groupBySIG builds root > SIG group > spec leaves, groups sorted by name and
// specs by name within a group, statuses rolled up.
func groupBySIG(root string, leaves []result.Item) *result.Item {
	groups := map[string][]result.Item{}
	for _, l := range leaves {
		g := l.Meta[MetaSIG]
		if g == "" {
			g = SIGOf(l.Name)
		}
		groups[g] = append(groups[g], l)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	top := &result.Item{Name: root, Status: result.StatusSkipped}
	for _, g := range names {
		items := groups[g]
		sort.SliceStable(items, func(i, j int) bool { return items[i].Name < items[j].Name })
		top.Items = append(top.Items, result.Item{Name: g, Items: items})
	}
	top.RollUp()
	return top
}

func detail(d map[string]interface{}, key string) string {
	if v, ok := d[key]; ok && v != nil {
		return strings.TrimSpace(fmt.Sprint(v))
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return x
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return s[:maxMessage] + "\n... (truncated; the full text is in the JUnit report)"
}
