package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
	"github.com/distrobench/distrobench/reports"
	"github.com/distrobench/distrobench/suites/framework"
)

// target is a cluster to test: a run dir from 'up' (which allows footprint
// measurements) or any kubeconfig.
type target struct {
	runDir     runDirFlag
	kubeconfig string
	// cluster is the cluster from 'distrobench up' that resolve loaded
	// (nil with --kubeconfig).
	cluster *deploy.Cluster
}

func (t *target) bind(cmd *cobra.Command) {
	t.runDir.bind(cmd)
	cmd.Flags().StringVar(&t.kubeconfig, "kubeconfig", "", "test any cluster through this kubeconfig instead of the one from 'distrobench up'")
}

func newConformanceCmd(g *globals) *cobra.Command {
	var (
		t  target
		sf suiteFlags
		uf upstreamFlags
	)
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run our Ginkgo suites (suites/), or with --upstream the Kubernetes conformance suite, against a cluster and write a report",
		Long: `Run distrobench's own suites (registered: ` + fmt.Sprint(conformance.Suites()) + `) in-process
against the cluster from 'distrobench up' or any --kubeconfig. Specs carry labels
(api, datastore, slow, rbac, controllers, nodes, network, disruptive, ...) selected
with --label-filter. The nodes suite runs only on a cluster with nodes; its
disruptive specs stop and start node agents, which only works on a cluster from
'distrobench up' (with --kubeconfig deselect them: --label-filter '!disruptive').
Writes JUnit and the canonical JSON (plus HTML and Markdown) to reports/out/.

With --upstream, run the upstream Kubernetes [Conformance] suite instead: the
e2e.test binary of the Kubernetes version k3lite links, driven by the ginkgo CLI
(both from 'make -C distro e2e', built here when missing). --mode quick runs
sonobuoy's quick spec, core a fixed subset touching every SIG (a few minutes),
certified all [Conformance] specs (parallel-safe ones on --procs processes, then
the [Serial] ones on one, as sonobuoy's certified-conformance runs them).
--rerun-failed REPORT.json runs only the specs that failed in an earlier report.
Every [Conformance] spec is in the report: those the run did not select as
"not selected", with why (counted apart: pass rates are over the selected ones).
JUnit and the ginkgo log of each pass land in the report directory's upstream/.

With --runner sonobuoy, sonobuoy (v0.57.3, through its Go client) runs the
suite inside the cluster instead, as on a real k3s/rke2 fleet that can pull
images: run, status every 30 s, retrieve; the results tarball is kept next to
the report and imported into the same report tree. On a k3lite cluster from
'distrobench up --sonobuoy-images' its two images are pre-imported.`,
		Example: `  distrobench conformance --label-filter 'api && !slow'
  distrobench conformance --kubeconfig ~/.kube/config
  distrobench conformance --upstream --mode quick
  distrobench conformance --upstream --mode certified --procs 8
  distrobench conformance --upstream --rerun-failed reports/out/latest/report.json
  distrobench conformance --runner sonobuoy --kubeconfig ~/.kube/config --mode certified-conformance`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := uf.validate(cmd); err != nil {
				return err
			}
			if uf.runner == runnerSonobuoy {
				return runSonobuoy(cmd, g, &t, &uf)
			}
			if uf.upstream {
				return runUpstream(cmd, g, &t, &sf, &uf)
			}
			ctx := cmd.Context()
			kc, name, ds, err := t.resolve(g)
			if err != nil {
				return err
			}
			suites, nc, err := t.nodeSetup(ctx, g, kc)
			if err != nil {
				return err
			}
			rep := job.NewReport(commandLine(cmd), name, ds, time.Now(), Version)
			rep.Params.LabelFilter = sf.labelFilter
			pr := progress.New(g.stderr)
			pr.Phase(job.PhaseConformance)
			start := time.Now()
			tree, err := conformance.Run(ctx, conformance.Options{
				Kubeconfig: kc, LabelFilter: sf.labelFilter, Timeout: sf.timeout, Log: g.log,
				Suites: suites, NodeController: nc,
				Progress: func(p conformance.Progress) {
					pr.Status("%s", p)
				},
			})
			rep.Tests = tree
			return finishReport(ctx, g, rep, job.PhaseConformance, start, err)
		},
	}
	t.bind(cmd)
	sf.bind(cmd.Flags())
	uf.bind(cmd.Flags())
	return cmd
}

// upstreamFlags select and size a run of the upstream conformance suite.
type upstreamFlags struct {
	upstream    bool
	mode        string
	procs       int
	rerunFailed string
	focus, skip string
	kubectl     string
	// runner "sonobuoy" drives sonobuoy instead of e2e.test (sonobuoy.go).
	runner string
	sb     sonobuoyFlags
}

func (f *upstreamFlags) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&f.upstream, "upstream", false, "run the upstream Kubernetes [Conformance] suite (e2e.test + ginkgo) instead of our suites")
	fs.StringVar(&f.mode, "mode", string(upstream.ModeCore), "with --upstream: quick (sonobuoy's one-spec smoke test), core (a fixed subset touching every SIG) or certified (all [Conformance] specs)")
	fs.IntVar(&f.procs, "procs", 0, fmt.Sprintf("with --upstream: parallel e2e.test processes for the parallel-safe specs (default 2 x CPUs, 4..16: %d here)", upstream.DefaultProcs()))
	fs.StringVar(&f.rerunFailed, "rerun-failed", "", "with --upstream: run only the upstream specs that failed or errored in this distrobench report.json")
	fs.StringVar(&f.focus, "focus", "", "with --upstream: run the [Conformance] specs whose full name matches this regexp (replaces --mode)")
	fs.StringVar(&f.skip, "skip", "", "with --upstream: skip the specs whose full name matches this regexp")
	fs.StringVar(&f.kubectl, "kubectl", "", "with --upstream: kubectl for the sig-cli specs (default: the cluster's k3lite as kubectl, else k3lite from distro/_output, else kubectl in PATH)")
	fs.StringVar(&f.runner, "runner", runnerE2E, "upstream suite runner: e2e (e2e.test + ginkgo from this machine, air-gapped) or sonobuoy (sonobuoy's pods in the cluster, which must pull or hold its images; implies --upstream; --mode then takes sonobuoy's modes: "+sonobuoyModes()+")")
	f.sb.bind(fs)
}

// validate rejects upstream-only flags without --upstream and our suites'
// --label-filter with it, instead of silently ignoring them.
func (f *upstreamFlags) validate(cmd *cobra.Command) error {
	switch f.runner {
	case runnerE2E:
	case runnerSonobuoy:
		return f.validateSonobuoy(cmd)
	default:
		return fmt.Errorf("--runner %q: want %s or %s", f.runner, runnerE2E, runnerSonobuoy)
	}
	if changed := changedOf(cmd, sonobuoyOnlyFlags); changed != "" {
		return fmt.Errorf("--%s applies to the sonobuoy runner: add --runner sonobuoy", changed)
	}
	only := []string{"mode", "procs", "rerun-failed", "focus", "skip", "kubectl"}
	if !f.upstream {
		for _, n := range only {
			if cmd.Flags().Changed(n) {
				return fmt.Errorf("--%s applies to the upstream suite: add --upstream", n)
			}
		}
		return nil
	}
	if cmd.Flags().Changed("label-filter") {
		return fmt.Errorf("--label-filter selects our suites' specs; with --upstream select with --mode, --focus and --skip")
	}
	if _, err := upstream.ParseMode(f.mode); err != nil {
		return err
	}
	if f.procs < 0 {
		return fmt.Errorf("--procs %d: want 1 or more (0: automatic)", f.procs)
	}
	return nil
}

// runUpstream runs the upstream conformance suite and writes the report: the
// tree under upstream.RootName, JUnit and ginkgo logs next to the report.
func runUpstream(cmd *cobra.Command, g *globals, t *target, sf *suiteFlags, uf *upstreamFlags) error {
	ctx := cmd.Context()
	kc, name, ds, err := t.resolve(g)
	if err != nil {
		return err
	}
	mode, _ := upstream.ParseMode(uf.mode)
	o := upstream.Options{
		Kubeconfig: kc, Mode: mode, Focus: uf.focus, Skip: uf.skip, Procs: uf.procs, Log: g.log,
		KubectlPath: uf.kubectl,
	}
	if uf.rerunFailed != "" {
		prev, err := result.Load(uf.rerunFailed)
		if err != nil {
			return fmt.Errorf("--rerun-failed: %w", err)
		}
		specs, err := upstream.FailedSpecs(prev, uf.rerunFailed)
		if err != nil {
			return fmt.Errorf("--rerun-failed: %w", err)
		}
		o.Specs, o.NotSelectedReason = specs, upstream.RerunReason(len(specs), uf.rerunFailed)
	}
	if cmd.Flags().Changed("suite-timeout") {
		o.Timeout = sf.timeout
	}

	// What the run selects, for the report and the status line.
	selection := string(mode)
	switch {
	case uf.rerunFailed != "":
		selection = "rerun-failed"
	case uf.focus != "":
		selection = "focus"
	}
	rep := job.NewReport(commandLine(cmd), name, ds, time.Now(), Version)
	extra := map[string]string{"suite": "upstream", "mode": selection}
	if uf.focus != "" {
		extra["focus"] = uf.focus
	}
	if uf.skip != "" {
		extra["skip"] = uf.skip
	}
	if uf.rerunFailed != "" {
		extra["rerunFailed"] = uf.rerunFailed
		extra["rerunSpecs"] = fmt.Sprint(len(o.Specs))
	}
	rep.Params.Extra = extra
	o.OutDir = filepath.Join(reports.OutputDir(g.outBase(), rep), "upstream")

	pr := progress.New(g.stderr)
	pr.Phase(job.PhaseUpstream)
	start := time.Now()
	bins, err := upstream.EnsureBinaries(ctx, upstream.EnsureOptions{
		RepoRoot: g.repoRoot, Arch: runtime.GOARCH, Build: true, Log: g.log,
		Progress: func(s string) { pr.Status("%s", s) },
	})
	if err != nil {
		return finishReport(ctx, g, rep, job.PhaseUpstream, start, err)
	}
	o.E2ETest, o.Ginkgo = bins.E2ETest, bins.Ginkgo
	if o.KubectlPath == "" {
		o.KubectlPath = upstream.ClusterKubectl(filepath.Join(o.OutDir, "bin"), g.log, t.clusterBinary(), bins.K3lite)
	}
	rep.Params.Binary = o.E2ETest
	pr.Status("upstream conformance: %s, e2e.test %s", selection, o.E2ETest)
	o.Progress = func(p upstream.Progress) { pr.Status("%s", p) }
	rep.Measurements = append(rep.Measurements, t.clusterImages(g)...)
	tree, err := upstream.Run(ctx, o)
	rep.Tests = tree
	return finishReport(ctx, g, rep, job.PhaseUpstream, start, err)
}

func newBenchCmd(g *globals) *cobra.Command {
	var (
		t  target
		bf benchFlags
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure footprint and API latency of a cluster and write a report",
		Long: `Measure the cluster from 'distrobench up': the idle footprint of every node
(its own cgroup: server or agent, containerd, shims; pods apart) and of the
datastore servers in one settled window; the datastore's size as the datastore
reports it; API latency (create/get/list/update/delete of ConfigMaps from a
closed loop of --api-concurrency workers or an open loop of --api-rate
requests/s, with no client-side throttling; nearest-rank p99 against the
Kubernetes API SLOs, the error rate against --api-error-budget, offered and
achieved rates) with the harness's own overhead; on a cluster with nodes, pod
startup latency (30 pause pods, SLO p99 <= 5 s); and start-to-/readyz and
SIGTERM times over server restarts. With --kubeconfig only the API latency is
measured (the processes are not ours to watch or restart). Every figure is
described in reports/METHOD.md.`,
		Example: `  distrobench bench --repeats 3 --idle-window 30s
  distrobench bench --kubeconfig ~/.kube/config --api-concurrency 16
  distrobench bench --kubeconfig ~/.kube/config --api-rate 500 --api-error-budget 0.001`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bf.validate(cmd.Flags()); err != nil {
				return err
			}
			ctx := cmd.Context()
			pr := progress.New(g.stderr)
			pr.Phase(job.PhaseBench)
			start := time.Now()
			var (
				rep *result.Report
				ms  []result.Measurement
				err error
			)
			if t.kubeconfig != "" {
				rep = job.NewReport(commandLine(cmd), "kubeconfig", "unknown", time.Now(), Version)
				cfg, cerr := clientcmd.BuildConfigFromFlags("", t.kubeconfig)
				if cerr != nil {
					return fmt.Errorf("kubeconfig %s: %w", t.kubeconfig, cerr)
				}
				ms, err = job.BenchKubeconfig(ctx, cfg, bf.o, g.log, pr)
			} else {
				c, lerr := t.runDir.load(g)
				if lerr != nil {
					return lerr
				}
				rep = job.NewReport(commandLine(cmd), c.Profile, c.Datastore, time.Now(), Version)
				// The server of a cluster from 'up' cannot be restarted from
				// here (its join token is not stored), so no restart figures.
				o := bf.o
				o.SkipRestarts = true
				ms, err = job.Bench(ctx, c, o, g.log, pr)
			}
			rep.Params.Repeats = bf.o.Repeats
			rep.Measurements = ms
			return finishReport(ctx, g, rep, job.PhaseBench, start, err)
		},
	}
	t.bind(cmd)
	bf.bind(cmd.Flags())
	return cmd
}

// nodeSetup picks the suites for the target cluster (the nodes suite only
// when it has nodes) and, for a cluster from 'up', the controller that stops
// and starts its agents.
func (t *target) nodeSetup(ctx context.Context, g *globals, kubeconfig string) ([]string, framework.NodeController, error) {
	if t.kubeconfig == "" {
		c, err := t.runDir.load(g)
		if err != nil {
			return nil, nil, err
		}
		return job.NodeSetup(c), nil, nil
	}
	n, err := conformance.CountNodes(ctx, kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	if n == 0 {
		g.log.Info("the cluster has no nodes: the nodes suite is not run", "suites", conformance.SuitesFor(0))
	}
	return conformance.SuitesFor(n), nil, nil
}

func (t *target) resolve(g *globals) (kubeconfig, name, datastore string, err error) {
	if t.kubeconfig != "" {
		if _, err := os.Stat(t.kubeconfig); err != nil {
			return "", "", "", fmt.Errorf("kubeconfig: %w", err)
		}
		return t.kubeconfig, "kubeconfig", "unknown", nil
	}
	c, err := t.runDir.load(g)
	if err != nil {
		return "", "", "", err
	}
	t.cluster = c
	return c.Kubeconfig, c.Profile, c.Datastore, nil
}

// clusterBinary is the distribution binary of the cluster from 'up' ("" with
// --kubeconfig).
func (t *target) clusterBinary() string {
	if t.cluster == nil {
		return ""
	}
	return t.cluster.Binary
}

// clusterImages returns the measurements naming the images the nodes of the
// cluster from 'up' (as resolve loaded it) imported; none for --kubeconfig:
// distrobench cannot know what a foreign cluster holds.
func (t *target) clusterImages(g *globals) []result.Measurement {
	if t.cluster == nil {
		return nil
	}
	imgs, err := job.ReadImages(t.cluster.RunDir)
	if err != nil {
		g.log.Warn("could not read the cluster's image list", "err", err)
		return nil
	}
	return job.ImageMeasurements(imgs)
}

func phaseOf(name string, start time.Time, err error) result.Phase {
	ph := result.Phase{Name: name, Status: result.StatusPassed, StartedAt: start.UTC(), DurationSeconds: time.Since(start).Seconds()}
	if err != nil {
		ph.Status = result.StatusFailed
		ph.Error = redact.String(err.Error())
	}
	return ph
}

// finishReport records the command's phase, writes the report in every
// format and prints where it is. The verdict is job.Finish's, as for the
// main job: a failed phase is a run that completed and failed (exit 1, the
// phase's error in the reason), an interrupted one exits 130; only a report
// that could not be written is a setup error.
func finishReport(ctx context.Context, g *globals, rep *result.Report, phase string, start time.Time, err error) error {
	rep.Phases = append(rep.Phases, phaseOf(phase, start, err))
	out, ferr := job.Finish(ctx, rep, g.outBase(), g.log)
	if out != nil && out.Paths.Dir != "" {
		printOutcome(g, out)
	}
	return ferr
}
