package job

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/distrobench/distrobench/internal/deploy"
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
func (r *runner) upstreamBinaries(ctx context.Context) (upstream.Binaries, error) {
	return upstream.EnsureBinaries(ctx, upstream.EnsureOptions{
		RepoRoot: r.o.RepoRoot, Arch: runtime.GOARCH, Build: true, Log: r.log,
		Progress: func(s string) { r.o.Progress.Status("%s", s) },
	})
}

// runUpstream runs the suite against the cluster and hangs its tree under the
// report's test tree, next to our suites. A cluster without nodes cannot run
// pods, so there the subtree is one skipped item saying so.
func (r *runner) runUpstream(ctx context.Context, c *deploy.Cluster, bins upstream.Binaries, binary string) error {
	o := r.o
	if planNodes(c).Expected == 0 {
		r.addTests(result.Item{
			Name: upstream.RootName, Status: result.StatusSkipped,
			Message: "not run: the cluster has no nodes (a control-plane-only server cannot run the suite's pods)",
		})
		o.Progress.Linef("upstream conformance: skipped, the cluster has no nodes")
		return nil
	}
	outDir := filepath.Join(reports.OutputDir(o.OutBase, r.rep), "upstream")
	uo := upstream.Options{
		Kubeconfig: c.Kubeconfig, E2ETest: bins.E2ETest, Ginkgo: bins.Ginkgo,
		Mode: o.Conform.Upstream, Procs: o.Conform.UpstreamProcs, OutDir: outDir, Log: r.log,
		Progress: func(p upstream.Progress) { o.Progress.Status("%s", p) },
	}
	uo.KubectlPath = upstream.ClusterKubectl(filepath.Join(outDir, "bin"), r.log, binary)
	tree, err := upstream.Run(ctx, uo)
	if tree != nil {
		r.addTests(*tree)
	}
	if err != nil {
		return err
	}
	cnt := tree.Counts()
	o.Progress.Linef("upstream conformance (%s): %s", o.Conform.Upstream, CountsLine(cnt))
	if cnt.Failed+cnt.Errored > 0 {
		return fmt.Errorf("%d upstream [Conformance] specs failed (rerun them: distrobench conformance --upstream --rerun-failed %s)",
			cnt.Failed+cnt.Errored, filepath.Join(reports.OutputDir(o.OutBase, r.rep), "report.json"))
	}
	if err := TestsVerdict(cnt); err != nil {
		return fmt.Errorf("upstream mode %s: %w", o.Conform.Upstream, err)
	}
	return nil
}

// addTests adds a suite's tree to the report: the first becomes the root, a
// later one (the upstream suite after ours) becomes a child of it.
func (r *runner) addTests(it result.Item) {
	if r.rep.Tests == nil {
		r.rep.Tests = &result.Item{Name: "conformance", Items: []result.Item{it}}
		r.rep.Tests.RollUp()
		return
	}
	r.rep.Tests.Items = append(r.rep.Tests.Items, it)
	r.rep.Tests.DurationSeconds = 0 // RollUp sums the children again
	r.rep.Tests.RollUp()
}
