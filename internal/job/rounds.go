package job

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// idleRound measures every cell of the group at rest in one window: each
// cell settles on its own (the first round only: later rounds follow
// directly), then all wait at one barrier, so their windows start together.
func (cmp *comparison) idleRound(ctx context.Context, group []*cell, r int) {
	in := cellsIn(group)
	if len(in) == 0 || ctx.Err() != nil {
		return
	}
	cmp.o.Progress.Linef("idle round %d/%d: %d cell(s) in one %s window", r+1, cmp.o.Rounds, len(in), cmp.o.Bench.IdleWindow)
	bar := newBarrier(len(in))
	var wg sync.WaitGroup
	for _, c := range in {
		at := bar.join()
		wg.Go(func() {
			defer at.leave()
			cmp.runner.phase(ctx, c.t, Phase{Name: roundPhase(PhaseFootprint, r), Run: func(ctx context.Context, t *Target) error {
				ms, err := footprint(ctx, t.Cluster, idleRun{settle: r == 0, barrier: at.wait}, cmp.o.Bench, cmp.o.Log, cmp.o.Progress)
				c.rounds[r] = append(c.rounds[r], ms...)
				return err
			}})
		})
	}
	wg.Wait()
}

// loadRounds gives every cell of the group the same workload in each
// round, one cell after another in an order shuffled per round (the
// comparison's seed makes it reproducible). The objects the list workload
// lists are stored first, once per cell, and deleted after the last round.
func (cmp *comparison) loadRounds(ctx context.Context, group []*cell) {
	for _, c := range cellsIn(group) {
		cmp.gate(ctx, c, Phase{Name: PhaseBench + " setup", Run: cmp.storeListObjects(c)})
	}
	for r := range cmp.o.Rounds {
		in := cellsIn(group)
		order := cmp.rng.Perm(len(in))
		for i, k := range order {
			c := in[k]
			cmp.o.Progress.Linef("load round %d/%d, %d/%d: %s", r+1, cmp.o.Rounds, i+1, len(in), c.name)
			cmp.once(ctx, c, Phase{Name: roundPhase(PhaseBench, r), Run: func(ctx context.Context, t *Target) error {
				ms, err := cmp.load(ctx, c)
				c.rounds[r] = append(c.rounds[r], ms...)
				return err
			}})
		}
	}
	for _, c := range group {
		if c.list != nil {
			if err := c.list.Delete(context.WithoutCancel(ctx)); err != nil {
				cmp.o.Log.Warn("could not delete the listed objects' namespace", "cell", c.name, "err", err)
			}
		}
	}
}

// cellsIn are the group's cells still in the comparison.
func cellsIn(group []*cell) []*cell {
	var out []*cell
	for _, c := range group {
		if !c.out {
			out = append(out, c)
		}
	}
	return out
}

// storeListObjects stores the objects the load rounds list.
func (cmp *comparison) storeListObjects(c *cell) func(context.Context, *Target) error {
	return func(ctx context.Context, t *Target) error {
		_, cs, err := clusterClient(t.Cluster)
		if err != nil {
			return err
		}
		c.list, err = measure.NewListSet(ctx, cs, cmp.o.Load.ListObjects, cmp.o.Bench.ObjectSize, cmp.o.Bench.Concurrency,
			func(s string) { cmp.o.Progress.Status("%s: %s", c.name, s) })
		return err
	}
}

// load is one cell's workload in one round, with the control-plane chatter
// it causes measured alongside (label phase=load): API verbs, lists of the
// stored objects, watch fan-out, and pod startup when the cell has nodes.
func (cmp *comparison) load(ctx context.Context, c *cell) ([]result.Measurement, error) {
	cl := c.t.Cluster
	cfg, err := cl.RESTConfig()
	if err != nil {
		return nil, err
	}
	labels := map[string]string{"datastore": cl.Datastore}
	stop := chatterAlongside(cl, cfg, cmp.o.Bench.Prometheus, withPhase(labels, "load"))(ctx)
	var out []result.Measurement
	for _, step := range cmp.workload(c, cfg, labels) {
		ms, err := step(ctx)
		out = append(out, ms...)
		if err != nil {
			return append(out, stop()...), err
		}
	}
	return append(out, stop()...), nil
}

type workloadStep func(context.Context) ([]result.Measurement, error)

// workload are the steps of one cell's load in a round.
func (cmp *comparison) workload(c *cell, cfg *rest.Config, labels map[string]string) []workloadStep {
	o, cl := cmp.o, c.t.Cluster
	status := func(what string) func(string) {
		return func(s string) { o.Progress.Status("%s %s: %s", c.name, what, s) }
	}
	return []workloadStep{
		func(ctx context.Context) ([]result.Measurement, error) {
			return benchAPI(ctx, cfg, idleUnits(cl), o.Bench, o.Log, o.Progress)
		},
		func(ctx context.Context) ([]result.Measurement, error) {
			status("list")(fmt.Sprintf("%d lists of %d objects", o.Load.Lists, o.Load.ListObjects))
			return c.list.Time(ctx, o.Load.Lists, labels)
		},
		func(ctx context.Context) ([]result.Measurement, error) {
			cs, err := measure.UnthrottledClient(cfg)
			if err != nil {
				return nil, err
			}
			status("watch")("fan-out")
			return measure.WatchFanout(ctx, measure.WatchOptions{Client: cs, Watchers: o.Load.Watchers, Events: o.Load.WatchEvents, Labels: labels})
		},
		func(ctx context.Context) ([]result.Measurement, error) {
			return benchNodes(ctx, cl, planNodes(cl), o.Bench, o.Log, o.Progress)
		},
	}
}

// crossCheck checks the cell's agents' proxy against its apiserver.
func (cmp *comparison) crossCheck(ctx context.Context, t *Target) error {
	t.Report.Measurements = append(t.Report.Measurements, proxyCrossCheck(ctx, t.Cluster, map[string]string{"datastore": t.Cluster.Datastore})...)
	return nil
}

// growth measures how the cell's cost grows with the objects it stores,
// up to the deletions; compacted takes the last point.
func (cmp *comparison) growth(c *cell) func(context.Context, *Target) error {
	return func(ctx context.Context, t *Target) error {
		ms, pending, err := Growth(ctx, t.Cluster, cmp.o.Growth, cmp.o.Bench, cmp.o.Log, cmp.o.Progress)
		t.Report.Measurements = append(t.Report.Measurements, ms...)
		c.compaction = pending
		return err
	}
}

// compacted waits for the cell's datastore to compact growth's deleted
// objects away, then reads memory and size once more.
func (cmp *comparison) compacted(c *cell) func(context.Context, *Target) error {
	return func(ctx context.Context, t *Target) error {
		ms, err := c.compaction.Wait(ctx, cmp.o.CompactionTimeout)
		t.Report.Measurements = append(t.Report.Measurements, ms...)
		return err
	}
}

// idleRun is how one idle window starts: after the cluster settled (or at
// once), then at a barrier shared with other clusters (or none).
type idleRun struct {
	settle  bool
	barrier func(context.Context) error
}

// footprint is Footprint with the start of its window chosen by run.
func footprint(ctx context.Context, c *deploy.Cluster, run idleRun, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	labels := map[string]string{"datastore": c.Datastore}
	cfg, cs, err := clusterClient(c)
	if err != nil {
		return nil, fmt.Errorf("idle footprint: %w", err)
	}
	// Before the settle, so that the window counts every client apart.
	countClientsApart(ctx, cs, c.Binary, log)
	units, err := withControlPlane(ctx, cs, idleUnits(c))
	if err != nil {
		return nil, fmt.Errorf("idle footprint: %w", err)
	}
	io := measure.IdleOptions{
		Units: units, Window: o.IdleWindow, Labels: labels, Barrier: run.barrier,
		Progress:  func(s string) { pr.Status("%s", s) },
		Alongside: chatterAlongside(c, cfg, o.Prometheus, withPhase(labels, "idle")),
	}
	if run.settle {
		io.Settle = o.idleSettle()
	}
	out, err := measure.Idle(ctx, io)
	if err != nil {
		return out, fmt.Errorf("idle footprint: %w", err)
	}
	return out, nil
}
