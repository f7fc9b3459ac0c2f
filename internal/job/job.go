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
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/distrobench/distrobench/internal/build"
	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/livemetrics"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
	"k8s.io/client-go/discovery"
)

// Phase names, in order. The commands on an existing cluster record theirs
// under the same names.
const (
	PhaseBuild       = "build"
	PhaseImages      = "images" // only for clusters with nodes
	PhaseUp          = "up"
	PhaseFootprint   = "footprint"
	PhaseConformance = "conformance"
	// PhaseUpstream runs the upstream Kubernetes [Conformance] suite
	// (e2e.test, or sonobuoy on an existing cluster) after our suites.
	PhaseUpstream = "upstream-conformance"
	PhaseBench    = "bench"
	PhaseDown     = "down"
)

// Env is what every job needs around its phases: the source tree, where
// reports go, what the report says ran, and where to log and show progress.
type Env struct {
	RepoRoot string
	OutBase  string // reports/out
	ToolVer  string
	Command  string // the command line, for the report (redacted there)
	Log      *slog.Logger
	Progress *progress.Printer
	// Metrics, when set, exposes the run live to Prometheus (--metrics-addr).
	Metrics *livemetrics.Metrics
}

// specs shows a suite's progress: the status line and the live metrics.
func (e Env) specs(p conformance.Progress) {
	e.Progress.Status("%s", p)
	e.Metrics.Specs(p.Total, p.Done, p.Passed, p.Failed, p.Skipped)
}

// Options of the main job.
type Options struct {
	Env
	Profile *profile.Profile // loaded, overrides applied, defaulted, validated
	RunsDir string           // where run directories go (state, data, logs)
	Conform ConformanceOptions
	Bench   BenchOptions
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
	// SettleMin is the least time the cluster is watched before a figure
	// taken at rest, the idle footprint and the API load (zero:
	// measure.DefaultSettle's); the rest of the rule stays the harness's.
	SettleMin time.Duration
	// Settle is how the API benchmark waits for rest before its load (zero:
	// the idle rule, idleSettle).
	Settle measure.Settle
	// Prometheus, when its URL is set, is where the chatter figures'
	// apiserver counters are read (--prometheus-url) instead of the
	// apiserver's own /metrics.
	Prometheus chatter.PrometheusOptions
}

// idleSettle is the harness's definition of idle with o.SettleMin.
func (o BenchOptions) idleSettle() measure.Settle {
	s := measure.DefaultSettle
	if o.SettleMin > 0 {
		s.Min = o.SettleMin
	}
	return s
}

// settle is how the API benchmark reaches rest: o.Settle, or idleSettle.
func (o BenchOptions) settle() measure.Settle {
	if o.Settle == (measure.Settle{}) {
		return o.idleSettle()
	}
	return o.Settle
}

// Run executes the main job. It returns the report in every case where one
// could be written, and an error when the run did not pass.
func Run(ctx context.Context, o Options) (*Outcome, error) {
	t, err := newRunTarget(o)
	if err != nil {
		return nil, err
	}
	return runJob(ctx, o.Env, t, newMainJob(o).phases())
}

// runJob runs phases on t and then writes t's report, whatever the phases
// did (failed, interrupted): the main job and every command on a cluster
// make their reports and progress this one way.
func runJob(ctx context.Context, e Env, t *Target, phases []Phase) (*Outcome, error) {
	newRunner(e.Progress, e.Log, e.Metrics).run(ctx, t, phases)
	return Finish(ctx, t.Report, e.OutBase, e.Log)
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
	runDir, err := makeRunDir(o.RunsDir, rep.RunID)
	if err != nil {
		return nil, err
	}
	return &Target{Profile: p, RunDir: runDir, Report: rep}, nil
}

// mainJob is the main job's phase table and what its phases share.
type mainJob struct {
	o Options
	// bringUp makes the binary, the node images and the cluster.
	bringUp BringUp
	// e2e are the upstream suite's binaries, built in the build phase.
	e2e upstream.Binaries
}

func newMainJob(o Options) *mainJob {
	return &mainJob{o: o, bringUp: BringUp{RepoRoot: o.RepoRoot, Log: o.Log, Progress: o.Progress, InspectBinary: true, ChatterProxies: true}}
}

// phases is the main job: build -> images -> up -> footprint ->
// conformance -> upstream -> bench, then down. Nothing runs on a cluster
// that did not come up; footprint samples the fresh, idle cluster before
// the suites load it.
func (j *mainJob) phases() []Phase {
	bench := func(*Target) bool { return !j.o.Bench.Skip }
	return []Phase{
		{Name: PhaseBuild, Run: j.build, Gate: true},
		{Name: PhaseImages, When: hasNodes, Run: j.images, Gate: true},
		{Name: PhaseUp, Run: j.up, Gate: true},
		{Name: PhaseFootprint, When: bench, Run: j.footprint},
		{Name: PhaseConformance, When: func(*Target) bool { return !j.o.Conform.Skip }, Run: j.conformance},
		{Name: PhaseUpstream, When: func(*Target) bool { return j.runsUpstream() }, Run: j.upstream},
		{Name: PhaseBench, When: bench, Run: j.bench},
		{Name: PhaseDown, When: clusterUp, Run: down, Finally: true},
	}
}

// build builds k3lite or takes the profile's binary (inspecting it for its
// sizes); before it, the upstream suite's binaries when the job runs it.
func (j *mainJob) build(ctx context.Context, t *Target) error {
	if j.runsUpstream() {
		// Before the cluster is up: a cold build of e2e.test takes
		// minutes, and a cluster would only idle meanwhile.
		b, err := upstreamBinaries(ctx, j.o.Env)
		if err != nil {
			return err
		}
		j.e2e = b
	}
	a, err := j.bringUp.Binary(ctx, t)
	t.Report.Params.Binary = t.Binary
	if err != nil {
		return err
	}
	t.Report.Measurements = append(t.Report.Measurements, build.Measurements(a)...)
	if t.Profile.Spec.Bundled != nil && a.Cached {
		j.o.Progress.Linef("k3lite %s (%s) from cache: %s", a.Version, a.Arch, a.Path)
	}
	return nil
}

// images builds (or finds cached) the images the nodes import.
func (j *mainJob) images(ctx context.Context, t *Target) error {
	err := j.bringUp.Images(ctx, t)
	t.Report.Measurements = append(t.Report.Measurements, ImageMeasurements(t.Images)...)
	return err
}

// up deploys the cluster and times it: the server to /readyz, then every
// node to Ready on the harness's clock.
func (j *mainJob) up(ctx context.Context, t *Target) error {
	o, p, rep := j.o, t.Profile, t.Report
	nodes := &nodeTimer{ctx: ctx, timeout: nodeReadyTimeout(p.Spec.Arch)}
	defer nodes.stop()
	if err := j.bringUp.Deploy(ctx, t, nodes.start); err != nil {
		return err
	}
	c := t.Cluster
	rep.Measurements = append(rep.Measurements,
		withReadyPoll(result.NewMeasurement("startup.readyz", "seconds", map[string]string{"datastore": p.Spec.Datastore.Type, "start": "first"}, []float64{c.ReadyAfter.Seconds()})))
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
	ms, err := Footprint(ctx, t.Cluster, j.o.Bench, j.o.Log, j.o.Progress)
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
		Progress: o.specs,
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
		t.Report.ServerLogTail = c.LogTail(deploy.ReportTailLines)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return c.Down(ctx)
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
