package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/job"
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
		RunE: func(cmd *cobra.Command, args []string) error {
			page, err := job.CompareReports(g.env(cmd), args, outDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "compared %d runs (not interleaved): %s\n", len(args), page)
			return nil
		},
	}
	cmd.Flags().StringVar(&outDir, "out", "", "directory for the comparison (default: reports/out/<UTC time>-compare-<n>runs)")
	return cmd
}
