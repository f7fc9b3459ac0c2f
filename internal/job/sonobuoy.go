package job

import (
	"context"
	"path/filepath"

	"github.com/distrobench/distrobench/internal/sonobuoy"
	"github.com/distrobench/distrobench/reports"
)

// Runners of the upstream suite: e2e.test and ginkgo from this machine
// (Upstream), or sonobuoy's pods in the cluster (Sonobuoy).
const (
	RunnerE2E      = "e2e"
	RunnerSonobuoy = "sonobuoy"
)

// Sonobuoy runs the upstream suite through sonobuoy on t and writes the
// report; the results tarball lands in the report directory's sonobuoy/.
// o's kubeconfig, log, output directory and progress are t's and e's.
func Sonobuoy(ctx context.Context, e Env, t *Target, o sonobuoy.Options) (*Outcome, error) {
	o.Kubeconfig, o.Log = t.kubeconfig(), e.Log
	mode := o.Mode
	if mode == "" {
		mode = sonobuoy.DefaultMode
	}
	rep := startReport(e, t)
	rep.Params.Extra = map[string]string{"suite": "upstream", "runner": RunnerSonobuoy, "mode": string(mode)}
	o.OutDir = filepath.Join(reports.OutputDir(e.OutBase, rep), "sonobuoy")
	o.Progress = func(line string) { e.Progress.Status("%s", line) }
	return runJob(ctx, e, t, []Phase{{Name: PhaseUpstream, Run: func(ctx context.Context, t *Target) error {
		e.Progress.Status("sonobuoy %s", mode)
		t.Report.Measurements = append(t.Report.Measurements, clusterImages(t, e.Log)...)
		tree, err := sonobuoy.Run(ctx, o)
		t.Report.Tests = tree
		return err
	}}})
}
