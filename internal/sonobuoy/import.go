package sonobuoy

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

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
}

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
	notSelected := applySkips(it, c.skips)
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
	c := &tarballContents{durations: map[string]float64{}, skips: map[string]string{}}
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
// (sonobuoy's own tree drops it); empty groups go too. It returns how many
// leaves it dropped.
func applySkips(it *result.Item, skips map[string]string) int {
	dropped := 0
	var walk func(n *result.Item) bool // false: remove n
	walk = func(n *result.Item) bool {
		if len(n.Items) == 0 {
			msg, ok := skips[n.Name]
			if !ok || n.Status != result.StatusSkipped {
				return true
			}
			if strings.TrimSpace(msg) == ginkgoNotSelected {
				dropped++
				return false
			}
			if msg != "" {
				n.Message = msg
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
