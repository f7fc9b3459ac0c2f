package job

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/internal/upstream"
	"github.com/distrobench/distrobench/reports"
)

// PhaseUpstream runs the upstream Kubernetes [Conformance] suite (e2e.test)
// after our suites, in the mode ConformanceOptions.Upstream names.
const PhaseUpstream = "upstream-conformance"

// upstreamBinaries builds (when missing) the e2e.test and ginkgo of the host's
// architecture: the suite is a client and runs on this machine whatever the
// cluster's architecture.
func (j *mainJob) upstreamBinaries(ctx context.Context) (upstream.Binaries, error) {
	return upstream.EnsureBinaries(ctx, upstream.EnsureOptions{
		RepoRoot: j.o.RepoRoot, Arch: runtime.GOARCH, Build: true, Log: j.o.Log, Progress: j.bringUp.status,
	})
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
	outDir := filepath.Join(reports.OutputDir(o.OutBase, rep), "upstream")
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
