package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/reports"
)

var reportFiles = map[string]string{reports.FormatJSON: reports.FileJSON, reports.FormatHTML: reports.FileHTML,
	reports.FormatJUnit: reports.FileJUnit, reports.FormatMarkdown: reports.FileMarkdown}

func newReportCmd(g *globals) *cobra.Command {
	var (
		from   string
		format string
		outDir string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Re-render a run's report (HTML, JUnit, Markdown) from its JSON",
		Long: `Read a run's canonical JSON (strictly: a corrupt or foreign document is an
error and nothing is written) and render it again: all formats into --out
(default: the JSON's directory), or one format to standard output with --format X --out -.`,
		Example: `  distrobench report --from reports/out/latest/report.json
  distrobench report --from report.json --format md --out -   # Markdown to stdout (CI step summary)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return fmt.Errorf("--from REPORT.json is required (runs write it as reports/out/<run>/report.json)")
			}
			// Load first: nothing is written unless the input is a valid report.
			rep, err := result.Load(from)
			if err != nil {
				return err
			}
			if outDir == "-" {
				if format == "all" {
					return fmt.Errorf("--out - needs one --format (json, html, junit, md)")
				}
				var buf bytes.Buffer
				if err := reports.Render(rep, format, &buf); err != nil {
					return err
				}
				_, err := g.stdout.Write(buf.Bytes())
				return err
			}
			if outDir == "" {
				outDir = filepath.Dir(from)
			}
			if format == "all" {
				paths, err := reports.WriteAll(rep, outDir)
				if err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "%s\n%s\n%s\n%s\n", paths.HTML, paths.JSON, paths.JUnit, paths.Markdown)
				return nil
			}
			name, ok := reportFiles[format]
			if !ok {
				return fmt.Errorf("unknown format %q (valid: all, %s)", format, strings.Join(reports.Formats(), ", "))
			}
			var buf bytes.Buffer
			if err := reports.Render(rep, format, &buf); err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return fmt.Errorf("create %s: %w", outDir, err)
			}
			path := filepath.Join(outDir, name)
			if err := result.WriteFile(path, buf.Bytes()); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the run's report.json")
	cmd.Flags().StringVar(&format, "format", "all", "all, "+strings.Join(reports.Formats(), ", "))
	cmd.Flags().StringVar(&outDir, "out", "", "output directory, or - for standard output (default: next to --from)")
	return cmd
}
