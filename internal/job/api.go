package job

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// API returns the options of the API latency benchmark on cfg: the load
// shape is an open loop when Rate > 0, else a closed loop of Concurrency
// workers.
func (o BenchOptions) API(cfg *rest.Config, log *slog.Logger, progress func(string)) measure.APIOptions {
	return measure.APIOptions{
		Config: cfg, Objects: o.Objects, Concurrency: o.Concurrency, Rate: o.Rate,
		RequestTimeout: o.RequestTimeout, ErrorBudget: o.ErrorBudget,
		ObjectSize: o.ObjectSize, Repeats: o.APIRepeats, Log: log, Progress: progress,
	}
}

// Validate reports the options that cannot work, before any cluster is
// started for them.
func (o BenchOptions) Validate() error {
	if o.SettleMin < 0 || o.SettleMin > measure.DefaultSettle.Max {
		return fmt.Errorf("settle minimum %s: want 0 (the default, %s) up to %s, the longest the harness waits for rest",
			o.SettleMin, measure.DefaultSettle.Min, measure.DefaultSettle.Max)
	}
	if o.Pods < 0 {
		return fmt.Errorf("pod startup: %d pods: want 1 or more (0: the default, 30)", o.Pods)
	}
	return o.API(nil, nil, nil).Validate()
}

// BenchKubeconfig measures the API latency of a cluster the harness did not
// start, through cfg: its processes are not the harness's to watch or
// restart, so only its terminating namespaces are waited for.
func BenchKubeconfig(ctx context.Context, cfg *rest.Config, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	return benchAPI(ctx, cfg, nil, o, log, pr)
}

// The machine's calibration around the API load: calibrations samples
// right before it (the cluster at rest) and as many right after, so that
// a drift of the machine's speed during the load shows as spread.
const calibrations = 5

var calibrationWhen = fmt.Sprintf("%d times with the cluster at rest right before the API load, %[1]d times right after it", calibrations)

// benchAPI brings the cluster to rest (measure.Quiesce: what the suites
// deleted is gone and, with units, every node idle by
// measure.DefaultSettle), then runs the API latency benchmark with the
// harness's own overhead and the machine's calibration next to it. Every
// API figure records in its attributes how rest was reached.
func benchAPI(ctx context.Context, cfg *rest.Config, units []measure.Unit, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API latency: client: %w", err)
	}
	quiesced, err := measure.Quiesce(ctx, measure.QuiesceOptions{
		Client: cs, Units: units, Settle: o.settle(),
		Progress: func(s string) { pr.Status("before the API load: %s", s) },
	})
	if err != nil {
		return nil, fmt.Errorf("API latency: %w", err)
	}
	log.Info("cluster at rest before the API load", "quiesce", quiesced)
	before, err := measure.Calibrate(ctx, calibrations)
	if err != nil {
		return nil, fmt.Errorf("API latency: calibrating the machine: %w", err)
	}
	ao := o.API(cfg, log, func(s string) { pr.Status("API latency: %s", s) })
	pr.Status("API latency: %s", ao.Describe())
	stopSelf := measure.SelfUsage(ctx, time.Second, map[string]string{"phase": "api-latency"})
	ms, err := measure.APILatency(ctx, ao)
	ms = append(stopSelf(), ms...)
	after, cerr := measure.Calibrate(ctx, calibrations)
	if cerr == nil {
		ms = append(ms, measure.CalibrationMeasurement(append(before, after...), calibrationWhen, nil))
	}
	for i := range ms {
		ms[i] = ms[i].WithAttribute(measure.QuiesceAttribute, quiesced)
	}
	if err != nil {
		return ms, fmt.Errorf("API latency: %w", err)
	}
	return ms, nil
}
