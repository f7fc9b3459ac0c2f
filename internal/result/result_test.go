package result

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{5, 1, 4, 2, 3})
	if s.Count != 5 || s.Min != 1 || s.Max != 5 || s.Mean != 3 || s.P50 != 3 {
		t.Errorf("summary %+v", s)
	}
	// p90 of 1..5 is 1 + 0.9*4 = 4.6
	if math.Abs(s.P90-4.6) > 1e-9 || math.Abs(s.P99-4.96) > 1e-9 {
		t.Errorf("p90 %v p99 %v, want 4.6 and 4.96", s.P90, s.P99)
	}
	if Summarize(nil).Count != 0 {
		t.Error("empty samples must give an empty summary")
	}
	if one := Summarize([]float64{7}); one.P99 != 7 || one.Min != 7 {
		t.Errorf("single sample %+v", one)
	}
}

func TestSLOVerdict(t *testing.T) {
	m := NewMeasurement("api.latency", "seconds", nil, []float64{0.1, 0.2, 2})
	if m.WithSLO("p50", 1, "x").SLO.Met != true {
		t.Error("p50 0.2 <= 1 must be met")
	}
	if m.WithSLO("max", 1, "x").SLO.Met != false {
		t.Error("max 2 > 1 must be missed")
	}
	if NewMeasurement("x", "s", nil, nil).WithSLO("p99", 1, "x").SLO.Met {
		t.Error("an SLO over no samples must not count as met")
	}
}

func TestCountsAndRollUp(t *testing.T) {
	root := &Item{Name: "conformance", Items: []Item{
		{Name: "api", Items: []Item{
			{Name: "a", Status: StatusPassed, DurationSeconds: 1},
			{Name: "b", Status: StatusFailed, DurationSeconds: 2},
		}},
		{Name: "other", Items: []Item{{Name: "c", Status: StatusSkipped}, {Name: "d", Status: StatusError}}},
	}}
	c := root.Counts()
	if c != (Counts{Passed: 1, Failed: 1, Skipped: 1, Errored: 1}) || c.Total() != 4 {
		t.Errorf("counts %+v", c)
	}
	root.RollUp()
	if root.Status != StatusFailed || root.Items[0].Status != StatusFailed || root.Items[0].DurationSeconds != 3 {
		t.Errorf("roll-up: root %s, api %s %.0fs", root.Status, root.Items[0].Status, root.Items[0].DurationSeconds)
	}
	if leaves := root.Leaves(); len(leaves) != 4 || strings.Join(leaves[1].Path, "/") != "api/b" {
		t.Errorf("leaves %+v", leaves)
	}
}

func TestParseIsStrictAndRoundTrips(t *testing.T) {
	r := New("20260101T000000Z-k3s-sqlite", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Status = StatusPassed
	r.Measurements = []Measurement{NewMeasurement("binary.size", "bytes", map[string]string{"arch": "amd64"}, []float64{1})}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(data)
	if err != nil || back.RunID != r.RunID || back.Measurement("binary.size", map[string]string{"arch": "amd64"}) == nil {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	for name, doc := range map[string]string{
		"truncated":     string(data[:len(data)/2]),
		"unknown field": strings.Replace(string(data), `"runID"`, `"runId2": 1, "runID"`, 1),
		"foreign kind":  strings.Replace(string(data), `"RunReport"`, `"Other"`, 1),
		"trailing data": string(data) + "{}",
	} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrNotAReport) {
			t.Errorf("%s: got %v, want ErrNotAReport", name, err)
		}
	}
}

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.json")
	if err := WriteFile(path, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.json"), []byte("x")); err == nil {
		t.Error("writing into a missing directory must fail")
	}
}

// TestNotSelectedCountApart: specs the selection left out are counted apart;
// Total and the pass rate are over what was selected (a core run of 97
// specs out of 525 [Conformance] ones is 97/97, not 97/525).
func TestNotSelectedCountApart(t *testing.T) {
	root := &Item{Name: "upstream-conformance", Items: []Item{
		{Name: "sig-node", Items: []Item{{Name: "a", Status: StatusPassed}, {Name: "b", Status: StatusNotSelected}}},
		{Name: "sig-apps", Items: []Item{{Name: "c", Status: StatusNotSelected}, {Name: "d", Status: StatusNotSelected}}},
	}}
	c := root.Counts()
	if c != (Counts{Passed: 1, NotSelected: 3}) || c.Total() != 1 {
		t.Errorf("counts %+v total %d, want 1 passed of 1 selected, 3 not selected", c, c.Total())
	}
	if rate, ok := c.PassRate(); !ok || rate != 100 {
		t.Errorf("pass rate %v %v, want 100 %%", rate, ok)
	}
	if _, ok := (Counts{NotSelected: 3}).PassRate(); ok {
		t.Error("a pass rate of nothing selected")
	}
	root.RollUp()
	if root.Status != StatusPassed || root.Items[1].Status != StatusNotSelected {
		t.Errorf("roll-up: root %s, sig-apps %s; want passed, not-selected", root.Status, root.Items[1].Status)
	}
}

// TestRollUpKeepsEndedEarlyError: a producer marks an interrupted suite's
// node as error; RollUp must not turn it into "passed".
func TestRollUpKeepsEndedEarlyError(t *testing.T) {
	root := &Item{Name: "all", Items: []Item{
		{Name: "conformance", Status: StatusError, Message: "Interrupted by User", Items: []Item{{Name: "a", Status: StatusPassed}}},
	}}
	root.RollUp()
	if root.Items[0].Status != StatusError || root.Status != StatusFailed {
		t.Errorf("roll-up: conformance %s, root %s; want error kept and the root failed", root.Items[0].Status, root.Status)
	}
}

// TestOldReportsStillParse: a report written before not-selected existed
// (no notSelected field anywhere) still loads.
func TestOldReportsStillParse(t *testing.T) {
	old := `{"apiVersion":"` + APIVersion + `","kind":"` + Kind + `","runID":"r","status":"passed",
"startedAt":"2026-01-01T00:00:00Z","finishedAt":"2026-01-01T00:01:00Z","params":{"command":"c","profile":"p","datastore":"sqlite","arch":"amd64"},
"host":{"hostname":"h","os":"linux","platform":"d","kernel":"k","arch":"amd64","cpuModel":"c","cores":2,"memoryBytes":1},
"versions":{"tool":"v"},"tests":{"name":"c","status":"passed","items":[{"name":"a","status":"passed"},{"name":"b","status":"skipped","message":"not selected: mode core"}]}}`
	r, err := Parse([]byte(old))
	if err != nil {
		t.Fatalf("old report: %v", err)
	}
	if c := r.Tests.Counts(); c != (Counts{Passed: 1, Skipped: 1}) {
		t.Errorf("old report counts %+v", c)
	}
}
