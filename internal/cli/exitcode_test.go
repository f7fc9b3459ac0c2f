package cli

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/result"
)

// fakeCellEnv makes this test binary stand in for a matrix cell: started
// with it set, it exits at once with that code (see TestMain).
const fakeCellEnv = "DISTROBENCH_TEST_FAKE_CELL_EXIT"

func TestMain(m *testing.M) {
	if code := os.Getenv(fakeCellEnv); code != "" {
		n, err := strconv.Atoi(code)
		if err != nil {
			os.Exit(99)
		}
		os.Exit(n)
	}
	os.Exit(m.Run())
}

// testGlobals writes reports under a temporary repository root.
func testGlobals(t *testing.T) (*globals, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	return &globals{stdout: &out, stderr: &out, repoRoot: t.TempDir(), log: slog.New(slog.DiscardHandler)}, &out
}

// TestOutcomeExitCodes: a command whose phase failed completed and failed
// (1, not 2 "bad input"); an interrupted one exits 130; the summary line
// counts errored specs. (How a command's phase is recorded is job's, tested
// there: commands_test.go.)
func TestOutcomeExitCodes(t *testing.T) {
	passed := &result.Item{Name: "c", Items: []result.Item{{Name: "a", Status: result.StatusPassed}}}
	finish := func(ctx context.Context, g *globals, rep *result.Report) error {
		out, err := job.Finish(ctx, rep, g.outBase(), g.log)
		return outcome(g, out, err)
	}
	t.Run("phase failed", func(t *testing.T) {
		g, _ := testGlobals(t)
		rep := job.NewReport("distrobench bench", "k3s", "sqlite", time.Now(), "test")
		rep.Phases = []result.Phase{{Name: job.PhaseBench, Status: result.StatusFailed, Error: "API latency: create: connection refused"}}
		err := finish(context.Background(), g, rep)
		if code := ExitCode(err); code != 1 || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("exit %d, error %v; want 1 with the phase's error", code, err)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		g, _ := testGlobals(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rep := job.NewReport("distrobench conformance", "k3s", "sqlite", time.Now(), "test")
		rep.Tests = passed
		if code := ExitCode(finish(ctx, g, rep)); code != 130 {
			t.Errorf("interrupted command exits %d, want 130", code)
		}
	})
	t.Run("summary counts errored", func(t *testing.T) {
		g, out := testGlobals(t)
		rep := job.NewReport("distrobench conformance", "k3s", "sqlite", time.Now(), "test")
		rep.Tests = &result.Item{Name: "c", Items: []result.Item{
			{Name: "a", Status: result.StatusPassed},
			{Name: "b", Status: result.StatusError, Message: "not run: interrupted after 1m0s"},
			{Name: "c", Status: result.StatusNotSelected},
		}}
		err := finish(context.Background(), g, rep)
		if ExitCode(err) != 1 {
			t.Errorf("a run with an errored spec: %v, want exit 1", err)
		}
		if !strings.Contains(out.String(), "1 passed, 0 failed, 1 errored, 0 skipped of 2 selected (1 not selected)") {
			t.Errorf("summary does not count errored and not selected specs apart:\n%s", out)
		}
	})
}

// TestMatrixExitCodes: cells that ran and failed make the matrix a failed
// run (1); a cell with bad input makes it a setup error (2).
func TestMatrixExitCodes(t *testing.T) {
	for cell, want := range map[string]int{"0": 0, "1": 1, "2": 2} {
		t.Run("cells exit "+cell, func(t *testing.T) {
			t.Setenv(fakeCellEnv, cell)
			out, _, err := run(t, "matrix", "../../profiles/matrix/datastores.yaml")
			if code := ExitCode(err); code != want {
				t.Errorf("matrix with cells exiting %s: exit %d (%v), want %d\n%s", cell, code, err, want, out)
			}
		})
	}
}
