package job

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

var testTime = mustTime()

func report(phases []result.Status, tests *result.Item, ms ...result.Measurement) *result.Report {
	r := result.New("run", testTime)
	for i, st := range phases {
		r.Phases = append(r.Phases, result.Phase{Name: []string{"build", "up", "conformance"}[i], Status: st, Error: map[bool]string{true: "", false: "boom"}[st == result.StatusPassed]})
	}
	r.Tests = tests
	r.Measurements = ms
	return r
}

func TestDecide(t *testing.T) {
	passedTree := &result.Item{Name: "c", Items: []result.Item{{Name: "a", Status: result.StatusPassed}}}
	failedTree := &result.Item{Name: "c", Items: []result.Item{{Name: "a", Status: result.StatusFailed}}}
	fast := result.NewMeasurement("api.latency", "seconds", nil, []float64{0.1}).WithSLO("p99", 1, "slo")
	slow := result.NewMeasurement("api.latency", "seconds", nil, []float64{3}).WithSLO("p99", 1, "slo")
	missing := result.NotMeasured("pods.startup.latency", "seconds", nil, "no pod ran").WithSLO("p99", 5, "slo")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		r      *result.Report
		status result.Status
		reason string
	}{
		{"all good", context.Background(), report([]result.Status{result.StatusPassed, result.StatusPassed}, passedTree, fast), result.StatusPassed, ""},
		{"failed phase", context.Background(), report([]result.Status{result.StatusPassed, result.StatusFailed}, nil), result.StatusFailed, "phase up: boom"},
		{"failed spec", context.Background(), report([]result.Status{result.StatusPassed}, failedTree), result.StatusFailed, "1 of 1 specs failed"},
		{"missed SLO", context.Background(), report([]result.Status{result.StatusPassed}, passedTree, slow), result.StatusFailed, "SLO missed: api.latency"},
		{"SLO of a figure not measured", context.Background(), report([]result.Status{result.StatusPassed}, passedTree, missing), result.StatusFailed, "pods.startup.latency map[] not measured: no pod ran"},
		{"interrupted", cancelled, report([]result.Status{result.StatusPassed}, passedTree), result.StatusFailed, "interrupted"},
	} {
		decide(tc.ctx, tc.r)
		if tc.r.Status != tc.status || !strings.Contains(tc.r.Reason, tc.reason) {
			t.Errorf("%s: status %s reason %q, want %s containing %q", tc.name, tc.r.Status, tc.r.Reason, tc.status, tc.reason)
		}
		if tc.r.FinishedAt.IsZero() {
			t.Errorf("%s: FinishedAt not set", tc.name)
		}
	}
}

func TestFinishWritesEveryFormatAndLinksLatest(t *testing.T) {
	base := t.TempDir()
	r := report([]result.Status{result.StatusPassed}, &result.Item{Name: "c", Items: []result.Item{{Name: "a", Status: result.StatusFailed}}})
	out, err := Finish(context.Background(), r, base, nil)
	if err == nil || !strings.Contains(err.Error(), "specs failed") {
		t.Fatalf("Finish of a failed run: %v", err)
	}
	if out == nil || out.Paths.JSON == "" {
		t.Fatal("a failed run must still write its report")
	}
	back, lerr := result.Load(out.Paths.JSON)
	if lerr != nil || back.Status != result.StatusFailed {
		t.Fatalf("written report: %v %+v", lerr, back)
	}
}

func mustTime() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// TestDecideNothingPassed: a report whose tests passed nothing fails, "no
// spec passed", whatever the command: a label filter selecting nothing, an
// upstream run where every spec skipped, a sonobuoy tarball whose specs were
// all dropped.
func TestDecideNothingPassed(t *testing.T) {
	for name, tree := range map[string]*result.Item{
		"filter selects nothing": {Name: "conformance", Items: []result.Item{
			{Name: "api", Items: []result.Item{{Name: "a", Status: result.StatusNotSelected}, {Name: "b", Status: result.StatusNotSelected}}}}},
		"every spec skipped": {Name: "upstream-conformance", Items: []result.Item{
			{Name: "sig-node", Items: []result.Item{{Name: "a", Status: result.StatusSkipped}}}}},
		"every spec dropped": {Name: "upstream-conformance", Status: result.StatusSkipped},
	} {
		r := report([]result.Status{result.StatusPassed}, tree)
		decide(context.Background(), r)
		if r.Status != result.StatusFailed || !strings.Contains(r.Reason, "no spec passed") {
			t.Errorf("%s: status %s reason %q, want failed: no spec passed", name, r.Status, r.Reason)
		}
	}
}

// TestDecideUnreachedSpecsFail: an interrupted suite's unreached specs are
// error leaves: the run fails on them even with nothing failed.
func TestDecideUnreachedSpecsFail(t *testing.T) {
	tree := &result.Item{Name: "conformance", Items: []result.Item{
		{Name: "a", Status: result.StatusPassed},
		{Name: "b", Status: result.StatusError, Message: result.NotRunPrefix + result.Interrupted(time.Minute)},
	}}
	r := report([]result.Status{result.StatusPassed}, tree)
	decide(context.Background(), r)
	if r.Status != result.StatusFailed || !strings.Contains(r.Reason, "1 errored") {
		t.Errorf("status %s reason %q, want failed with 1 errored", r.Status, r.Reason)
	}
}

// TestFinishKeepsTheInterrupt: Finish of an interrupted run returns an
// error that is both a failed run and the interrupt, so the CLI exits 130.
func TestFinishKeepsTheInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := report([]result.Status{result.StatusPassed}, &result.Item{Name: "c", Items: []result.Item{{Name: "a", Status: result.StatusPassed}}})
	_, err := Finish(ctx, r, t.TempDir(), nil)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrRunFailed) {
		t.Fatalf("Finish of an interrupted run: %v, want it to wrap context.Canceled and ErrRunFailed", err)
	}
}

// TestRunIDNamesReportAndRunDir: the run ID is UTC whatever the machine's
// zone, and the report of a run carries exactly it ('up' names its run
// directory with the same function).
func TestRunIDNamesReportAndRunDir(t *testing.T) {
	started := time.Date(2026, 12, 7, 9, 30, 5, 0, time.FixedZone("CET", 3600))
	const want = "20261207T083005Z-k3s-sqlite"
	if got := RunID(started, "k3s", "sqlite"); got != want {
		t.Errorf("RunID = %q, want %q", got, want)
	}
	if rep := NewReport("distrobench run", "k3s", "sqlite", started, "test"); rep.RunID != want {
		t.Errorf("NewReport's run ID = %q, want %q", rep.RunID, want)
	}
}
