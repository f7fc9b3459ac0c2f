package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/result"
)

// TestCompareSQLiteVsPostgres runs an interleaved comparison of two cells
// (the k3s profile on SQLite, the baseline, and on PostgreSQL, which the
// run starts itself) and the A/A control (SQLite again), sized for CI: the
// three clusters up at once, two idle and two load rounds, growth at two
// steps, a slice of our suites per cell.
// Every cell must pass and leave its own report; the comparison must be
// interleaved, record its seed, hold figures of both rounds with a ratio
// and a call each, the growth curves and the chatter; nothing of the run
// may outlive it.
func TestCompareSQLiteVsPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	out := t.TempDir()
	matrix, err := filepath.Abs("testdata/sqlite-vs-postgres.yaml")
	if err != nil {
		t.Fatal(err)
	}
	stdout, _, code := runCLI(t, ctx, "compare", matrix, "--out", out,
		"--rounds", "2", "--seed", "42", "--idle-window", "10s", "--settle-min", "5s", "--api-objects", "50", "--api-repeats", "1",
		"--pods", "10", "--list-objects", "300", "--lists", "3", "--watchers", "3", "--watch-events", "30",
		"--growth-steps", "100,300", "--compaction-timeout", "0", "--label-filter", "datastore && !slow")
	if _, err := os.Stat(filepath.Join(out, "comparison.json")); err != nil {
		t.Fatalf("compare exit %d wrote no comparison: %v\n%s", code, err, stdout)
	}
	c := loadComparison(t, filepath.Join(out, "comparison.json"))
	for _, cell := range c.Cells {
		if r := cell.Report; r.Status != result.StatusPassed && !failedOnlyOnSLOs(r) {
			t.Errorf("cell %s: %s: %s", cell.Name, r.Status, r.Reason)
		}
	}
	if code != exitPassed && code != exitFailed {
		t.Fatalf("compare exit %d\n%s", code, stdout)
	}
	if !c.Interleaved || c.Rounds != 2 || c.Seed != 42 || !strings.Contains(c.Memory, "all cells up at once") {
		t.Errorf("comparison taken as: interleaved %v, %d rounds, seed %d, memory %q", c.Interleaved, c.Rounds, c.Seed, c.Memory)
	}
	if len(c.Cells) != 3 || c.Cells[0].Name != "k3s-sqlite-amd64" || c.Cells[1].Name != "k3s-sqlite-amd64-control" || c.Cells[2].Name != "k3s-postgres-amd64" {
		t.Fatalf("cells %+v, want sqlite (baseline), its A/A control, then postgres", c.Cells)
	}
	if c.Control != 1 || len(c.Spreads) == 0 {
		t.Errorf("control %d, spreads %+v: want the second cell as the A/A control and its spreads", c.Control, c.Spreads)
	}
	checkComparedFigures(t, c)
	checkCellReports(t, out, c)
	checkHTML(t, filepath.Join(out, "comparison.html"))
	if b, err := os.ReadFile(filepath.Join(out, "comparison.md")); err != nil || !strings.Contains(string(b), "Interleaved: 2 rounds") {
		t.Errorf("comparison.md missing or not saying how it was taken: %v", err)
	}
	for _, cell := range c.Cells {
		assertNoProcessMentions(t, cell.Report.RunID)
	}
}

func loadComparison(t *testing.T, path string) *compare.Comparison {
	t.Helper()
	var c compare.Comparison
	if err := json.Unmarshal(mustRead(t, path), &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &c
}

// checkComparedFigures wants every workload of the rounds compared, each
// figure with a ratio over both rounds and one of the calls.
func checkComparedFigures(t *testing.T, c *compare.Comparison) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range c.Figures {
		seen[f.Name] = true
		if len(f.PerCell) != 3 || len(f.Ratios) != 2 {
			t.Errorf("%s: %d cells, %d ratios", f.Name, len(f.PerCell), len(f.Ratios))
			continue
		}
		if r := f.Ratios[0]; r.Call != compare.ControlCall && r.Call != compare.NoRatio && r.Call != compare.NotComparable {
			t.Errorf("%s %v: the control's ratio is called %q", f.Name, f.Labels, r.Call)
		}
		switch r := f.Ratios[1]; r.Call {
		case compare.Lower, compare.Higher, compare.WithinNoise, compare.WithinSpread:
			if r.Rounds != 2 || r.Min > r.Median || r.Median > r.Max {
				t.Errorf("%s %v: ratio %+v", f.Name, f.Labels, r)
			}
		case compare.NoRatio:
		case compare.NotComparable: // CoreDNS on another node in one cell
			if !strings.Contains(r.Why, "pods placed differently") {
				t.Errorf("%s %v: not comparable without the placements: %q", f.Name, f.Labels, r.Why)
			}
		default:
			t.Errorf("%s %v: call %q in an interleaved comparison", f.Name, f.Labels, r.Call)
		}
	}
	for _, name := range []string{"footprint.idle.pss", "footprint.cluster.pss", "api.latency", "api.list.latency",
		"watch.delivery.latency", "pods.startup.latency", "chatter.api.requests", "machine.calibration"} {
		if !seen[name] {
			t.Errorf("no compared figure %s", name)
		}
	}
	if c.Growth == nil {
		t.Error("the comparison has no growth curves")
	}
}

// checkCellReports wants each cell's own report under cells/, with its
// suites run, every round's phases, its proxy's cross-check and its growth
// figures.
func checkCellReports(t *testing.T, out string, c *compare.Comparison) {
	t.Helper()
	for _, cell := range c.Cells {
		r, err := result.Load(filepath.Join(out, "cells", cell.Report.RunID, "report.json"))
		if err != nil {
			t.Errorf("cell %s's own report: %v", cell.Name, err)
			continue
		}
		for _, ph := range []string{"up", "footprint round 1", "footprint round 2", "bench round 1", "bench round 2", "down"} {
			if r.Phase(ph) == nil {
				t.Errorf("cell %s: no phase %q in %+v", cell.Name, ph, r.Phases)
			}
		}
		if strings.HasSuffix(cell.Name, "-control") {
			// The control takes part in the rounds only.
			if r.Phase("growth") != nil || r.Phase("conformance") != nil {
				t.Errorf("control %s ran more than the rounds: %+v", cell.Name, r.Phases)
			}
			continue
		}
		for _, ph := range []string{"cross-check", "growth", "growth after compaction", "conformance"} {
			if r.Phase(ph) == nil {
				t.Errorf("cell %s: no phase %q in %+v", cell.Name, ph, r.Phases)
			}
		}
		if cnt := r.Tests.Counts(); cnt.Passed == 0 {
			t.Errorf("cell %s: no spec passed: %+v", cell.Name, cnt)
		}
		if m := r.Measurement("growth.server.pss.per_10k", nil); m == nil || len(m.Samples) != 1 {
			t.Errorf("cell %s: growth slope %+v", cell.Name, m)
		}
		// The wait itself is job/TestGrowthAfterCompactionIntegration's
		// (minutes with the apiserver's default 5 min interval).
		if m := r.Measurement("growth.datastore.size", map[string]string{"stage": "compacted"}); m == nil || !strings.Contains(m.Missing, "not waited for") {
			t.Errorf("cell %s: the compacted point with --compaction-timeout 0: %+v, want not measured", cell.Name, m)
		}
		if m := r.Measurement("chatter.agent.crosscheck", nil); m == nil || m.SLO == nil || !m.SLO.Met {
			t.Errorf("cell %s: the agents' proxy cross-check %+v, want within its tolerance", cell.Name, m)
		}
		if m := r.Measurement("api.list.latency", nil); m == nil || m.Summary.Count != 6 {
			t.Errorf("cell %s: api.list.latency over both rounds: %+v, want 6 samples", cell.Name, m)
		}
		if m := r.Measurement("pods.startup.latency", nil); m == nil || m.Summary.Count != 20 {
			t.Errorf("cell %s: pods.startup.latency over both rounds: %+v, want 20 samples (--pods 10)", cell.Name, m)
		}
	}
}
