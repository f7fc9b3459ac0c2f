package job

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/distrobench/distrobench/internal/livemetrics"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
)

// Phase is one step of a job: its name (in the report and the progress
// output), when it applies, and what it does to the cluster it acts on.
// A job is a table of phases that one loop runs (runner.run), so the same
// table can later run for several clusters.
type Phase struct {
	Name string
	// When reports whether the phase applies to t (nil: always). It is
	// asked just before the phase would start, so it can depend on what
	// the earlier phases did (down applies only when a cluster is up).
	When func(t *Target) bool
	// Run does the phase's work on t; an error fails the phase.
	Run func(ctx context.Context, t *Target) error
	// Gate marks a phase the later ones depend on (build, images, up): when
	// it fails, no later phase starts except the Finally ones.
	Gate bool
	// Finally marks a phase that runs after all the others whatever they
	// did: after a failed gate, after Ctrl-C (on a context that is not
	// cancelled, so it can still clean up) and after a panic in an earlier
	// phase (down: no server outlives the harness).
	Finally bool
}

func (ph Phase) applies(t *Target) bool { return ph.When == nil || ph.When(t) }

// runner runs phases and records each in its target's report.
type runner struct {
	progress *progress.Printer
	log      *slog.Logger
	metrics  *livemetrics.Metrics // nil: no live metrics
}

func newRunner(pr *progress.Printer, log *slog.Logger, metrics *livemetrics.Metrics) runner {
	if log == nil {
		log = slog.Default()
	}
	return runner{progress: pr, log: log, metrics: metrics}
}

// run runs the phases that apply to t in table order and records each in
// t.Report. A failed gate stops the run, and so does a cancelled ctx
// (Ctrl-C: the current phase ends, nothing more starts); either way, and
// after a panic, the Finally phases run once, last.
func (r runner) run(ctx context.Context, t *Target, phases []Phase) {
	defer r.finally(ctx, t, phases)
	for _, ph := range phases {
		if ph.Finally || !ph.applies(t) {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if !r.phase(ctx, t, ph) && ph.Gate {
			return
		}
	}
}

// finally runs the Finally phases that apply, on a context that Ctrl-C
// does not cancel (they stop what the run started).
func (r runner) finally(ctx context.Context, t *Target, phases []Phase) {
	t.interrupted = ctx.Err() != nil
	for _, ph := range phases {
		if ph.Finally && ph.applies(t) {
			r.phase(context.WithoutCancel(ctx), t, ph)
		}
	}
}

// phase runs one phase, records it in t.Report (replacing an earlier record
// of the same name) and reports whether it passed. A phase that returns
// nil after its context was cancelled did not finish: it fails too.
func (r runner) phase(ctx context.Context, t *Target, ph Phase) bool {
	r.progress.Phase(ph.Name)
	r.metrics.Phase(ph.Name)
	start := time.Now()
	taken := len(t.Report.Measurements)
	err := ph.Run(ctx, t)
	r.publish(t.Report.Measurements[min(taken, len(t.Report.Measurements)):])
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	rec := result.Phase{Name: ph.Name, Status: result.StatusPassed, StartedAt: start.UTC(), DurationSeconds: time.Since(start).Seconds()}
	if err != nil {
		rec.Status = result.StatusFailed
		if errors.Is(err, context.Canceled) {
			rec.Error = "interrupted (Ctrl-C or SIGTERM)"
		} else {
			rec.Error = redact.String(err.Error())
		}
		r.progress.Linef("%s failed: %s", ph.Name, rec.Error)
		r.log.Debug("phase failed", "phase", ph.Name, "err", redact.String(err.Error()))
	} else {
		r.progress.Linef("%s done in %s", ph.Name, time.Since(start).Round(100*time.Millisecond))
	}
	if existing := t.Report.Phase(ph.Name); existing != nil {
		*existing = rec
	} else {
		t.Report.Phases = append(t.Report.Phases, rec)
	}
	return err == nil
}

// publish counts the samples a phase took in the live metrics, and the
// API benchmark's achieved rates.
func (r runner) publish(ms []result.Measurement) {
	for _, m := range ms {
		r.metrics.Samples(m.Name, len(m.Samples))
		if m.Name == measure.RateAchievedMetric && m.Summary.Count > 0 {
			r.metrics.RequestRate(m.Labels["verb"], m.Summary.P50)
		}
	}
}

// passed reports whether every phase recorded in rep passed.
func passed(rep *result.Report) bool {
	for _, ph := range rep.Phases {
		if ph.Status != result.StatusPassed {
			return false
		}
	}
	return true
}
