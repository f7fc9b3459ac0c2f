package sonobuoy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	sonoresults "github.com/vmware-tanzu/sonobuoy/pkg/client/results"
	sonoconfig "github.com/vmware-tanzu/sonobuoy/pkg/config"
	sonodiscovery "github.com/vmware-tanzu/sonobuoy/pkg/discovery"
	"k8s.io/apimachinery/pkg/version"

	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
)

// Meta keys set on the root item ImportTarball and Run return.
const (
	// MetaRunner is always "sonobuoy".
	MetaRunner = "runner"
	// MetaTarball is the path of the results tarball.
	MetaTarball = "tarball"
	// MetaRunID is sonobuoy's run UUID (from meta/config.json).
	MetaRunID = "sonobuoyRunID"
	// MetaSonobuoyVersion is the sonobuoy version that ran (meta/config.json).
	MetaSonobuoyVersion = "sonobuoyVersion"
	// MetaKubernetesVersion is the API server's version (serverversion.json).
	MetaKubernetesVersion = "kubernetesVersion"
	// MetaNotSelected counts the specs the mode's focus and skip patterns
	// left out: Ginkgo lists every spec of the suite in its JUnit report,
	// those as "skipped" with no reason; they are not kept as leaves.
	MetaNotSelected = "specsNotSelected"
	// MetaPlugins lists the plugins the run loaded, comma-separated (meta/info.json).
	MetaPlugins = "plugins"
	// Set by Run only:
	MetaMode             = "mode"
	MetaSonobuoyImage    = "sonobuoyImage"
	MetaConformanceImage = "conformanceImage"
)

// tarballContents is what ImportTarball reads from a results tarball.
type tarballContents struct {
	config     sonoconfig.Config
	runInfo    sonodiscovery.RunInfo
	server     version.Info
	plugins    []string           // directories under plugins/
	durations  map[string]float64 // spec name -> seconds, from the plugin's JUnit files
	skips      map[string]string  // spec name -> <skipped message=...> of the JUnit files
	hasResults bool               // plugins/e2e/sonobuoy_results.yaml is there
	// suite is how the e2e suite ended and what it selected, from its JUnit
	// properties; willRun is the count of selected specs its log states
	// ("Will run N of M specs"), -1 when the log does not say.
	suite   suiteEnd
	willRun int
}

// suiteEnd is what a Ginkgo JUnit report says about its suite's end and
// selection (its <properties>).
type suiteEnd struct {
	description string        // the suite's name ("Kubernetes e2e suite")
	reason      string        // SpecialSuiteFailureReason: "Interrupted by User" ...
	runTime     time.Duration // how long the suite ran
	focus, skip string        // FocusStrings, SkipStrings
}

// notRun says why the specs the suite never reached did not run, or "" when
// it ran to its end.
func (e suiteEnd) notRun() string { return result.EndedEarly(e.reason, e.runTime) }

// selects reports whether Ginkgo's focus and skip patterns select the spec,
// the way Ginkgo matches them (suite description, a space, the spec's full
// text). The property holds Ginkgo's patterns joined by ","; sonobuoy passes
// one focus and one skip regexp, read here as one each. A pattern that does
// not compile selects the spec: a spec wrongly counted as not run is
// visible, one wrongly dropped is not.
func (e suiteEnd) selects(spec string) bool {
	text := e.description + " " + spec
	if e.focus != "" {
		if re, err := regexp.Compile(e.focus); err == nil && !re.MatchString(text) {
			return false
		}
	}
	if e.skip != "" {
		if re, err := regexp.Compile(e.skip); err == nil && re.MatchString(text) {
			return false
		}
	}
	return true
}

// willRunLine is Ginkgo's announcement of its selection in the suite's log.
var willRunLine = regexp.MustCompile(`Will run (\d+) of (\d+) specs`)

// ImportTarball reads a sonobuoy results tarball (what Run retrieves, or
// `sonobuoy retrieve` writes) and returns the e2e plugin's results as
// distrobench's test tree: root upstream.RootName, one child per SIG, one
// leaf per spec (converted by upstream.ItemFromSonobuoy from the plugin's
// sonobuoy_results.yaml), each spec's duration taken from the raw JUnit
// files in the tarball (sonobuoy's own tree drops them), and the run's
// details (sonobuoy and Kubernetes versions, run ID, tarball path) in Meta.
func ImportTarball(tarball string) (*result.Item, error) {
	data, err := os.ReadFile(tarball)
	if err != nil {
		return nil, fmt.Errorf("reading sonobuoy results tarball: %w", err)
	}
	c, err := scanTarball(data)
	if err != nil {
		return nil, fmt.Errorf("sonobuoy results tarball %s: %w", tarball, err)
	}
	if !c.hasResults {
		return nil, fmt.Errorf("sonobuoy results tarball %s has no %s (plugins in it: %s): was the e2e plugin run, and did it finish? Retrieve the results again once `sonobuoy status` says complete",
			tarball, resultsFile(), listOrNone(c.plugins))
	}
	rd, err := newReader(data)
	if err != nil {
		return nil, fmt.Errorf("sonobuoy results tarball %s: %w", tarball, err)
	}
	sonoItem, err := rd.PluginResultsItem(e2ePlugin)
	if err != nil {
		return nil, fmt.Errorf("sonobuoy results tarball %s: %w", tarball, err)
	}

	it := upstream.ItemFromSonobuoy(*sonoItem)
	it.Name = upstream.RootName
	notSelected := applySkips(it, c.skips, c.suite)
	checkSelectedCount(it, c.willRun)
	if c.suite.notRun() != "" {
		it.Status = result.StatusError // ended early, whatever ran passed
	}
	it.RollUp()
	setDurations(it, c.durations)
	if it.Meta == nil {
		it.Meta = map[string]string{}
	}
	if len(c.skips) > 0 {
		it.Meta[MetaNotSelected] = strconv.Itoa(notSelected)
	}
	it.Meta[MetaRunner] = "sonobuoy"
	it.Meta[MetaTarball] = tarball
	setIf(it.Meta, MetaRunID, c.config.UUID)
	setIf(it.Meta, MetaSonobuoyVersion, c.config.Version)
	setIf(it.Meta, MetaKubernetesVersion, c.server.GitVersion)
	setIf(it.Meta, MetaPlugins, strings.Join(c.runInfo.LoadedPlugins, ","))
	return it, nil
}

func resultsFile() string {
	return path.Join(sonoresults.PluginsDir, e2ePlugin, sonoresults.PostProcessedResultsFile)
}

// newReader opens the gzipped tarball with sonobuoy's results reader. A
// tarball without meta/config.json (hand-made, or from a tool that writes
// only the plugin results) is read with the current layout rather than
// refused: the layout has not changed since sonobuoy v0.15.
func newReader(data []byte) (*sonoresults.Reader, error) {
	rd, err := sonoresults.NewReaderFromBytes(data)
	if err == nil {
		return rd, nil
	}
	gz, gzErr := gzip.NewReader(bytes.NewReader(data))
	if gzErr != nil {
		return nil, fmt.Errorf("not a gzipped tarball: %w", gzErr)
	}
	return sonoresults.NewReaderWithVersion(gz, sonoresults.VersionFifteen), nil
}

// scanTarball walks the tarball once for everything but the results tree.
func scanTarball(data []byte) (*tarballContents, error) {
	rd, err := newReader(data)
	if err != nil {
		return nil, err
	}
	c := &tarballContents{durations: map[string]float64{}, skips: map[string]string{}, willRun: -1}
	junitDir := path.Join(sonoresults.PluginsDir, e2ePlugin, sonoresults.ResultsDir)
	serverVersionFile := rd.ServerVersionFile()
	err = rd.WalkFiles(func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if rest, ok := strings.CutPrefix(p, sonoresults.PluginsDir); ok {
			if name, _, _ := strings.Cut(rest, "/"); name != "" && !slices.Contains(c.plugins, name) {
				c.plugins = append(c.plugins, name)
			}
		}
		switch {
		case info.IsDir():
			return nil
		case p == resultsFile():
			c.hasResults = true
		case p == sonoresults.ConfigFile(sonoresults.VersionFifteen):
			return sonoresults.ExtractConfig(p, info, &c.config)
		case p == path.Join(rd.Metadata(), sonoresults.InfoFile):
			return sonoresults.ExtractFileIntoStruct(p, p, info, &c.runInfo)
		case p == serverVersionFile:
			return sonoresults.ExtractFileIntoStruct(p, p, info, &c.server)
		case strings.HasPrefix(p, junitDir) && strings.HasPrefix(path.Base(p), "junit") && strings.HasSuffix(p, ".xml"):
			var jr sonoresults.JUnitResult
			if err := sonoresults.ExtractFileIntoStruct(p, p, info, &jr); err != nil {
				return fmt.Errorf("JUnit file %s: %w", p, err)
			}
			for _, s := range jr.Suites.Suites {
				if c.suite.reason == "" { // an early end in any suite counts
					c.suite = suiteEndOf(s)
				}
				for _, tc := range s.TestCases {
					name := upstream.SpecName(tc.Name)
					if d, err := strconv.ParseFloat(tc.Time, 64); err == nil {
						c.durations[name] = d
					}
					if tc.SkipMessage != nil {
						c.skips[name] = tc.SkipMessage.Message
					}
				}
			}
		case strings.HasPrefix(p, junitDir) && path.Base(p) == "e2e.log":
			n, err := willRun(info)
			if err != nil {
				return fmt.Errorf("e2e log %s: %w", p, err)
			}
			c.willRun = n
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ginkgoNotSelected is the whole message of Ginkgo's JUnit <skipped> for a
// spec its filters left out; a spec that skipped itself says "skipped - "
// and its reason.
const ginkgoNotSelected = "skipped"

// applySkips drops the skipped leaves the run never selected (see
// MetaNotSelected) and gives the others the reason from the JUnit report
// (sonobuoy's own tree drops it); empty groups go too. When the suite ended
// early (interrupted, timed out), a plain "skipped" spec its focus and skip
// patterns select was never reached: it becomes an error saying why. It
// returns how many leaves it dropped.
func applySkips(it *result.Item, skips map[string]string, end suiteEnd) int {
	dropped := 0
	notRun := end.notRun()
	var walk func(n *result.Item) bool // false: remove n
	walk = func(n *result.Item) bool {
		if len(n.Items) == 0 {
			msg, ok := skips[n.Name]
			if !ok || n.Status != result.StatusSkipped {
				return true
			}
			switch {
			case strings.TrimSpace(msg) != ginkgoNotSelected:
				if msg != "" {
					n.Message = msg
				}
			case notRun != "" && end.selects(n.Name):
				n.Status = result.StatusError
				n.Message = result.NotRunPrefix + notRun
				n.Meta[upstream.MetaSource] = "not-run"
			default:
				dropped++
				return false
			}
			return true
		}
		kept := n.Items[:0]
		for i := range n.Items {
			if walk(&n.Items[i]) {
				kept = append(kept, n.Items[i])
			}
		}
		n.Items = kept
		return len(kept) > 0
	}
	if len(it.Items) > 0 {
		walk(it) // the root stays, also when nothing was selected
	}
	return dropped
}

// checkSelectedCount adds an error leaf when the specs in the tree do not add
// up to the count the suite's log says it selected (willRun; -1: unknown),
// so no selected spec can silently go missing.
func checkSelectedCount(it *result.Item, willRun int) {
	if willRun < 0 {
		return
	}
	specs := 0
	for _, l := range it.Leaves() {
		if l.Item.Meta[upstream.MetaSIG] != upstream.GroupSuite {
			specs++
		}
	}
	if specs == willRun {
		return
	}
	leaf := result.Item{Name: "selected specs without a result", Status: result.StatusError,
		Message: fmt.Sprintf("the e2e log says Ginkgo selected %d specs, the results hold %d: the JUnit report is incomplete (see plugins/e2e/results/global/e2e.log in the tarball)", willRun, specs),
		Meta:    map[string]string{upstream.MetaSIG: upstream.GroupSuite, upstream.MetaSource: "sonobuoy"}}
	for i := range it.Items {
		if it.Items[i].Name == upstream.GroupSuite {
			it.Items[i].Items = append(it.Items[i].Items, leaf)
			return
		}
	}
	it.Items = append(it.Items, result.Item{Name: upstream.GroupSuite, Items: []result.Item{leaf}})
}

// suiteEndOf reads the end and selection of a Ginkgo suite from its JUnit
// properties.
func suiteEndOf(s sonoresults.JUnitTestSuite) suiteEnd {
	e := suiteEnd{description: s.Name, runTime: time.Duration(s.Time * float64(time.Second))}
	for _, p := range s.Properties {
		switch p.Name {
		case "SpecialSuiteFailureReason":
			e.reason = p.Value
		case "FocusStrings":
			e.focus = p.Value
		case "SkipStrings":
			e.skip = p.Value
		}
	}
	return e
}

// willRun reads Ginkgo's "Will run N of M specs" from a log in the tarball;
// -1 when the log does not say.
func willRun(info os.FileInfo) (int, error) {
	rd, ok := info.Sys().(io.Reader)
	if !ok {
		return -1, nil
	}
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m := willRunLine.FindStringSubmatch(sc.Text()); m != nil {
			return strconv.Atoi(m[1])
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return -1, err
	}
	return -1, nil // a line too long for the scanner is no announcement
}

// setDurations gives each leaf its JUnit duration and recomputes the inner
// nodes' sums.
func setDurations(it *result.Item, durations map[string]float64) {
	if len(durations) == 0 {
		return
	}
	var walk func(n *result.Item) float64
	walk = func(n *result.Item) float64 {
		if len(n.Items) == 0 {
			if d, ok := durations[n.Name]; ok {
				n.DurationSeconds = d
			}
			return n.DurationSeconds
		}
		var sum float64
		for i := range n.Items {
			sum += walk(&n.Items[i])
		}
		n.DurationSeconds = sum
		return sum
	}
	walk(it)
}

func setIf(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
