package job

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/result"
)

// The commands on an existing cluster (conformance, conformance --upstream,
// bench) run one phase through the main job's runner (runJob), so their
// reports, verdicts and progress are made as the main job's are.

// OpenTarget returns the cluster a command acts on: any cluster through
// kubeconfig when it is given, else the one 'distrobench up' left running
// in runDir (default the current run: LoadRun).
func OpenTarget(runsDir, runDir, kubeconfig string) (*Target, error) {
	if kubeconfig != "" {
		if _, err := os.Stat(kubeconfig); err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		return &Target{Kubeconfig: kubeconfig}, nil
	}
	c, err := LoadRun(runsDir, runDir)
	if err != nil {
		return nil, err
	}
	return &Target{Cluster: c, RunDir: c.RunDir, Binary: c.Binary}, nil
}

// startReport starts the report of a command on t, named by the profile and
// datastore of a cluster from 'up' ("kubeconfig" and "unknown" for any
// other: distrobench cannot know what it runs).
func startReport(e Env, t *Target) *result.Report {
	name, ds := "kubeconfig", "unknown"
	if t.Cluster != nil {
		name, ds = t.Cluster.Profile, t.Cluster.Datastore
	}
	t.Report = NewReport(e.Command, name, ds, time.Now(), e.ToolVer)
	return t.Report
}

// Conformance runs our suites on t and writes the report. The nodes suite
// runs only when the cluster has nodes; a cluster this process did not
// start has no node controller, so the disruptive specs fail saying so
// (deselect them with '!disruptive').
func Conformance(ctx context.Context, e Env, t *Target, co ConformanceOptions) (*Outcome, error) {
	suites, err := suitesOf(ctx, t, e.Log)
	if err != nil {
		return nil, err
	}
	startReport(e, t).Params.LabelFilter = co.LabelFilter
	return runJob(ctx, e, t, []Phase{{Name: PhaseConformance, Run: func(ctx context.Context, t *Target) error {
		tree, err := conformance.Run(ctx, conformance.Options{
			Kubeconfig: t.kubeconfig(), LabelFilter: co.LabelFilter, Timeout: co.Timeout, Log: e.Log, Suites: suites,
			Progress: e.specs,
		})
		t.Report.Tests = tree
		return err
	}}})
}

// suitesOf selects the suites for t: the nodes suite only when it has
// nodes (counted through the API for a cluster the harness did not start).
func suitesOf(ctx context.Context, t *Target, log *slog.Logger) ([]string, error) {
	if t.Cluster != nil {
		return conformance.SuitesFor(t.Cluster.WantNodes()), nil
	}
	n, err := conformance.CountNodes(ctx, t.Kubeconfig)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		log.Info("the cluster has no nodes: the nodes suite is not run", "suites", conformance.SuitesFor(0))
	}
	return conformance.SuitesFor(n), nil
}

// BenchCluster measures t and writes the report: a cluster from 'up' as
// the main job's bench does, without the server restarts (its join token
// is not stored, so only the process that started it can restart it); any
// other cluster by its API latency alone (its processes are not the
// harness's to watch or restart).
func BenchCluster(ctx context.Context, e Env, t *Target, bo BenchOptions) (*Outcome, error) {
	bench := func(ctx context.Context, t *Target) ([]result.Measurement, error) {
		o := bo
		o.SkipRestarts = true
		return Bench(ctx, t.Cluster, o, e.Log, e.Progress)
	}
	if t.Cluster == nil {
		cfg, err := clientcmd.BuildConfigFromFlags("", t.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", t.Kubeconfig, err)
		}
		bench = func(ctx context.Context, _ *Target) ([]result.Measurement, error) {
			return BenchKubeconfig(ctx, cfg, bo, e.Log, e.Progress)
		}
	}
	startReport(e, t).Params.Repeats = bo.Repeats
	return runJob(ctx, e, t, []Phase{{Name: PhaseBench, Run: func(ctx context.Context, t *Target) error {
		ms, err := bench(ctx, t)
		t.Report.Measurements = ms
		return err
	}}})
}

// clusterImages returns the measurements naming the images the nodes of a
// cluster from 'up' imported (WriteImages); none for any other cluster:
// distrobench cannot know what a foreign cluster holds.
func clusterImages(t *Target, log *slog.Logger) []result.Measurement {
	if t.Cluster == nil {
		return nil
	}
	imgs, err := ReadImages(t.RunDir)
	if err != nil {
		log.Warn("could not read the cluster's image list", "err", err)
		return nil
	}
	return ImageMeasurements(imgs)
}
