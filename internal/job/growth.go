package job

import (
	"context"
	"log/slog"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// Growth measures how c's cost grows with the objects it stores
// (measure.Growth at steps, nil: the default 1k, 10k, 50k): the server
// process's PSS and the datastore's size at every step, with write and
// list latency. The objects are deleted at the end; the point after the
// datastore compacted them away is returned still to take
// (measure.Compaction.Wait).
func Growth(ctx context.Context, c *deploy.Cluster, steps []int, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, *measure.Compaction, error) {
	_, cs, err := clusterClient(c)
	if err != nil {
		return nil, nil, err
	}
	log.Info("growth", "steps", steps, "datastore", c.Datastore)
	return measure.Growth(ctx, measure.GrowthOptions{
		Client: cs, Steps: steps, ObjectSize: o.ObjectSize, Concurrency: o.Concurrency,
		Memory: func(ctx context.Context) (float64, error) {
			v, err := measure.ProcessPSS(ctx, c.ServerPID)
			return float64(v), err
		},
		DatastoreSize: func(ctx context.Context) (float64, error) {
			s, err := c.DatastoreSize(ctx)
			return float64(s.Bytes), err
		},
		Labels:   map[string]string{"datastore": c.Datastore},
		Progress: func(s string) { pr.Status("growth: %s", s) },
	})
}
