package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/reports"
)

func newCompareCmd(g *globals) *cobra.Command {
	var outDir string
	cmd := &cobra.Command{
		Use:   "compare REPORT.json REPORT.json [REPORT.json...]",
		Short: "Set runs side by side: each figure per run and its ratio to the first run",
		Long: `Read two or more runs' report.json (the first is the baseline) and write one
comparison (comparison.json, a self-contained comparison.html, comparison.md):
for every figure all runs measured, each run's value and its ratio to the
baseline. Runs taken separately were not interleaved: the machine may have
drifted between them, so the comparison shows the ratios but calls no
difference (better/worse is only called over interleaved rounds).`,
		Example: `  distrobench compare reports/out/20261207T072154Z-k3s-sqlite/report.json reports/out/20261207T072849Z-k3s-postgres/report.json`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			var reps []*result.Report
			for _, a := range args {
				if ext := strings.ToLower(filepath.Ext(a)); ext == ".yaml" || ext == ".yml" {
					return fmt.Errorf("%s: comparing a matrix's cells in one interleaved run is not built yet; run 'distrobench matrix %s' and compare the cells' report.json files", a, a)
				}
				r, err := result.Load(a)
				if err != nil {
					return err
				}
				reps = append(reps, r)
			}
			c, err := compare.FromReports(reps, []string{"p50", "p99"})
			if err != nil {
				return err
			}
			if outDir == "" {
				outDir = filepath.Join(g.outBase(), time.Now().UTC().Format("20060102T150405Z")+"-compare")
			}
			page, err := reports.WriteComparison(c, outDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "compared %d runs (not interleaved): %s\n", len(reps), page)
			return nil
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "", "directory for the comparison (default: reports/out/<UTC time>-compare)")
	return cmd
}
