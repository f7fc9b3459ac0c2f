// Package job runs distrobench's main job: build -> images -> up ->
// footprint -> conformance -> upstream -> bench -> down -> report. The job
// is a table of phases (Phase: a name, a condition and a function of the
// cluster it acts on) that one loop runs: a failed build, images or up
// skips the rest, Ctrl-C stops after the current phase, down always runs
// once, and the report is written whatever happens (failure, Ctrl-C), so a
// run always leaves evidence behind. Footprint samples the fresh, idle
// cluster before the suites load it; bench measures the rest. On a cluster
// with nodes (agents), up also measures the time to node Ready,
// conformance adds the nodes suite (after the api suite, with the cluster
// as the node controller of its disruptive specs), footprint measures every
// node (its own cgroup, pods apart) in the same idle window as the server,
// and bench adds pod startup latency (nodes.go).
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/distrobench/distrobench/internal/build"
	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/host"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
	"github.com/distrobench/distrobench/reports"
	"k8s.io/client-go/discovery"
)

// Phase names, in order (PhaseUpstream runs between conformance and
// bench). The commands on an existing cluster record theirs under the same
// names.
const (
	PhaseBuild       = "build"
	PhaseImages      = "images" // only for clusters with nodes
	PhaseUp          = "up"
	PhaseFootprint   = "footprint"
	PhaseConformance = "conformance"
	PhaseBench       = "bench"
	PhaseDown        = "down"
)

// Options of the main job.
type Options struct {
	RepoRoot string
	Profile  *profile.Profile // loaded, overrides applied, defaulted, validated
	// Binary, when set, replaces the build phase (a k3s/rke2/k3lite the user has).
	Binary   string
	RunsDir  string // where run directories go (state, data, logs)
	OutBase  string // reports/out
	ToolVer  string
	Command  string // the command line, for the report (redacted here)
	Conform  ConformanceOptions
	Bench    BenchOptions
	Log      *slog.Logger
	Progress *progress.Printer
}

// ConformanceOptions select our suites and the upstream suite.
type ConformanceOptions struct {
	Skip        bool
	LabelFilter string
	Timeout     time.Duration
	// Upstream is the mode of the upstream Kubernetes [Conformance] suite
	// run after ours (quick, core, certified); "" runs none.
	Upstream upstream.Mode
	// UpstreamProcs is ginkgo's parallelism for it (0: upstream.DefaultProcs).
	UpstreamProcs int
}

// BenchOptions size the benchmarks.
type BenchOptions struct {
	Skip       bool
	Repeats    int           // every figure is repeated (default 5)
	IdleWindow time.Duration // footprint window (default 60s)
	Objects    int           // API latency: objects per verb per repeat
	// APIRepeats is how many create..delete cycles the API latency
	// benchmark runs (default 20): one cycle takes about a second here, so
	// the figures average over seconds-long disturbances, which five cycles
	// (8 s in all) did not.
	APIRepeats  int
	Concurrency int // API latency: closed-loop workers
	ObjectSize  int
	// Rate, when above 0, runs the API latency benchmark as an open loop of
	// Rate requests/s instead of a closed loop of Concurrency workers.
	Rate float64
	// RequestTimeout bounds one API request (default 1 minute); ErrorBudget
	// is the fraction of a verb's requests that may fail (default 0).
	RequestTimeout time.Duration
	ErrorBudget    float64
	// SkipIdle leaves out the idle footprint (the main job measures it
	// before the suites run).
	SkipIdle bool
	// SkipRestarts leaves out start-to-/readyz and SIGTERM times (they
	// restart the server, which only the process that started it can do).
	SkipRestarts bool
	// SkipPods leaves out the pod startup latency (a cluster without
	// agents has no node to run pods on).
	SkipPods bool
	// Pods is how many pods the pod startup benchmark creates (default 30),
	// at PodQPS per second (default 10) with PodConcurrency parallel calls
	// (default 5).
	Pods           int
	PodQPS         float64
	PodConcurrency int
}

// Outcome is what a run produced.
type Outcome struct {
	Report *result.Report
	Paths  reports.Paths
}

// ErrRunFailed is returned (wrapped) when the run completed but did not pass.
var ErrRunFailed = errors.New("run failed")

// Run executes the main job. It returns the report in every case where one
// could be written, and an error when the run did not pass.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	t, err := newRunTarget(o)
	if err != nil {
		return nil, err
	}
	j := &mainJob{o: o}
	return runJob(ctx, o, t, j.phases())
}

// runJob runs phases on t and then writes t's report, whatever the phases
// did (failed, interrupted).
func runJob(ctx context.Context, o Options, t *Target, phases []Phase) (*Outcome, error) {
	newRunner(o.Progress, o.Log).run(ctx, t, phases)
	return Finish(ctx, t.Report, o.OutBase, o.Log)
}

// newRunTarget starts the main job's report and makes its run directory.
func newRunTarget(o Options) (*Target, error) {
	p := o.Profile
	rep := NewReport(o.Command, p.Metadata.Name, p.Spec.Datastore.Type, time.Now(), o.ToolVer)
	rep.Params.ProfileFile = p.File
	rep.Params.Endpoint = redact.Endpoint(p.Spec.Datastore.Endpoint)
	rep.Params.Arch = p.Spec.Arch
	rep.Params.LabelFilter = o.Conform.LabelFilter
	rep.Params.Repeats = o.Bench.Repeats
	runDir := filepath.Join(o.RunsDir, rep.RunID)
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	return &Target{Profile: p, RunDir: runDir, Binary: o.Binary, Report: rep}, nil
}

// mainJob is the main job's phase table and what its phases share.
type mainJob struct {
	o Options
	// e2e are the upstream suite's binaries, built in the build phase.
	e2e upstream.Binaries
}

// phases is the main job: build -> images -> up -> footprint ->
// conformance -> upstream -> bench, then down. Nothing runs on a cluster
// that did not come up; footprint samples the fresh, idle cluster before
// the suites load it.
func (j *mainJob) phases() []Phase {
	bench := func(*Target) bool { return !j.o.Bench.Skip }
	return []Phase{
		{Name: PhaseBuild, Run: j.build, Gate: true},
		{Name: PhaseImages, When: func(t *Target) bool { return deploy.HasNodes(t.Profile) }, Run: j.images, Gate: true},
		{Name: PhaseUp, Run: j.up, Gate: true},
		{Name: PhaseFootprint, When: bench, Run: j.footprint},
		{Name: PhaseConformance, When: func(*Target) bool { return !j.o.Conform.Skip }, Run: j.conformance},
		{Name: PhaseUpstream, When: func(*Target) bool { return j.runsUpstream() }, Run: j.upstream},
		{Name: PhaseBench, When: bench, Run: j.bench},
		{Name: PhaseDown, When: clusterUp, Run: down, Finally: true},
	}
}

// status passes a step's status lines to the progress printer.
func (j *mainJob) status(s string) { j.o.Progress.Status("%s", s) }

// build takes the given binary (inspecting it for its sizes) or builds
// k3lite; before it, the upstream suite's binaries when the job runs it.
func (j *mainJob) build(ctx context.Context, t *Target) error {
	o, p, rep := j.o, t.Profile, t.Report
	if j.runsUpstream() {
		// Before the cluster is up: a cold build of e2e.test takes
		// minutes, and a cluster would only idle meanwhile.
		b, err := j.upstreamBinaries(ctx)
		if err != nil {
			return err
		}
		j.e2e = b
	}
	if t.Binary != "" {
		rep.Params.Binary = t.Binary
		a, err := build.Inspect(ctx, build.Options{RepoRoot: o.RepoRoot, Arch: p.Spec.Arch, Log: o.Log, Progress: j.status}, t.Binary)
		if err != nil {
			return err
		}
		rep.Measurements = append(rep.Measurements, build.Measurements(a)...)
		return nil
	}
	a, err := build.Build(ctx, build.Options{
		RepoRoot: o.RepoRoot, Arch: p.Spec.Arch, Bundled: p.Spec.Bundled, Log: o.Log, Progress: j.status,
	})
	if err != nil {
		return err
	}
	t.Binary = a.Path
	rep.Params.Binary = a.Path
	rep.Measurements = append(rep.Measurements, build.Measurements(a)...)
	if a.Cached {
		o.Progress.Linef("k3lite %s (%s) from cache: %s", a.Version, a.Arch, a.Path)
	}
	return nil
}

// images builds (or finds cached) the images the nodes import.
func (j *mainJob) images(ctx context.Context, t *Target) error {
	imgs, err := NodeImages(ctx, j.o.RepoRoot, t.Profile.Spec.Arch, false, j.o.Log, j.status)
	if err != nil {
		return err
	}
	t.Images = imgs
	t.Report.Measurements = append(t.Report.Measurements, ImageMeasurements(imgs)...)
	return WriteImages(t.RunDir, imgs)
}

// up deploys the cluster and times it: the server to /readyz, then every
// node to Ready on the harness's clock.
func (j *mainJob) up(ctx context.Context, t *Target) error {
	o, p, rep := j.o, t.Profile, t.Report
	etcd, err := EtcdBinary(ctx, o.RepoRoot, p, o.Log, j.status)
	if err != nil {
		return err
	}
	nodes := &nodeTimer{ctx: ctx, timeout: nodeReadyTimeout(p.Spec.Arch)}
	defer nodes.stop()
	c, err := deploy.Up(ctx, deploy.Options{
		Profile: p, Binary: t.Binary, Datastore: p.Spec.Datastore.Type, Endpoint: p.Spec.Datastore.Endpoint,
		EtcdBinary: etcd, RunDir: t.RunDir, ImageTarballs: Tarballs(t.Images), Log: o.Log, Progress: j.status,
		APIReady: nodes.start,
	})
	if c != nil {
		t.Cluster = c
	}
	if err != nil {
		return err
	}
	rep.Measurements = append(rep.Measurements,
		result.NewMeasurement("startup.readyz", "seconds", map[string]string{"datastore": p.Spec.Datastore.Type, "start": "first"}, []float64{c.ReadyAfter.Seconds()}))
	recordVersions(rep, c)
	o.Progress.Linef("server ready after %.1fs; kubeconfig %s", c.ReadyAfter.Seconds(), c.Kubeconfig)
	plan := planNodes(c)
	if plan.Expected == 0 {
		return nil
	}
	o.Progress.Status("waiting for %d node(s) to be Ready", plan.Expected)
	ms, err := nodes.wait(ctx)
	rep.Measurements = append(rep.Measurements, ms...)
	return err
}

// footprint measures the fresh cluster at rest, before the suites load it.
func (j *mainJob) footprint(ctx context.Context, t *Target) error {
	ms, err := Footprint(ctx, t.Cluster, j.o.Bench, j.o.Progress)
	t.Report.Measurements = append(t.Report.Measurements, ms...)
	return err
}

// conformance runs our suites: the nodes suite (after the api suite) only
// when the cluster has nodes, its disruptive specs with the cluster as
// their node controller when it can stop and start agents.
func (j *mainJob) conformance(ctx context.Context, t *Target) error {
	o, c := j.o, t.Cluster
	plan := planNodes(c)
	tree, err := conformance.Run(ctx, conformance.Options{
		Suites: plan.suites(), NodeController: plan.Controller,
		Kubeconfig: c.Kubeconfig, LabelFilter: o.Conform.LabelFilter, Timeout: o.Conform.Timeout,
		TimeoutMultiplier: timeoutMultiplier(t.Profile.Spec.Arch),
		JUnitPath:         filepath.Join(t.RunDir, "ginkgo-junit.xml"), Log: o.Log,
		Progress: func(pr conformance.Progress) {
			o.Progress.Status("%s", pr)
		},
	})
	if tree != nil {
		t.Report.Tests = tree
	}
	if err != nil {
		return err
	}
	cnt := tree.Counts()
	o.Progress.Linef("conformance: %s", CountsLine(cnt))
	err = TestsVerdict(cnt)
	if err != nil && o.Conform.LabelFilter != "" {
		err = fmt.Errorf("%w (label filter %q)", err, o.Conform.LabelFilter)
	}
	return err
}

// bench measures the rest (the idle footprint was taken on the fresh
// cluster, before the suites).
func (j *mainJob) bench(ctx context.Context, t *Target) error {
	bo := j.o.Bench
	bo.SkipIdle = true
	ms, err := Bench(ctx, t.Cluster, bo, j.o.Log, j.o.Progress)
	t.Report.Measurements = append(t.Report.Measurements, ms...)
	return err
}

// down stops the cluster, on a run that failed or was interrupted after
// keeping the tail of the server's log for the report.
func down(ctx context.Context, t *Target) error {
	c := t.Cluster
	if !passed(t.Report) || t.interrupted {
		t.Report.ServerLogTail = c.LogTail(40)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return c.Down(ctx)
}

// Finish decides the report's status, writes it in every format under
// outBase/<run ID>/, points outBase/latest at it, and returns an error
// wrapping ErrRunFailed when the run did not pass.
func Finish(ctx context.Context, rep *result.Report, outBase string, log *slog.Logger) (*Outcome, error) {
	if log == nil {
		log = slog.Default()
	}
	decide(ctx, rep)
	out := &Outcome{Report: rep}
	dir := reports.OutputDir(outBase, rep)
	paths, err := reports.WriteAll(rep, dir)
	if err != nil {
		return out, fmt.Errorf("write report: %w", err)
	}
	out.Paths = paths
	if err := reports.LinkLatest(outBase, dir); err != nil {
		log.Warn("could not update the latest link", "err", err)
	}
	if rep.Status != result.StatusPassed {
		if cause := context.Cause(ctx); cause != nil {
			// Interrupted: the caller's exit code (130) needs the cause.
			return out, fmt.Errorf("%w: %s (report: %s): %w", ErrRunFailed, rep.Reason, paths.HTML, cause)
		}
		return out, fmt.Errorf("%w: %s (report: %s)", ErrRunFailed, rep.Reason, paths.HTML)
	}
	return out, nil
}

// TestsVerdict is the verdict on a test tree's counts, the same for every
// command that runs specs: nil only when no selected spec failed or errored
// and at least one passed (a run that passed nothing proves nothing).
func TestsVerdict(c result.Counts) error {
	if c.Failed+c.Errored > 0 {
		return fmt.Errorf("%d of %d specs failed (%d failed, %d errored)", c.Failed+c.Errored, c.Total(), c.Failed, c.Errored)
	}
	if c.Passed == 0 {
		return fmt.Errorf("no spec passed (%d selected, %d skipped, %d not selected)", c.Total(), c.Skipped, c.NotSelected)
	}
	return nil
}

// CountsLine is the one-line summary of a test tree's counts: what was
// selected, with errored specs and the not selected ones apart.
func CountsLine(c result.Counts) string {
	s := fmt.Sprintf("%d passed, %d failed, %d errored, %d skipped of %d selected", c.Passed, c.Failed, c.Errored, c.Skipped, c.Total())
	if c.NotSelected > 0 {
		s += fmt.Sprintf(" (%d not selected)", c.NotSelected)
	}
	return s
}

// RunID names a run started at started on a profile and datastore: the
// report's ID and the name of the run's directory (the main job's and the
// one 'distrobench up' makes), so a report and its cluster's logs are found
// by one name.
func RunID(started time.Time, profileName, datastore string) string {
	return fmt.Sprintf("%s-%s-%s", started.UTC().Format("20060102T150405Z"), profileName, datastore)
}

// NewReport starts a report for a command run against a profile.
func NewReport(command, profileName, datastore string, started time.Time, toolVersion string) *result.Report {
	rep := result.New(RunID(started, profileName, datastore), started)
	rep.Params.Command = redact.String(command)
	rep.Params.Profile = profileName
	rep.Params.Datastore = datastore
	rep.Host = host.Facts(context.Background())
	rep.Versions = result.Versions{Tool: toolVersion, Go: runtime.Version()}
	return rep
}

// decide sets the run's status: passed only when every phase passed, no
// test failed or errored (and, when the report has tests, at least one
// passed: see TestsVerdict), and every SLO was met.
func decide(ctx context.Context, rep *result.Report) {
	rep.FinishedAt = time.Now().UTC()
	rep.Status = result.StatusPassed
	var reasons []string
	if ctx.Err() != nil {
		reasons = append(reasons, "interrupted before the run finished")
	}
	for _, ph := range rep.Phases {
		if ph.Status != result.StatusPassed {
			reasons = append(reasons, fmt.Sprintf("phase %s: %s", ph.Name, ph.Error))
		}
	}
	if rep.Tests != nil {
		if err := TestsVerdict(rep.Tests.Counts()); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	for _, m := range rep.Measurements {
		if m.SLO != nil && !m.SLO.Met {
			reasons = append(reasons, sloReason(m))
		}
	}
	if len(reasons) > 0 {
		rep.Status = result.StatusFailed
		rep.Reason = reasons[0]
		if len(reasons) > 1 {
			rep.Reason += fmt.Sprintf(" (and %d more problems)", len(reasons)-1)
		}
	}
}

// recordVersions records the datastore's version and the version the
// cluster's API server reports.
func recordVersions(rep *result.Report, c *deploy.Cluster) {
	rep.Versions.Datastore = c.DatastoreVersion
	cfg, err := c.RESTConfig()
	if err != nil {
		return
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return
	}
	if v, err := dc.ServerVersion(); err == nil {
		rep.Versions.Distribution = v.GitVersion
		rep.Versions.Kubernetes = fmt.Sprintf("v%s.%s", v.Major, v.Minor)
	}
}

// Footprint measures the idle cluster: it waits until the cluster idles
// (measure.DefaultSettle, the one definition of idle), then samples the
// server's node, every agent node and the datastore servers in one window
// of o.IdleWindow. The main job calls it on a fresh cluster, before the
// suites load it, so "idle" means idle (the figure K3s users compare).
func Footprint(ctx context.Context, c *deploy.Cluster, o BenchOptions, pr *progress.Printer) ([]result.Measurement, error) {
	out, err := measure.Idle(ctx, measure.IdleOptions{
		Units: idleUnits(c), Settle: measure.DefaultSettle, Window: o.IdleWindow,
		Labels: map[string]string{"datastore": c.Datastore}, Progress: func(s string) { pr.Status("%s", s) },
	})
	if err != nil {
		return out, fmt.Errorf("idle footprint: %w", err)
	}
	return out, nil
}

// Bench measures a deployed cluster: idle footprint (unless SkipIdle),
// datastore size, API latency (with the harness's own overhead), when the
// cluster has nodes the agents' memory and pod startup latency (unless
// SkipPods), and, last because it restarts the server, start-to-/readyz and
// SIGTERM times.
func Bench(ctx context.Context, c *deploy.Cluster, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	if o.Repeats <= 0 {
		o.Repeats = 5
	}
	var out []result.Measurement
	labels := map[string]string{"datastore": c.Datastore}

	if !o.SkipIdle {
		ms, err := Footprint(ctx, c, o, pr)
		out = append(out, ms...)
		if err != nil {
			return out, err
		}
	}

	out = append(out, datastoreSize(ctx, c, c.Datastore, labels, log)...)

	cfg, err := c.RESTConfig()
	if err != nil {
		return out, err
	}
	ms, err := benchAPI(ctx, cfg, idleUnits(c), o, log, pr)
	out = append(out, ms...)
	if err != nil {
		return out, err
	}
	// Before the restarts below: they restart the server's own agent too.
	ms, err = benchNodes(ctx, c, planNodes(c), o, log, pr)
	out = append(out, ms...)
	if err != nil {
		return out, err
	}

	if o.SkipRestarts {
		return out, nil
	}
	pr.Status("restarting the server %d times for start-to-/readyz and SIGTERM times", o.Repeats)
	var stops []float64
	m, err := measure.ReadyzSamples(ctx, func(ctx context.Context) (time.Duration, error) {
		code, took, err := c.StopServer(ctx)
		if err != nil {
			return 0, fmt.Errorf("stop server: %w", err)
		}
		if code != 0 {
			return 0, fmt.Errorf("server exited with code %d on SIGTERM (want 0); see %s", code, c.LogPath)
		}
		stops = append(stops, took.Seconds())
		return c.StartServer(ctx)
	}, o.Repeats)
	if len(stops) > 0 {
		out = append(out, result.NewMeasurement("shutdown.sigterm", "seconds", labels, stops).
			WithSLO("max", 10, "k3lite server issue: stop within 10 s of SIGTERM"))
	}
	if err != nil {
		return out, fmt.Errorf("start-to-readyz: %w", err)
	}
	m.Labels = map[string]string{"datastore": c.Datastore, "start": "restart"}
	out = append(out, m)
	return out, nil
}

// nodeReadyTimeout bounds the wait for the nodes after the server is ready.
func nodeReadyTimeout(arch string) time.Duration {
	return time.Duration(float64(2*time.Minute) * timeoutMultiplier(arch))
}

// timeoutMultiplier stretches spec timeouts for an emulated architecture.
func timeoutMultiplier(arch string) float64 {
	if deploy.Emulated(arch) {
		return deploy.EmulationSlowdown
	}
	return 1
}

// sloReason says why a measurement missed its SLO; a figure that was not
// measured misses it with its reason, never with a made-up value.
func sloReason(m result.Measurement) string {
	if m.Missing != "" || m.Summary.Count == 0 {
		return fmt.Sprintf("SLO missed: %s %v not measured: %s", m.Name, m.Labels, m.Missing)
	}
	return fmt.Sprintf("SLO missed: %s %v %s %.3g > %.3g (n=%d)", m.Name, m.Labels, m.SLO.Statistic,
		m.Summary.Stat(m.SLO.Statistic), m.SLO.Threshold, m.Summary.Count)
}
