package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// Options configure Run.
type Options struct {
	// Kubeconfig of the cluster under test (required).
	Kubeconfig string
	// E2ETest and Ginkgo are the upstream test binary and the ginkgo CLI
	// (see EnsureBinaries).
	E2ETest, Ginkgo string
	// KubectlPath is passed as --kubectl-path (the sig-cli specs run it);
	// default: "kubectl" from PATH. KubectlFromK3lite makes one from k3lite.
	KubectlPath string

	// Mode selects the specs (default ModeQuick).
	Mode Mode
	// Focus, if set, replaces the mode's selection: every [Conformance] spec
	// whose full text matches this regexp (parallel-safe ones first, then
	// [Serial] ones).
	Focus string
	// Skip deselects matching specs in every pass.
	Skip string
	// Specs, if set, replaces mode and Focus: exactly these specs, by full
	// name (a rerun of failed specs). NotSelectedReason then explains, in
	// the result, why the other [Conformance] specs were skipped.
	Specs             []string
	NotSelectedReason string

	// Procs is the number of parallel e2e.test processes for the
	// parallel-safe specs (default DefaultProcs()); [Serial] specs always
	// run on one.
	Procs int
	// OutDir receives per pass <pass>/junit_01.xml and <pass>/e2e.log (the
	// ginkgo output), the dry-run listings, and the e2e.test symlink ginkgo
	// needs (required).
	OutDir string
	Log    *slog.Logger
	// Progress, if set, is called every ProgressInterval (default 30 s),
	// when a pass starts, and once at the end.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// Timeout bounds the whole run (default DefaultTimeout). Ginkgo gets the
	// time left as its --timeout, so it ends the suite itself and still
	// writes the JUnit report.
	Timeout time.Duration
	// ExtraArgs are appended to e2e.test's arguments (after --).
	ExtraArgs []string
}

// DefaultProgressInterval is how often Progress is called.
const DefaultProgressInterval = 30 * time.Second

// stopTimeout is how long an interrupted ginkgo gets to end its specs (its
// --grace-period, 30 s, per running node), run their cleanups and write the
// JUnit report before its process group is killed.
const stopTimeout = 2 * time.Minute

// DefaultTimeout bounds a run of the given selection: quick 15 min, core
// 45 min, certified 3 h (on 2 cores the parallel pass alone takes well over
// an hour), an explicit list 20 min plus 2 min per spec, at most 3 h.
func DefaultTimeout(o Options) time.Duration {
	switch {
	case len(o.Specs) > 0:
		return min(3*time.Hour, 20*time.Minute+time.Duration(len(o.Specs))*2*time.Minute)
	case o.Focus != "":
		return 3 * time.Hour
	case o.Mode == ModeQuick || o.Mode == "":
		return 15 * time.Minute
	case o.Mode == ModeCore:
		return 45 * time.Minute
	}
	return 3 * time.Hour
}

// Args returns the ginkgo command line of each pass Run would start, without
// the progress URL (for dry runs and logs).
func Args(o Options) ([][]string, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	sel, err := plan(&o)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, p := range sel.passes {
		out = append(out, ginkgoArgs(o, p, filepath.Join(o.OutDir, "e2e.test"), filepath.Join(o.OutDir, p.Name), "", o.Timeout))
	}
	return out, nil
}

func (o *Options) defaults() error {
	if o.Mode == "" {
		o.Mode = ModeQuick
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = DefaultProgressInterval
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout(*o)
	}
	if o.OutDir == "" {
		return errors.New("upstream conformance: no output directory given")
	}
	return nil
}

func (o *Options) check() error {
	// ginkgo runs in OutDir and e2e.test in its own directory: every path
	// handed to them must be absolute.
	for _, p := range []*string{&o.Kubeconfig, &o.E2ETest, &o.Ginkgo, &o.OutDir, &o.KubectlPath} {
		if *p != "" && !filepath.IsAbs(*p) && (p != &o.KubectlPath || strings.ContainsRune(*p, os.PathSeparator)) {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	var errs []error
	if o.Kubeconfig == "" {
		errs = append(errs, errors.New("no kubeconfig given (--kubeconfig, or bring a cluster up with `distrobench up`)"))
	} else if _, err := os.Stat(o.Kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("kubeconfig: %w", err))
	}
	for name, p := range map[string]string{"e2e.test": o.E2ETest, "ginkgo": o.Ginkgo} {
		if p == "" || !isFile(p) {
			errs = append(errs, fmt.Errorf("%s not found at %q (build it with `make -C distro e2e`)", name, p))
		}
	}
	if o.KubectlPath == "" {
		if p, err := exec.LookPath("kubectl"); err == nil {
			o.KubectlPath = p
		} else {
			o.Log.Warn("no kubectl given and none in PATH: the sig-cli specs will fail (use k3lite's: upstream.KubectlFromK3lite)")
		}
	}
	return errors.Join(errs...)
}

// passRun is one pass's selection and outcome.
type passRun struct {
	pass
	dir      string
	selected []string // names from the dry run
	missing  []string // wanted names the dry run did not find
	// results are the pass's JUnit leaves by name, suiteLeaves its failed
	// suite-level nodes.
	results     map[string]result.Item
	suiteLeaves []result.Item
	// incomplete says why the pass did not run to its end ("" if it did).
	incomplete string
	started    bool
}

// Run runs the selected upstream conformance specs against the cluster of
// o.Kubeconfig with the ginkgo CLI and returns the result tree: root
// RootName -> one item per SIG -> specs. Every [Conformance] spec of the
// binary is in the tree: the ones run with their verdict, the others not
// selected (result.StatusNotSelected) with the reason; a selected spec that
// produced no result (interrupt, timeout, crash) is an error leaf saying why.
// A ginkgo that exits non-zero while its JUnit report shows no failure fails
// the pass too (checkExitCode). Failed specs do not make an
// error: they are in the tree. Run returns an error when the suite could not
// be run or ended early (bad options, ginkgo crashed, ctx cancelled); the
// tree is then still returned with whatever results exist.
//
// Cancelling ctx interrupts ginkgo (SIGINT to its process group, which
// holds every e2e.test process it started), gives it stopTimeout to clean up
// and write its JUnit report, then kills the group.
func Run(ctx context.Context, o Options) (*result.Item, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("upstream conformance: %w", err)
	}
	sel, err := plan(&o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("upstream conformance: %w", err)
	}
	suite, err := suiteBinary(o.E2ETest, o.OutDir)
	if err != nil {
		return nil, err
	}
	log := o.Log
	deadline := time.Now().Add(o.Timeout)

	// Select: the whole [Conformance] list, and each pass's specs.
	universe, err := dryRun(ctx, suite, pass{LabelFilter: labelConformance}, filepath.Join(o.OutDir, "dry-run", "conformance"))
	if err != nil {
		return nil, err
	}
	var runs []*passRun
	total := 0
	for _, p := range sel.passes {
		names, err := dryRun(ctx, suite, p, filepath.Join(o.OutDir, "dry-run", p.Name))
		if err != nil {
			return nil, err
		}
		pr := &passRun{pass: p, dir: filepath.Join(o.OutDir, p.Name), selected: names}
		if p.Wanted != nil {
			pr.missing = minus(p.Wanted, names)
			if len(pr.missing) > 0 {
				log.Warn("specs not found in this e2e.test", "pass", p.Name, "missing", pr.missing)
			}
		}
		total += len(names)
		runs = append(runs, pr)
	}
	if total == 0 {
		return assemble(universe, runs, sel.notSelected),
			fmt.Errorf("upstream conformance: the selection (mode %s, focus %q, skip %q, %d named specs) matches no spec in %s", o.Mode, o.Focus, o.Skip, len(o.Specs), o.E2ETest)
	}
	log.Info("upstream conformance selected", "mode", o.Mode, "specs", total, "of", len(universe), "passes", len(runs))

	var plans []passPlan
	for _, pr := range runs {
		plans = append(plans, passPlan{name: pr.Name, specs: len(pr.selected), procs: pr.Procs})
	}
	tr := newTracker(plans, nil)
	srv, err := startProgressServer(tr, log)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	report := func() {
		if o.Progress != nil {
			o.Progress(tr.snapshot())
		}
	}
	stopTicker := progress.Every(o.ProgressInterval, func(time.Duration) { report() })
	defer stopTicker()

	var runErrs []error
	for _, pr := range runs {
		if len(pr.selected) == 0 {
			continue
		}
		if ctx.Err() != nil {
			pr.incomplete = "interrupted before this pass started"
			continue
		}
		left := time.Until(deadline)
		if left <= time.Minute {
			pr.incomplete = fmt.Sprintf("the run's time limit (%s) was used up before this pass started", o.Timeout)
			continue
		}
		logPath := filepath.Join(pr.dir, "e2e.log")
		_ = os.Remove(logPath) // counted for progress: never a previous run's
		tr.setPass(pr.Name, logPath)
		report()
		if err := runPass(ctx, o, pr, suite, srv.URL, left); err != nil {
			runErrs = append(runErrs, err)
		}
	}
	stopTicker()
	report()

	tree := assemble(universe, runs, sel.notSelected)
	if ctx.Err() != nil {
		runErrs = append(runErrs, fmt.Errorf("upstream conformance interrupted: %w", context.Cause(ctx)))
	}
	return tree, errors.Join(runErrs...)
}

// ginkgoArgs is the ginkgo command line of one pass: ginkgo flags, the
// suite binary, then e2e.test's flags the way the conformance image's
// go-runner passes them (--provider local, --report-dir, --kubeconfig,
// --disable-log-dump), plus the progress URL sonobuoy adds.
func ginkgoArgs(o Options, p pass, suite, dir, progressURL string, timeout time.Duration) []string {
	args := []string{"--no-color"}
	if p.Procs > 1 {
		args = append(args, "--procs="+strconv.Itoa(p.Procs))
	}
	// Leave a minute for the report after ginkgo's own timeout.
	gt := timeout - time.Minute
	if gt < time.Minute {
		gt = time.Minute
	}
	args = append(args, "--timeout="+gt.Round(time.Second).String())
	args = append(args, p.filterArgs("--")...)
	args = append(args, suite, "--",
		"--kubeconfig="+o.Kubeconfig,
		"--provider=local",
		"--report-dir="+dir,
		"--disable-log-dump",
	)
	if o.KubectlPath != "" {
		args = append(args, "--kubectl-path="+o.KubectlPath)
	}
	if progressURL != "" {
		args = append(args, "--progress-report-url="+progressURL)
	}
	return append(args, o.ExtraArgs...)
}

// runPass runs ginkgo for one pass and reads its JUnit report. The error is
// nil when ginkgo ran the pass to its end (failed specs included).
func runPass(ctx context.Context, o Options, pr *passRun, suite, progressURL string, timeout time.Duration) error {
	log := o.Log
	if err := os.MkdirAll(pr.dir, 0o755); err != nil {
		return fmt.Errorf("upstream conformance %s pass: %w", pr.Name, err)
	}
	junit := filepath.Join(pr.dir, "junit_01.xml")
	_ = os.Remove(junit) // never read a previous run's report
	logPath := filepath.Join(pr.dir, "e2e.log")
	g := process.NewGroup(log)
	args := ginkgoArgs(o, pr.pass, suite, pr.dir, progressURL, timeout)
	proc, err := g.Start(ctx, process.Spec{
		Name: "ginkgo-" + pr.Name, Path: o.Ginkgo, Args: args, Dir: o.OutDir,
		// The ginkgo CLI compares its version with the suite's by running
		// `go list -m` where the suite binary lies; OutDir is usually inside
		// distrobench's own module (another Ginkgo version than the distro
		// module e2e.test is built from), which prints a false mismatch
		// warning. Without modules the check skips itself.
		Env:     []string{"GO111MODULE=off"},
		LogPath: logPath, StopSignal: syscall.SIGINT,
	})
	if err != nil {
		pr.incomplete = "ginkgo did not start: " + err.Error()
		return fmt.Errorf("upstream conformance %s pass: %w", pr.Name, err)
	}
	pr.started = true
	log.Info("upstream conformance pass started", "pass", pr.Name, "specs", len(pr.selected), "procs", max(pr.Procs, 1), "log", logPath)

	// Our own watchdog: ginkgo's --timeout should end the suite first.
	started := time.Now()
	watchdog := time.NewTimer(timeout + stopTimeout)
	defer watchdog.Stop()
	var stopReason string
	select {
	case <-proc.Wait():
	case <-ctx.Done():
		stopReason = result.Interrupted(time.Since(started))
	case <-watchdog.C:
		stopReason = result.TimedOut(time.Since(started)) + " (ginkgo did not end by itself: killed)"
	}
	if stopReason != "" {
		log.Warn("stopping ginkgo and its e2e.test processes", "pass", pr.Name, "why", stopReason, "grace", stopTimeout)
		if _, _, err := proc.Stop(stopTimeout); err != nil {
			log.Warn("stopping ginkgo", "err", err)
		}
	}
	_, code := proc.Exited()
	redactOutputs(log, pr.dir)

	leaves, props, jerr := junitLeaves(junit)
	if jerr == nil {
		pr.results = map[string]result.Item{}
		for _, l := range leaves {
			if l.Meta[MetaSIG] == GroupSuite {
				l.Name = pr.Name + " pass: " + l.Name
				pr.suiteLeaves = append(pr.suiteLeaves, l)
				continue
			}
			pr.results[l.Name] = l
		}
	}
	switch {
	case stopReason != "":
		pr.incomplete = stopReason
	case props["SpecialSuiteFailureReason"] != "":
		// Ginkgo ended the suite early: "Suite Timeout Elapsed",
		// "Interrupted by User" ...
		pr.incomplete = result.EndedEarly(props["SpecialSuiteFailureReason"], time.Since(started))
	case jerr != nil:
		pr.incomplete = fmt.Sprintf("ginkgo exited with code %d without a readable JUnit report", code)
	}
	if jerr != nil {
		return fmt.Errorf("upstream conformance %s pass: ginkgo exited with code %d and left no readable results: %w; last lines of %s:\n%s",
			pr.Name, code, jerr, logPath, strings.Join(process.Tail(logPath, 15), "\n"))
	}
	log.Info("upstream conformance pass ended", "pass", pr.Name, "exit", code, "incomplete", pr.incomplete)
	return pr.checkExitCode(code, logPath)
}

// checkExitCode fails a pass whose ginkgo exited non-zero although its JUnit
// report shows no failure (a crashed e2e.test process, a failed report
// node): the exit code is ginkgo's own verdict and must not be lost. The
// failure is also an error leaf, so the tree shows it.
func (pr *passRun) checkExitCode(code int, logPath string) error {
	if code == 0 || pr.incomplete != "" || pr.anyFailed() {
		return nil
	}
	msg := fmt.Sprintf("ginkgo exited with code %d although its JUnit report shows no failed spec; last lines of %s:\n%s",
		code, logPath, strings.Join(process.Tail(logPath, 15), "\n"))
	pr.suiteLeaves = append(pr.suiteLeaves, result.Item{Name: pr.Name + " pass: ginkgo exit code", Status: result.StatusError,
		Message: msg, Meta: map[string]string{MetaSIG: GroupSuite, MetaSource: "ginkgo"}})
	return fmt.Errorf("upstream conformance %s pass: %s", pr.Name, msg)
}

// anyFailed reports whether the pass's JUnit report holds a failed or
// errored spec or suite node.
func (pr *passRun) anyFailed() bool {
	for _, l := range append(slices.Collect(maps.Values(pr.results)), pr.suiteLeaves...) {
		if l.Status == result.StatusFailed || l.Status == result.StatusError {
			return true
		}
	}
	return false
}

// assemble builds the result tree from the passes' outcomes.
func assemble(universe []string, runs []*passRun, notSelected string) *result.Item {
	var leaves []result.Item
	seen := map[string]bool{}
	for _, pr := range runs {
		for _, name := range pr.selected {
			if seen[name] {
				continue
			}
			seen[name] = true
			leaf, ok := pr.results[name]
			switch {
			case !ok:
				why := pr.incomplete
				if why == "" {
					why = "no result in the JUnit report (see e2e.log)"
				}
				leaf = result.Item{Name: name, Status: result.StatusError, Message: result.NotRunPrefix + why,
					Meta: map[string]string{MetaSource: "not-run"}}
			case leaf.Status == result.StatusSkipped && leaf.Message == "skipped" && pr.incomplete != "":
				// Ginkgo marks the specs it never reached as plain
				// "skipped"; a spec skipped on purpose says why.
				leaf = result.Item{Name: name, Status: result.StatusError, Message: result.NotRunPrefix + pr.incomplete,
					Meta: map[string]string{MetaSource: "not-run"}}
			}
			leaf.Meta = withMeta(leaf.Meta, MetaSIG, SIGOf(name))
			leaf.Meta["pass"] = pr.Name
			leaves = append(leaves, leaf)
		}
		for _, name := range pr.missing {
			if seen[name] {
				continue
			}
			seen[name] = true
			leaves = append(leaves, result.Item{Name: name, Status: result.StatusError,
				Message: "not run: no spec of this name in the e2e.test binary (another Kubernetes version?)",
				Meta:    map[string]string{MetaSIG: SIGOf(name), MetaSource: "not-run", "pass": pr.Name}})
		}
		leaves = append(leaves, pr.suiteLeaves...)
	}
	for _, name := range universe {
		if seen[name] {
			continue
		}
		seen[name] = true
		leaves = append(leaves, result.Item{Name: name, Status: result.StatusNotSelected, Message: notSelected,
			Meta: map[string]string{MetaSIG: SIGOf(name), MetaSource: "not-selected"}})
	}
	return groupBySIG(RootName, leaves)
}

func withMeta(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	if m[k] == "" {
		m[k] = v
	}
	return m
}

// minus returns the elements of a not in b, in a's order.
func minus(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}
