package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
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
	fmt.Fprintf(&b, "\nEach cell: the statistic's median over the rounds (n = rounds) and its min–max. "+
		"Ratio: the median of the per-round ratios to the baseline, with their min–max; "+
		"better/worse only when every round agrees on its side of 1, else within noise, "+
		"and (with an A/A control) when it clears the control's spread %d times over (see above), else within A/A spread; "+
		"not comparable when the figure depends on which node the pods ran on and the cells' pods were placed differently.\n", compare.ControlMargin)
	growthMarkdown(&b, c.Growth)
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

// comparisonHow says how the comparison was taken, and how memory decided
// it when the run says.
func comparisonHow(c *compare.Comparison) string { return howText(c, mdInline, "**") }

// howText is comparisonHow with free text passed through inline and the
// emphasis marked by strong, so HTML gets it without Markdown escapes.
func howText(c *compare.Comparison, inline func(string) string, strong string) string {
	how := fmt.Sprintf("Interleaved: %d rounds, every cell the same workload in each round, order shuffled with seed %d.", c.Rounds, c.Seed)
	if !c.Interleaved {
		how = fmt.Sprintf("%sNot interleaved%s (%s): the cells were measured at different times, so no difference is called.", strong, strong, inline(c.Why))
	}
	if c.Memory != "" {
		how += " Memory: " + inline(c.Memory)
	}
	return how + controlText(c, inline)
}

// controlText says which cell is the A/A control and how far it strayed
// from the baseline, per unit and statistic ("" without a control).
func controlText(c *compare.Comparison, inline func(string) string) string {
	if c.Control <= 0 || c.Control >= len(c.Cells) {
		return ""
	}
	widths := make([]string, len(c.Spreads))
	for i, sp := range c.Spreads {
		by := fmt.Sprintf("×%.2f", sp.Width)
		if sp.Offset > 0 {
			by = "±" + FormatValue(sp.Offset, sp.Unit)
		}
		widths[i] = fmt.Sprintf("%s %s %s (%s, over %d figures)", sp.Unit, sp.Statistic, by, sp.Figure, sp.Figures)
	}
	return fmt.Sprintf(" A/A control: %s, the baseline brought up a second time; a difference every round agrees on is called only when it is %g times beyond the widest the control showed, either way, in figures of its unit and statistic (memory: the difference of medians against the control's widest; other units: the median ratio against the control's widest, in logarithms), else within A/A spread. The control's widest: %s.",
		inline(c.Cells[c.Control].Name), c.ControlMargin, inline(strings.Join(widths, "; ")))
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

// growthNote says why growth has no ratios; both renderers show it.
const growthNote = "Growth is measured once per cell, not in interleaved rounds: " +
	"the values are for reading, and no difference is called between the cells."

// growthTable is one growth table, a column per cell: a row per object
// count (then after compaction) for a figure, a row per slope for the
// slopes. Both renderers draw it.
type growthTable struct {
	Title, Head string // Head names the rows' column
	Rows        []growthRow
}

type growthRow struct {
	Label string
	Cells []string
}

// growthTables are g's figure tables in order, then its slopes table when
// a cell recorded slopes.
func growthTables(g *compare.Growth) []growthTable {
	var out []growthTable
	for _, m := range g.Metrics {
		out = append(out, metricTable(m))
	}
	if len(g.Slopes) == 0 {
		return out
	}
	return append(out, slopeTable(g.Slopes))
}

// metricTable is one figure's value per object count and cell.
func metricTable(m compare.GrowthMetric) growthTable {
	t := growthTable{Title: strings.TrimSpace(m.Name + " " + m.Statistic), Head: "objects"}
	for _, n := range objectCounts(m) {
		row := growthRow{Label: strconv.Itoa(n)}
		for _, c := range m.PerCell {
			row.Cells = append(row.Cells, pointText(m, pointAt(c.Points, n)))
		}
		t.Rows = append(t.Rows, row)
	}
	if slices.ContainsFunc(m.PerCell, func(c compare.GrowthCurve) bool { return c.Compacted != nil }) {
		row := growthRow{Label: "after compaction"}
		for _, c := range m.PerCell {
			row.Cells = append(row.Cells, pointText(m, c.Compacted))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// slopeTable is every slope per cell.
func slopeTable(slopes []compare.GrowthSlope) growthTable {
	t := growthTable{Title: "Slopes: added per 10 000 objects (least squares over the steps)", Head: "figure"}
	for _, s := range slopes {
		row := growthRow{Label: s.Name}
		for _, v := range s.PerCell {
			row.Cells = append(row.Cells, growthValueText(v, s.Unit, ""))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// objectCounts are the object counts any cell measured m at, ascending.
func objectCounts(m compare.GrowthMetric) []int {
	var out []int
	for _, c := range m.PerCell {
		for _, p := range c.Points {
			out = append(out, p.Objects)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// pointAt is the point at n objects, or nil.
func pointAt(ps []compare.GrowthPoint, n int) *compare.GrowthPoint {
	for i := range ps {
		if ps[i].Objects == n {
			return &ps[i]
		}
	}
	return nil
}

// pointText is a point's value, or "–" where the cell has none.
func pointText(m compare.GrowthMetric, p *compare.GrowthPoint) string {
	if p == nil {
		return "–"
	}
	return growthValueText(p.GrowthValue, m.Unit, m.Statistic)
}

// growthValueText is "41.0 ms", "max 41.0 ms" where the percentile stat is
// the largest of its samples, or why there is no value.
func growthValueText(v compare.GrowthValue, unit, stat string) string {
	if v.Missing != "" {
		return missingText(&result.Measurement{Missing: v.Missing})
	}
	text := FormatValue(v.Value, unit)
	if result.IsMax(stat, v.N) {
		return "max " + text
	}
	return text
}

// growthMarkdown writes the growth section, when there is growth.
func growthMarkdown(b *bytes.Buffer, g *compare.Growth) {
	if g == nil {
		return
	}
	names := make([]string, len(g.Cells))
	for i, n := range g.Cells {
		names[i] = mdInline(n)
	}
	b.WriteString("\n### Growth\n\n" + growthNote + "\n")
	for _, t := range growthTables(g) {
		fmt.Fprintf(b, "\n#### %s\n\n| %s | %s |\n| --- |%s\n", mdInline(t.Title), t.Head,
			strings.Join(names, " | "), strings.Repeat(" ---: |", len(names)))
		for _, r := range t.Rows {
			fmt.Fprintf(b, "| %s |", mdInline(r.Label))
			for _, c := range r.Cells {
				b.WriteString(" " + mdInline(c) + " |")
			}
			b.WriteString("\n")
		}
	}
}

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
