package job

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
	"github.com/distrobench/distrobench/reports"
)

// upstreamBinaries builds (when missing) the e2e.test and ginkgo of the host's
// architecture: the suite is a client and runs on this machine whatever the
// cluster's architecture.
func upstreamBinaries(ctx context.Context, e Env) (upstream.Binaries, error) {
	return upstream.EnsureBinaries(ctx, upstream.EnsureOptions{
		RepoRoot: e.RepoRoot, Arch: runtime.GOARCH, Build: true, Log: e.Log,
		Progress: func(s string) { e.Progress.Status("%s", s) },
	})
}

// upstreamDir is where a run's upstream suite writes its JUnit and ginkgo
// logs: upstream/ in the report's directory.
func upstreamDir(outBase string, rep *result.Report) string {
	return filepath.Join(reports.OutputDir(outBase, rep), "upstream")
}

// runsUpstream reports whether the job runs the upstream suite: a mode is
// chosen and the suites are not skipped.
func (j *mainJob) runsUpstream() bool { return j.o.Conform.Upstream != "" && !j.o.Conform.Skip }

// upstream runs the suite against the cluster and hangs its tree under the
// report's test tree, next to our suites. A cluster without nodes cannot run
// pods, so there the subtree is one skipped item saying so.
func (j *mainJob) upstream(ctx context.Context, t *Target) error {
	o, rep := j.o, t.Report
	if planNodes(t.Cluster).Expected == 0 {
		addTests(rep, result.Item{
			Name: upstream.RootName, Status: result.StatusSkipped,
			Message: "not run: the cluster has no nodes (a control-plane-only server cannot run the suite's pods)",
		})
		o.Progress.Linef("upstream conformance: skipped, the cluster has no nodes")
		return nil
	}
	outDir := upstreamDir(o.OutBase, rep)
	uo := upstream.Options{
		Kubeconfig: t.Cluster.Kubeconfig, E2ETest: j.e2e.E2ETest, Ginkgo: j.e2e.Ginkgo,
		Mode: o.Conform.Upstream, Procs: o.Conform.UpstreamProcs, OutDir: outDir, Log: o.Log,
		Progress: func(p upstream.Progress) { o.Progress.Status("%s", p) },
	}
	uo.KubectlPath = upstream.ClusterKubectl(filepath.Join(outDir, "bin"), o.Log, t.Binary)
	tree, err := upstream.Run(ctx, uo)
	if tree != nil {
		addTests(rep, *tree)
	}
	if err != nil {
		return err
	}
	cnt := tree.Counts()
	o.Progress.Linef("upstream conformance (%s): %s", o.Conform.Upstream, CountsLine(cnt))
	if cnt.Failed+cnt.Errored > 0 {
		return fmt.Errorf("%d upstream [Conformance] specs failed (rerun them: distrobench conformance --upstream --rerun-failed %s)",
			cnt.Failed+cnt.Errored, filepath.Join(reports.OutputDir(o.OutBase, rep), "report.json"))
	}
	if err := TestsVerdict(cnt); err != nil {
		return fmt.Errorf("upstream mode %s: %w", o.Conform.Upstream, err)
	}
	return nil
}

// addTests adds a suite's tree to rep: the first becomes the root, a
// later one (the upstream suite after ours) becomes a child of it.
func addTests(rep *result.Report, it result.Item) {
	if rep.Tests == nil {
		rep.Tests = &result.Item{Name: "conformance", Items: []result.Item{it}}
		rep.Tests.RollUp()
		return
	}
	rep.Tests.Items = append(rep.Tests.Items, it)
	rep.Tests.DurationSeconds = 0 // RollUp sums the children again
	rep.Tests.RollUp()
}

// UpstreamOptions select the upstream [Conformance] specs that
// 'conformance --upstream' runs on an existing cluster.
type UpstreamOptions struct {
	Mode        upstream.Mode
	Focus, Skip string // regexps on the specs' full names (Focus replaces Mode)
	Procs       int    // parallel e2e.test processes (0: upstream.DefaultProcs)
	Kubectl     string // kubectl for the sig-cli specs ("": the cluster's)
	// RerunFailed is a distrobench report.json whose failed and errored
	// upstream specs are run again (replaces Mode and Focus).
	RerunFailed string
	Timeout     time.Duration // time limit of the suite (0: upstream's)
}

// selection names what the run selects, for the report and the status line.
func (u UpstreamOptions) selection() string {
	switch {
	case u.RerunFailed != "":
		return "rerun-failed"
	case u.Focus != "":
		return "focus"
	}
	return string(u.Mode)
}

// params are the report's parameters of the run (rerunSpecs: how many
// specs a rerun selects).
func (u UpstreamOptions) params(rerunSpecs int) map[string]string {
	extra := map[string]string{"suite": "upstream", "mode": u.selection()}
	if u.Focus != "" {
		extra["focus"] = u.Focus
	}
	if u.Skip != "" {
		extra["skip"] = u.Skip
	}
	if u.RerunFailed != "" {
		extra["rerunFailed"] = u.RerunFailed
		extra["rerunSpecs"] = fmt.Sprint(rerunSpecs)
	}
	return extra
}

// options are upstream.Run's options for t, the specs of a rerun included.
func (u UpstreamOptions) options(t *Target, log *slog.Logger) (upstream.Options, error) {
	o := upstream.Options{
		Kubeconfig: t.kubeconfig(), Mode: u.Mode, Focus: u.Focus, Skip: u.Skip, Procs: u.Procs, Log: log,
		KubectlPath: u.Kubectl, Timeout: u.Timeout,
	}
	if u.RerunFailed == "" {
		return o, nil
	}
	prev, err := result.Load(u.RerunFailed)
	if err != nil {
		return o, fmt.Errorf("--rerun-failed: %w", err)
	}
	specs, err := upstream.FailedSpecs(prev, u.RerunFailed)
	if err != nil {
		return o, fmt.Errorf("--rerun-failed: %w", err)
	}
	o.Specs, o.NotSelectedReason = specs, upstream.RerunReason(len(specs), u.RerunFailed)
	return o, nil
}

// Upstream runs the upstream [Conformance] suite (e2e.test and ginkgo,
// built here when missing) on t and writes the report: the tree under
// upstream.RootName, JUnit and the ginkgo logs in the report directory's
// upstream/.
func Upstream(ctx context.Context, e Env, t *Target, u UpstreamOptions) (*Outcome, error) {
	o, err := u.options(t, e.Log)
	if err != nil {
		return nil, err
	}
	rep := startReport(e, t)
	rep.Params.Extra = u.params(len(o.Specs))
	o.OutDir = upstreamDir(e.OutBase, rep)
	return runJob(ctx, e, t, []Phase{{Name: PhaseUpstream, Run: func(ctx context.Context, t *Target) error {
		bins, err := upstreamBinaries(ctx, e)
		if err != nil {
			return err
		}
		o.E2ETest, o.Ginkgo = bins.E2ETest, bins.Ginkgo
		if o.KubectlPath == "" {
			o.KubectlPath = upstream.ClusterKubectl(filepath.Join(o.OutDir, "bin"), e.Log, t.Binary, bins.K3lite)
		}
		t.Report.Params.Binary = o.E2ETest
		e.Progress.Status("upstream conformance: %s, e2e.test %s", u.selection(), o.E2ETest)
		o.Progress = func(p upstream.Progress) { e.Progress.Status("%s", p) }
		t.Report.Measurements = append(t.Report.Measurements, clusterImages(t, e.Log)...)
		tree, err := upstream.Run(ctx, o)
		t.Report.Tests = tree
		return err
	}}})
}
