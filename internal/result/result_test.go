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

func TestSummarizeNearestRank(t *testing.T) {
	s := Summarize([]float64{5, 1, 4, 2, 3})
	if s.Count != 5 || s.Min != 1 || s.Max != 5 || s.Mean != 3 || s.P50 != 3 {
		t.Errorf("summary %+v", s)
	}
	// Nearest rank: p90 of 5 samples is rank ceil(4.5) = 5, a measured
	// sample, not 4.6 interpolated between samples.
	if s.P90 != 5 || s.P99 != 5 {
		t.Errorf("p90 %v p99 %v, want 5 and 5", s.P90, s.P99)
	}
	if Summarize(nil).Count != 0 {
		t.Error("empty samples must give an empty summary")
	}
	if one := Summarize([]float64{7}); one.P99 != 7 || one.Min != 7 || one.StdDev != 0 || one.HasCV() {
		t.Errorf("single sample %+v", one)
	}
	// 1..200 in reverse: p50 is rank 100, p90 rank 180, p99 rank 198.
	var many []float64
	for i := 200; i >= 1; i-- {
		many = append(many, float64(i))
	}
	if s := Summarize(many); s.P50 != 100 || s.P90 != 180 || s.P99 != 198 {
		t.Errorf("1..200: p50 %v p90 %v p99 %v, want 100, 180, 198", s.P50, s.P90, s.P99)
	}
}

func TestRank(t *testing.T) {
	for _, tc := range []struct{ percent, n, want int }{
		{99, 100, 99}, {99, 99, 99}, {99, 30, 30}, {99, 1000, 990}, {99, 101, 100},
		{90, 10, 9}, {90, 9, 9}, {50, 1, 1}, {50, 2, 1}, {50, 3, 2}, {50, 0, 0},
	} {
		if got := Rank(tc.percent, tc.n); got != tc.want {
			t.Errorf("Rank(%d, %d) = %d, want %d", tc.percent, tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		stat string
		n    int
		want bool
	}{
		{"p99", 99, true}, {"p99", 30, true}, {"p99", 100, false}, {"p90", 9, true}, {"p90", 10, false},
		{"p50", 2, false}, {"p99", 1, false}, {"max", 5, false},
	} {
		if got := IsMax(tc.stat, tc.n); got != tc.want {
			t.Errorf("IsMax(%s, %d) = %v, want %v", tc.stat, tc.n, got, tc.want)
		}
	}
}

func TestStdDevAndCV(t *testing.T) {
	// Mean 5; squared deviations sum to 32: the sample variance (n-1) is
	// 32/7, the population variance (n) would be 4.
	s := Summarize([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if want := math.Sqrt(32.0 / 7); math.Abs(s.StdDev-want) > 1e-12 {
		t.Errorf("stddev %v, want the sample standard deviation %v", s.StdDev, want)
	}
	if want := math.Sqrt(32.0/7) / 5; math.Abs(s.CV-want) > 1e-12 || !s.HasCV() {
		t.Errorf("cv %v (defined %v), want %v", s.CV, s.HasCV(), want)
	}
	if z := Summarize([]float64{0, 0, 0}); z.HasCV() || z.CV != 0 {
		t.Errorf("a zero mean has no CV: %+v", z)
	}
	if c := Summarize([]float64{3, 3}); !c.HasCV() || c.CV != 0 || c.StdDev != 0 {
		t.Errorf("constant samples: %+v, want a defined CV of 0", c)
	}
}

// podStartup is issue 11 defect 6: 29 pods start in 2 s and one in 5.6 s.
func podStartup() Measurement {
	samples := make([]float64, 0, 30)
	for range 29 {
		samples = append(samples, 2)
	}
	return NewMeasurement("pods.startup.latency", "seconds", nil, append(samples, 5.6))
}

func TestP99OfThirtySamplesIsTheSlowest(t *testing.T) {
	m := podStartup().WithSLO("p99", 5, "Kubernetes pod startup latency SLO")
	if m.Summary.P99 != 5.6 {
		t.Errorf("p99 of 30 samples = %v, want the slowest sample 5.6 (nearest rank 30 of 30)", m.Summary.P99)
	}
	if m.SLO.Met {
		t.Error(`"p99 <= 5 s" is met although a pod took 5.6 s of 30`)
	}
}

func TestParseConvertsV1Alpha1(t *testing.T) {
	r := New("20260101T000000Z-k3s-sqlite", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r.Status = StatusPassed
	m := podStartup()
	// What v1alpha1 wrote: the interpolated p99 (2 + 3.6*0.71) and a met SLO.
	m.Summary = Summary{Count: 30, Min: 2, Max: 5.6, Mean: 2.12, P50: 2, P90: 2, P99: 4.556}
	m.SLO = &SLO{Statistic: "p99", Threshold: 5, Met: true, Source: "slo"}
	r.Measurements = []Measurement{m}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	old := strings.Replace(string(data), `"`+APIVersion+`"`, `"`+APIVersionV1Alpha1+`"`, 1)
	for _, field := range []string{`"stddev": 0,`, `"cv": 0,`} {
		old = strings.Replace(old, field, "", 1) // v1alpha1 had neither field
	}
	if !strings.Contains(old, APIVersionV1Alpha1) || strings.Contains(old, "stddev") {
		t.Fatalf("test document is not a v1alpha1 report:\n%s", old)
	}
	back, err := Parse([]byte(old))
	if err != nil {
		t.Fatalf("v1alpha1 report does not parse: %v", err)
	}
	got := back.Measurements[0]
	if back.APIVersion != APIVersion || got.Summary.P99 != 5.6 || got.Summary.P50 != 2 || got.Summary.StdDev <= 0 || !got.Summary.HasCV() {
		t.Errorf("converted report %s, summary %+v; want %s and the summary recomputed from the samples", back.APIVersion, got.Summary, APIVersion)
	}
	if got.SLO == nil || got.SLO.Met || got.SLO.Threshold != 5 || got.SLO.Source != "slo" {
		t.Errorf("converted SLO %+v, want p99 <= 5 judged again on 5.6 (missed)", got.SLO)
	}
	if back.Status != StatusPassed {
		t.Errorf("the recorded run status changed to %s", back.Status)
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
		"truncated":       string(data[:len(data)/2]),
		"unknown field":   strings.Replace(string(data), `"runID"`, `"runId2": 1, "runID"`, 1),
		"foreign kind":    strings.Replace(string(data), `"RunReport"`, `"Other"`, 1),
		"unknown version": strings.Replace(string(data), APIVersion, "distrobench.io/v1alpha0", 1),
		"trailing data":   string(data) + "{}",
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
