// Package conformance runs distrobench's own Ginkgo suites (suites/*) in
// process, against any cluster given by a kubeconfig, and turns Ginkgo's
// report into the canonical result tree (internal/result).
//
// The harness is one static binary for ARM boards with no Go toolchain at run
// time, so the suites are linked in (importing a suite package registers its
// specs) and run with ginkgo.RunSpecs rather than `go test`.
//
// Ginkgo keeps its spec tree in package globals and can run it only ONCE per
// process: Run returns ErrAlreadyRan on a second call. Start a new process
// (a new `distrobench conformance`) to run the suites again.
//
// Nothing here reads os.Args or parses flag.CommandLine: Ginkgo registers its
// flags there, but the configuration is passed explicitly to RunSpecs as a
// types.SuiteConfig and types.ReporterConfig.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	"github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/suites/framework"

	// The suites linked into the harness: importing one registers its specs.
	_ "github.com/distrobench/distrobench/suites/api"
	"github.com/distrobench/distrobench/suites/nodes"
)

// RootName is the name of the root item Run returns.
const RootName = "conformance"

// DefaultTimeout bounds a run when Options.Timeout is zero.
const DefaultTimeout = time.Hour

// ErrAlreadyRan is returned by a second Run in the same process: Ginkgo can
// run its specs only once per process.
var ErrAlreadyRan = errors.New("the conformance suites already ran in this process (Ginkgo can run specs only once per process): start a new distrobench process to run them again")

// Options of a run.
type Options struct {
	// Kubeconfig of the cluster under test (required).
	Kubeconfig string
	// LabelFilter is a Ginkgo label filter, e.g. "api && !slow".
	LabelFilter string
	// Suites to run; empty means every registered suite (see Suites).
	Suites []string
	// JUnitPath, when set, receives Ginkgo's raw JUnit report.
	JUnitPath string
	// Timeout of the whole run; zero means DefaultTimeout. A deadline of
	// ctx that comes sooner wins.
	Timeout time.Duration
	// TimeoutMultiplier scales every spec timeout (about 10 for arm64
	// emulated with qemu); zero means 1.
	TimeoutMultiplier float64
	// Progress, when set, is called before and after every spec.
	Progress func(Progress)
	// Log receives one line per run and per failed spec; nil discards.
	Log *slog.Logger
	// Stdout receives Ginkgo's own (succinct) output, failures in full;
	// nil discards it.
	Stdout io.Writer
	// NodeController stops and starts node agents for the disruptive specs
	// of the nodes suite (it may also implement framework.AgentJoiner). Nil
	// makes those specs fail with a message saying so.
	NodeController framework.NodeController
}

// Progress of a run, for live displays.
type Progress struct {
	Done, Total, Passed, Failed, Skipped int
	// Current is the full text of the running spec, "" between specs.
	Current string
	Elapsed time.Duration
}

// Suites returns the names of the suites linked into the harness.
func Suites() []string { return framework.Suites() }

// NodeSuites are the suites whose specs run pods: they need a cluster with
// Ready nodes (an agent), and those of them needing two nodes fail on one.
var NodeSuites = []string{nodes.SuiteName}

// SuitesFor returns the registered suites that fit a cluster with nodeCount
// nodes: all of them, except NodeSuites when the cluster has no node at all
// (a server run with --disable-agent serves the API only).
func SuitesFor(nodeCount int) []string {
	var out []string
	for _, s := range Suites() {
		if nodeCount == 0 && slices.Contains(NodeSuites, s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// CountNodes returns how many Node objects the cluster of kubeconfig has.
func CountNodes(ctx context.Context, kubeconfig string) (int, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return 0, fmt.Errorf("load kubeconfig %s: %w", kubeconfig, err)
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, fmt.Errorf("client for %s: %w", redact.Endpoint(cfg.Host), err)
	}
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("list the nodes of %s: %w (is the server running?)", redact.Endpoint(cfg.Host), err)
	}
	return len(list.Items), nil
}

var (
	runMu sync.Mutex
	ran   bool
)

// testingT is the GinkgoTestingT RunSpecs reports the outcome to.
type testingT struct {
	mu     sync.Mutex
	failed bool
}

func (t *testingT) Fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
}

// Run runs the selected specs against the cluster of o.Kubeconfig and
// returns the result tree: root "conformance" -> one item per suite ->
// containers -> specs. Failed specs do not make an error: they are in the
// tree. Run returns an error only when the specs could not be run (bad
// options, unreachable cluster, second call in a process).
func Run(ctx context.Context, o Options) (*result.Item, error) {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stdout := o.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	suites, err := selectSuites(o.Suites)
	if err != nil {
		return nil, err
	}
	filter, err := composeFilter(suites, o.LabelFilter)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if timeout <= 0 || ctx.Err() != nil {
		return nil, fmt.Errorf("conformance not started: %w", context.Cause(ctx))
	}
	mult := o.TimeoutMultiplier
	if mult == 0 {
		mult = 1
	}

	runMu.Lock()
	defer runMu.Unlock()
	if ran {
		return nil, ErrAlreadyRan
	}

	framework.TestContext.Kubeconfig = o.Kubeconfig
	framework.TestContext.TimeoutMultiplier = mult
	framework.RegisterNodeController(o.NodeController)
	defer framework.RegisterNodeController(nil)
	if err := checkCluster(ctx); err != nil {
		return nil, err
	}

	ran = true
	var (
		mu       sync.Mutex
		progress Progress
		final    *types.Report
	)
	start := time.Now()
	emit := func(update func(p *Progress)) {
		mu.Lock()
		update(&progress)
		progress.Elapsed = time.Since(start)
		p := progress
		mu.Unlock()
		if o.Progress != nil {
			o.Progress(p)
		}
	}

	// These nodes join whatever the suite packages registered; they must be
	// added before RunSpecs builds the tree.
	ginkgo.ReportBeforeSuite(func(r types.Report) {
		emit(func(p *Progress) { p.Total = r.PreRunStats.SpecsThatWillRun })
		log.Info("conformance: starting", "suites", suites, "labelFilter", filter,
			"specs", r.PreRunStats.SpecsThatWillRun, "randomSeed", r.SuiteConfig.RandomSeed)
	})
	ginkgo.BeforeEach(func() {
		if err := context.Cause(ctx); err != nil {
			ginkgo.AbortSuite(fmt.Sprintf("%s: %v", abortCancelled, err))
		}
	})
	ginkgo.ReportBeforeEach(func(s types.SpecReport) {
		if s.State.Is(types.SpecStateSkipped) {
			return // excluded by the label filter
		}
		emit(func(p *Progress) { p.Current = s.FullText() })
	})
	ginkgo.ReportAfterEach(func(s types.SpecReport) {
		if s.State.Is(types.SpecStateSkipped) && s.Failure.IsZero() {
			return // excluded by the label filter or never reached
		}
		emit(func(p *Progress) {
			p.Done++
			p.Current = ""
			switch {
			case s.State.Is(types.SpecStatePassed):
				p.Passed++
			case s.State.Is(types.SpecStateSkipped | types.SpecStatePending):
				p.Skipped++
			default:
				p.Failed++
			}
		})
		if s.State.Is(types.SpecStateFailureStates) {
			log.Warn("conformance: spec failed", "spec", s.FullText(), "state", s.State.String(),
				"location", shortLocation(s.FailureLocation()), "message", redact.String(firstLine(s.FailureMessage())))
		} else {
			log.Debug("conformance: spec done", "spec", s.FullText(), "state", s.State.String(), "seconds", s.RunTime.Seconds())
		}
	})
	ginkgo.ReportAfterSuite("distrobench result tree", func(r types.Report) {
		mu.Lock()
		final = &r
		mu.Unlock()
	})

	suiteConfig := types.NewDefaultSuiteConfig()
	suiteConfig.LabelFilter = filter
	suiteConfig.Timeout = timeout
	suiteConfig.GracePeriod = 30 * time.Second
	reporterConfig := types.NewDefaultReporterConfig()
	reporterConfig.Succinct = true
	reporterConfig.NoColor = true
	reporterConfig.SilenceSkips = true

	// Ginkgo's default reporter and its error messages write to these.
	oldOut, oldErr := formatter.ColorableStdOut, formatter.ColorableStdErr
	formatter.ColorableStdOut, formatter.ColorableStdErr = stdout, stdout
	defer func() { formatter.ColorableStdOut, formatter.ColorableStdErr = oldOut, oldErr }()

	gomega.RegisterFailHandler(ginkgo.Fail)
	t := &testingT{}
	passed := ginkgo.RunSpecs(t, "distrobench conformance", suiteConfig, reporterConfig)

	mu.Lock()
	report := final
	mu.Unlock()
	if report == nil {
		return nil, errors.New("ginkgo finished without a suite report (was the run interrupted before it started?)")
	}
	if !passed {
		// RunSpecs' verdict covers what came after our report node ran
		// (later ReportAfterSuite nodes): toItem must not pass it.
		report.SuiteSucceeded = false
	}
	root := toItem(*report, suites, filter)
	c := root.Counts()
	log.Info("conformance: done", "status", root.Status, "seconds", report.RunTime.Seconds(), "passed", c.Passed,
		"failed", c.Failed, "errored", c.Errored, "skipped", c.Skipped, "notSelected", c.NotSelected)
	if o.JUnitPath != "" {
		if err := reporters.GenerateJUnitReport(*report, o.JUnitPath); err != nil {
			return root, fmt.Errorf("write JUnit report %s: %w", o.JUnitPath, err)
		}
	}
	return root, nil
}

// checkCluster loads the kubeconfig and asks the server for its version, so
// a wrong kubeconfig or a cluster that is down is one clear error, not a
// failure of every spec.
func checkCluster(ctx context.Context) error {
	cfg, err := framework.LoadRESTConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 30 * time.Second
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("client for %s: %w", redact.Endpoint(cfg.Host), err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := dc.ServerVersion()
		done <- err
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return fmt.Errorf("conformance not started: %w", context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("cluster at %s (kubeconfig %s) unreachable: %w (is the server running?)",
			redact.Endpoint(cfg.Host), framework.TestContext.Kubeconfig, err)
	}
	return nil
}

// selectSuites validates the requested suites; none means all.
func selectSuites(want []string) ([]string, error) {
	all := Suites()
	if len(want) == 0 {
		return all, nil
	}
	var out []string
	for _, s := range want {
		if !slices.Contains(all, s) {
			return nil, fmt.Errorf("unknown suite %q: valid suites are %s", s, strings.Join(all, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// composeFilter restricts the user's label filter to the selected suites,
// whose specs carry the label "suite:<name>". Both are checked here: Ginkgo
// would print a bad filter and exit the process.
func composeFilter(suites []string, user string) (string, error) {
	if _, err := types.ParseLabelFilter(user); err != nil {
		return "", fmt.Errorf("label filter %q: %w", user, err)
	}
	filter := fmt.Sprintf("%s: containsAny {%s}", framework.SuiteLabelKey, strings.Join(suites, ", "))
	if strings.TrimSpace(user) != "" {
		filter = "(" + filter + ") && (" + user + ")"
	}
	if _, err := types.ParseLabelFilter(filter); err != nil {
		return "", fmt.Errorf("label filter %q: %w", filter, err)
	}
	return filter, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// String is the one-line progress shown while specs run.
func (p Progress) String() string {
	s := fmt.Sprintf("specs %d/%d done, %d passed, %d failed, %d skipped", p.Done, p.Total, p.Passed, p.Failed, p.Skipped)
	if p.Current != "" {
		s += ": " + p.Current
	}
	return s
}
