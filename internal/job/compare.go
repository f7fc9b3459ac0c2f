package job

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/reports"
)

// CompareReports sets runs taken separately side by side (the first is the
// baseline) and writes the comparison into outDir (default: under e.OutBase,
// named like a run: "<UTC time>-compare-<n>runs"). It returns the HTML
// page's path.
func CompareReports(e Env, paths []string, outDir string) (string, error) {
	var reps []*result.Report
	for _, p := range paths {
		r, err := result.Load(p)
		if err != nil {
			return "", err
		}
		reps = append(reps, r)
	}
	c, err := compare.FromReports(reps, []string{"p50", "p99"})
	if err != nil {
		return "", err
	}
	if outDir == "" {
		outDir = filepath.Join(e.OutBase, RunID(time.Now(), "compare", fmt.Sprintf("%druns", len(reps))))
	}
	return reports.WriteComparison(c, outDir)
}
