package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/distrobench/distrobench/internal/host"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/reports"
)

// Outcome is what a run produced.
type Outcome struct {
	Report *result.Report
	Paths  reports.Paths
}

// ErrRunFailed is returned (wrapped) when the run completed but did not pass.
var ErrRunFailed = errors.New("run failed")

// Finish decides the report's status, writes it in every format under
// outBase/<run ID>/, points outBase/latest at it, and returns an error
// wrapping ErrRunFailed when the run did not pass.
func Finish(ctx context.Context, rep *result.Report, outBase string, log *slog.Logger) (*Outcome, error) {
	if log == nil {
		log = slog.Default()
	}
	decide(ctx, rep)
	out := &Outcome{Report: rep}
	dir := reports.OutputDir(outBase, rep)
	paths, err := reports.WriteAll(rep, dir)
	if err != nil {
		return out, fmt.Errorf("write report: %w", err)
	}
	out.Paths = paths
	if err := reports.LinkLatest(outBase, dir); err != nil {
		log.Warn("could not update the latest link", "err", err)
	}
	if rep.Status != result.StatusPassed {
		if cause := context.Cause(ctx); cause != nil {
			// Interrupted: the caller's exit code (130) needs the cause.
			return out, fmt.Errorf("%w: %s (report: %s): %w", ErrRunFailed, rep.Reason, paths.HTML, cause)
		}
		return out, fmt.Errorf("%w: %s (report: %s)", ErrRunFailed, rep.Reason, paths.HTML)
	}
	return out, nil
}

// TestsVerdict is the verdict on a test tree's counts, the same for every
// command that runs specs: nil only when no selected spec failed or errored
// and at least one passed (a run that passed nothing proves nothing).
func TestsVerdict(c result.Counts) error {
	if c.Failed+c.Errored > 0 {
		return fmt.Errorf("%d of %d specs failed (%d failed, %d errored)", c.Failed+c.Errored, c.Total(), c.Failed, c.Errored)
	}
	if c.Passed == 0 {
		return fmt.Errorf("no spec passed (%d selected, %d skipped, %d not selected)", c.Total(), c.Skipped, c.NotSelected)
	}
	return nil
}

// CountsLine is the one-line summary of a test tree's counts: what was
// selected, with errored specs and the not selected ones apart.
func CountsLine(c result.Counts) string {
	s := fmt.Sprintf("%d passed, %d failed, %d errored, %d skipped of %d selected", c.Passed, c.Failed, c.Errored, c.Skipped, c.Total())
	if c.NotSelected > 0 {
		s += fmt.Sprintf(" (%d not selected)", c.NotSelected)
	}
	return s
}

// RunID names a run started at started on a profile and datastore: the
// report's ID and the name of the run's directory (the main job's and the
// one 'distrobench up' makes), so a report and its cluster's logs are found
// by one name.
func RunID(started time.Time, profileName, datastore string) string {
	return fmt.Sprintf("%s-%s-%s", started.UTC().Format("20060102T150405Z"), profileName, datastore)
}

// CellRunID names one cell of a comparison started at started: the run ID
// of its profile and datastore, with its arch (a matrix may compare archs).
func CellRunID(started time.Time, c profile.Cell) string {
	return RunID(started, c.Profile.Metadata.Name, c.Datastore) + "-" + c.Arch
}

// NewReport starts a report for a command run against a profile.
func NewReport(command, profileName, datastore string, started time.Time, toolVersion string) *result.Report {
	rep := result.New(RunID(started, profileName, datastore), started)
	rep.Params.Command = redact.String(command)
	rep.Params.Profile = profileName
	rep.Params.Datastore = datastore
	rep.Host = host.Facts(context.Background())
	rep.Versions = result.Versions{Tool: toolVersion, Go: runtime.Version()}
	return rep
}

// decide sets the run's status: passed only when every phase passed, no
// test failed or errored (and, when the report has tests, at least one
// passed: see TestsVerdict), and every SLO was met.
func decide(ctx context.Context, rep *result.Report) {
	rep.FinishedAt = time.Now().UTC()
	rep.Status = result.StatusPassed
	var reasons []string
	if ctx.Err() != nil {
		reasons = append(reasons, "interrupted before the run finished")
	}
	for _, ph := range rep.Phases {
		if ph.Status != result.StatusPassed {
			reasons = append(reasons, fmt.Sprintf("phase %s: %s", ph.Name, ph.Error))
		}
	}
	if rep.Tests != nil {
		if err := TestsVerdict(rep.Tests.Counts()); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	for _, m := range rep.Measurements {
		if m.SLO != nil && !m.SLO.Met {
			reasons = append(reasons, sloReason(m))
		}
	}
	if len(reasons) > 0 {
		rep.Status = result.StatusFailed
		rep.Reason = reasons[0]
		if len(reasons) > 1 {
			rep.Reason += fmt.Sprintf(" (and %d more problems)", len(reasons)-1)
		}
	}
}

// sloReason says why a measurement missed its SLO; a figure that was not
// measured misses it with its reason, never with a made-up value.
func sloReason(m result.Measurement) string {
	if m.Missing != "" || m.Summary.Count == 0 {
		return fmt.Sprintf("SLO missed: %s %v not measured: %s", m.Name, m.Labels, m.Missing)
	}
	return fmt.Sprintf("SLO missed: %s %v %s %.3g > %.3g (n=%d)", m.Name, m.Labels, m.SLO.Statistic,
		m.Summary.Stat(m.SLO.Statistic), m.SLO.Threshold, m.Summary.Count)
}
