package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/reports"
)

// writeReport writes a minimal run report with one create latency figure.
func writeReport(t *testing.T, dir, datastore string, create []float64) string {
	t.Helper()
	r := job.NewReport("distrobench run", "k3s", datastore, time.Now(), "test")
	r.Status = result.StatusPassed
	r.Measurements = []result.Measurement{result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "create", "datastore": datastore}, create)}
	p := filepath.Join(dir, datastore+".json")
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareReports(t *testing.T) {
	dir := t.TempDir()
	a := writeReport(t, dir, "sqlite", []float64{0.007, 0.008})
	b := writeReport(t, dir, "postgres", []float64{0.014, 0.016})
	out := filepath.Join(dir, "cmp")
	stdout, _, err := run(t, "compare", a, b, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "not interleaved") {
		t.Errorf("stdout %q does not say the runs were not interleaved", stdout)
	}
	md, err := os.ReadFile(filepath.Join(out, reports.FileComparisonMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "×2.00") || !strings.Contains(string(md), "not interleaved") {
		t.Errorf("comparison.md lacks the ratio or the not-interleaved label:\n%s", md)
	}
	for _, f := range []string{reports.FileComparisonJSON, reports.FileComparisonHTML} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
}

func TestCompareRefusesWhatItCannotCompare(t *testing.T) {
	dir := t.TempDir()
	a := writeReport(t, dir, "sqlite", []float64{0.007})
	notJSON := filepath.Join(dir, "notes.json")
	if err := os.WriteFile(notJSON, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"compare"}, "requires at least 1 arg"},
		{[]string{"compare", a}, "a matrix file, or two or more report.json files"},
		{[]string{"compare", a, notJSON}, "not a distrobench run report"},
		{[]string{"compare", "../../profiles/matrix/datastores.yaml", a}, "takes one matrix file"},
		{[]string{"compare", "../../profiles/matrix/datastores.yaml", "--rounds", "0"}, "--rounds 0"},
		{[]string{"compare", "../../profiles/matrix/datastores.yaml", "--growth-steps", "1000,500"}, "ascending"},
		{[]string{"compare", "../../profiles/matrix/datastores.yaml", "--list-objects", "-1"}, "--list-objects"},
		{[]string{"compare", "../../profiles/matrix/datastores.yaml", "--compaction-timeout", "-1m"}, "--compaction-timeout -1m0s"},
	} {
		_, _, err := run(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want it to say %q", tt.args, err, tt.want)
		}
		if ExitCode(err) != 2 {
			t.Errorf("%v: exit code %d, want 2 (bad input)", tt.args, ExitCode(err))
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir)); len(entries) != 2 {
		t.Errorf("a refused comparison wrote files: %v", entries)
	}
}

func TestMetricsAddrBadInput(t *testing.T) {
	_, _, err := run(t, "--metrics-addr", "a:b:c", "profiles")
	if err == nil || !strings.Contains(err.Error(), "--metrics-addr") || ExitCode(err) != 2 {
		t.Errorf("--metrics-addr a:b:c: error %v (exit %d), want bad input naming the flag", err, ExitCode(err))
	}
}
