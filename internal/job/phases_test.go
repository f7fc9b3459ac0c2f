package job

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/result"
)

// fakeJob records which phases ran, in order, and what context down got.
type fakeJob struct {
	ran       []string
	downCtxOK bool // down's context was not cancelled
}

// phase is a fake phase named name that records its run and returns err.
func (f *fakeJob) phase(name string, err error) Phase {
	return Phase{Name: name, Run: func(context.Context, *Target) error {
		f.ran = append(f.ran, name)
		return err
	}}
}

func (f *fakeJob) gate(name string, err error) Phase {
	ph := f.phase(name, err)
	ph.Gate = true
	return ph
}

// down is a fake down phase: Finally, whatever happened before.
func (f *fakeJob) down() Phase {
	return Phase{Name: PhaseDown, Finally: true, Run: func(ctx context.Context, _ *Target) error {
		f.ran = append(f.ran, PhaseDown)
		f.downCtxOK = ctx.Err() == nil
		return nil
	}}
}

// runFake runs phases through runJob with a fresh target and returns the
// target, the written report and runJob's error.
func runFake(t *testing.T, ctx context.Context, phases ...Phase) (*Target, *result.Report, error) {
	t.Helper()
	tg := &Target{Report: NewReport("distrobench run", "k3s", "sqlite", testTime, "test")}
	out, err := runJob(ctx, Env{OutBase: t.TempDir(), Log: slog.New(slog.DiscardHandler)}, tg, phases)
	if out == nil || out.Paths.JSON == "" {
		t.Fatalf("no report written (err %v)", err)
	}
	written, lerr := result.Load(out.Paths.JSON)
	if lerr != nil {
		t.Fatal(lerr)
	}
	return tg, written, err
}

func phaseNames(rep *result.Report) []string {
	var out []string
	for _, ph := range rep.Phases {
		out = append(out, ph.Name)
	}
	return out
}

func TestFailedGateSkipsDependentPhases(t *testing.T) {
	f := &fakeJob{}
	_, rep, err := runFake(t, context.Background(),
		f.gate(PhaseBuild, nil), f.gate(PhaseUp, errors.New("server never ready")),
		f.phase(PhaseConformance, nil), f.phase(PhaseBench, nil), f.down())
	if want := []string{PhaseBuild, PhaseUp, PhaseDown}; !slices.Equal(f.ran, want) {
		t.Errorf("ran %v, want %v (nothing after a failed gate but down)", f.ran, want)
	}
	if want := []string{PhaseBuild, PhaseUp, PhaseDown}; !slices.Equal(phaseNames(rep), want) {
		t.Errorf("report phases %v, want %v", phaseNames(rep), want)
	}
	if !errors.Is(err, ErrRunFailed) || errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want a failed run (not an interrupted one)", err)
	}
	if rep.Status != result.StatusFailed || !strings.HasPrefix(rep.Reason, "phase up: server never ready") {
		t.Errorf("status %s reason %q, want failed on the up phase", rep.Status, rep.Reason)
	}
}

// TestFailedPhaseThatIsNoGateSkipsNothing: a failed suite or footprint
// does not stop the benchmarks; the report keeps the table's order.
func TestFailedPhaseThatIsNoGateSkipsNothing(t *testing.T) {
	f := &fakeJob{}
	_, rep, err := runFake(t, context.Background(),
		f.gate(PhaseBuild, nil), f.gate(PhaseUp, nil), f.phase(PhaseFootprint, nil),
		f.phase(PhaseConformance, errors.New("2 of 9 specs failed")), f.phase(PhaseBench, nil), f.down())
	want := []string{PhaseBuild, PhaseUp, PhaseFootprint, PhaseConformance, PhaseBench, PhaseDown}
	if !slices.Equal(f.ran, want) || !slices.Equal(phaseNames(rep), want) {
		t.Errorf("ran %v, report %v, want both %v", f.ran, phaseNames(rep), want)
	}
	if !errors.Is(err, ErrRunFailed) || !strings.Contains(rep.Reason, "phase conformance: 2 of 9 specs failed") {
		t.Errorf("err %v reason %q, want the run failed on conformance", err, rep.Reason)
	}
	if ph := rep.Phase(PhaseBench); ph == nil || ph.Status != result.StatusPassed {
		t.Errorf("bench: %+v, want passed", ph)
	}
}

func TestPhaseConditionsAreAskedWhenThePhaseWouldStart(t *testing.T) {
	f := &fakeJob{}
	up := f.gate(PhaseUp, nil)
	run := up.Run
	up.Run = func(ctx context.Context, tg *Target) error {
		tg.Cluster = &deploy.Cluster{}
		return run(ctx, tg)
	}
	never := f.phase(PhaseFootprint, nil)
	never.When = func(*Target) bool { return false }
	needsCluster := f.phase(PhaseBench, nil)
	needsCluster.When = clusterUp
	_, rep, err := runFake(t, context.Background(), up, never, needsCluster)
	if want := []string{PhaseUp, PhaseBench}; !slices.Equal(f.ran, want) || !slices.Equal(phaseNames(rep), want) {
		t.Errorf("ran %v, report %v, want %v", f.ran, phaseNames(rep), want)
	}
	if err != nil {
		t.Errorf("a run whose phases passed: %v", err)
	}
}

// TestCtrlCStopsAfterTheCurrentPhase: the interrupted phase fails, nothing
// more starts, down runs once on a live context, the run exits as
// interrupted and the report is written.
func TestCtrlCStopsAfterTheCurrentPhase(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeJob{}
	conf := Phase{Name: PhaseConformance, Run: func(context.Context, *Target) error {
		f.ran = append(f.ran, PhaseConformance)
		cancel() // Ctrl-C while the suites run; the phase returns nil
		return nil
	}}
	tg, rep, err := runFake(t, ctx, f.gate(PhaseUp, nil), conf, f.phase(PhaseBench, nil), f.down())
	if want := []string{PhaseUp, PhaseConformance, PhaseDown}; !slices.Equal(f.ran, want) {
		t.Errorf("ran %v, want %v", f.ran, want)
	}
	if !f.downCtxOK {
		t.Error("down got a cancelled context: it could not stop the cluster")
	}
	if !tg.interrupted {
		t.Error("the target does not say the run was interrupted (down keeps the server log's tail then)")
	}
	if ph := rep.Phase(PhaseConformance); ph == nil || ph.Status != result.StatusFailed || !strings.Contains(ph.Error, "interrupted") {
		t.Errorf("conformance: %+v, want failed as interrupted", ph)
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRunFailed) {
		t.Errorf("err %v, want an interrupted, failed run (exit 130)", err)
	}
}

func TestDownRunsOnceAfterAPanic(t *testing.T) {
	f := &fakeJob{}
	boom := Phase{Name: PhaseBench, Run: func(context.Context, *Target) error { panic("bug in a phase") }}
	tg := &Target{Report: NewReport("distrobench run", "k3s", "sqlite", testTime, "test")}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		newRunner(nil, slog.New(slog.DiscardHandler), nil).run(context.Background(), tg, []Phase{f.gate(PhaseUp, nil), boom, f.down()})
	}()
	if want := []string{PhaseUp, PhaseDown}; !slices.Equal(f.ran, want) {
		t.Errorf("ran %v, want %v (down once, after the panic)", f.ran, want)
	}
	if ph := tg.Report.Phase(PhaseDown); ph == nil || ph.Status != result.StatusPassed {
		t.Errorf("down not recorded: %+v", tg.Report.Phases)
	}
}
