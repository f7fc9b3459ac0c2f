package job

import (
	"log/slog"

	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/measure"
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
	return o.API(nil, nil, nil).Validate()
}
