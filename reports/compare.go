package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/result"
)

// ComparisonMarkdown writes a comparison as Markdown: how it was taken
// (interleaved or not, rounds, seed), then one row per figure with each
// cell's median over the rounds and, for every cell but the baseline, the
// median ratio to the baseline with its min–max and the verdict.
func ComparisonMarkdown(w io.Writer, c *compare.Comparison) error {
	var b bytes.Buffer
	names := make([]string, len(c.Cells))
	for i, cell := range c.Cells {
		names[i] = mdInline(cell.Name)
	}
	fmt.Fprintf(&b, "## distrobench comparison: %s\n\n", strings.Join(names, " vs "))
	b.WriteString(comparisonHow(c) + "\n\n")
	b.WriteString("| Figure | stat | " + names[0] + " (baseline) |")
	for _, n := range names[1:] {
		b.WriteString(" " + n + " |")
	}
	b.WriteString("\n| --- | --- | ---: |" + strings.Repeat(" ---: |", len(names)-1) + "\n")
	for _, f := range c.Figures {
		fmt.Fprintf(&b, "| `%s` | %s | %s |", mdCode(figureID(f)), f.Statistic, cellText(f, 0))
		for i, r := range f.Ratios {
			fmt.Fprintf(&b, " %s<br>%s |", cellText(f, i+1), mdInline(ratioText(f, r)))
		}
		b.WriteString("\n")
	}
	b.WriteString("\nEach cell: the statistic's median over the rounds (n = rounds) and its min–max. " +
		"Ratio: the median of the per-round ratios to the baseline, with their min–max; " +
		"better/worse only when every round agrees on its side of 1, else within noise.\n")
	_, err := w.Write(b.Bytes())
	return err
}

// ratioText is "×0.52 (0.50–0.55) better", or why there is no ratio.
func ratioText(f compare.Figure, r compare.Ratio) string {
	if r.Call == compare.NoRatio {
		return f.Verdict(r)
	}
	return fmt.Sprintf("×%.2f (%.2f–%.2f) %s", r.Median, r.Min, r.Max, f.Verdict(r))
}

// comparisonHow says how the comparison was taken.
func comparisonHow(c *compare.Comparison) string {
	if !c.Interleaved {
		return fmt.Sprintf("**Not interleaved** (%s): the cells were measured at different times, so no difference is called.", mdInline(c.Why))
	}
	return fmt.Sprintf("Interleaved: %d rounds, every cell the same workload in each round, order shuffled with seed %d.", c.Rounds, c.Seed)
}

// cellText is one cell's median over the rounds with its min–max.
func cellText(f compare.Figure, cell int) string {
	m := &result.Measurement{Unit: f.Unit, Summary: f.PerCell[cell]}
	v := FormatValue(m.Summary.P50, f.Unit)
	if m.Summary.Min == m.Summary.Max {
		return v
	}
	return v + " (" + rangeText(m) + ")"
}

// figureID is "name{k=v, ...}" (the cell's own labels are not in it).
func figureID(f compare.Figure) string { return nameWithLabels(f.Name, f.Labels) }

// ComparisonJSON writes the comparison document as indented JSON, each
// cell's report passed through the same redaction as report.json.
func ComparisonJSON(w io.Writer, c *compare.Comparison) error {
	out := *c
	out.Cells = make([]compare.Cell, len(c.Cells))
	for i, cell := range c.Cells {
		out.Cells[i] = cell
		if cell.Report != nil {
			out.Cells[i].Report = sanitize(cell.Report)
		}
	}
	data, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return fmt.Errorf("encode comparison: %w", err)
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("write JSON comparison: %w", err)
	}
	return nil
}

// Files of a comparison in its directory.
const (
	FileComparisonJSON     = "comparison.json"
	FileComparisonHTML     = "comparison.html"
	FileComparisonMarkdown = "comparison.md"
)

// WriteComparison renders the comparison into dir as comparison.json,
// comparison.html and comparison.md, all or nothing (see writeRendered),
// and returns the HTML page's path.
func WriteComparison(c *compare.Comparison, dir string) (string, error) {
	with := func(render func(io.Writer, *compare.Comparison) error) func(io.Writer) error {
		return func(w io.Writer) error { return render(w, c) }
	}
	page := filepath.Join(dir, FileComparisonHTML)
	err := writeRendered(dir, []renderedFile{
		{filepath.Join(dir, FileComparisonJSON), with(ComparisonJSON)},
		{page, with(ComparisonHTML)},
		{filepath.Join(dir, FileComparisonMarkdown), with(ComparisonMarkdown)},
	})
	return page, err
}
