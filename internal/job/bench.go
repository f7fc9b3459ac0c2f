package job

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// Footprint measures the idle cluster: it waits until the cluster idles
// (measure.DefaultSettle, the one definition of idle), then samples the
// server's node, every agent node and the datastore servers in one window
// of o.IdleWindow. The main job calls it on a fresh cluster, before the
// suites load it, so "idle" means idle (the figure K3s users compare).
func Footprint(ctx context.Context, c *deploy.Cluster, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	return footprint(ctx, c, idleRun{settle: true}, o, log, pr)
}

// withPhase is labels plus phase=p (idle, load), for figures taken in
// more than one state of the cluster.
func withPhase(labels map[string]string, p string) map[string]string {
	out := maps.Clone(labels)
	out["phase"] = p
	return out
}

// Bench measures a deployed cluster: idle footprint (unless SkipIdle),
// datastore size, API latency (with the harness's own overhead), the
// agents' proxy cross-checked against the apiserver, when the
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
		ms, err := Footprint(ctx, c, o, log, pr)
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
	pr.Status("cross-checking the agents' proxy against the apiserver")
	out = append(out, proxyCrossCheck(ctx, c, labels)...)
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
	out = append(out, withReadyPoll(m))
	return out, nil
}

// withReadyPoll records the resolution of a startup.readyz figure: how
// often start-up asked /readyz.
func withReadyPoll(m result.Measurement) result.Measurement {
	return m.WithAttribute("poll", deploy.ReadyPoll.String())
}
