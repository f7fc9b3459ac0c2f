package job

import (
	"context"
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
