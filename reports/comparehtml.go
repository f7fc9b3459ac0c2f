package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/result"
)

var compareTemplate = template.Must(template.ParseFS(templateFS, "templates/compare.html.tmpl"))

type compareView struct {
	CSS        template.CSS
	Title, How string
	Baseline   string
	Cells      []string
	Rows       []compareRow
}

type compareRow struct {
	ID, Stat string
	Cells    []compareCell
	Chart    template.HTML
}

type compareCell struct {
	Value string
	Ratio *ratioView // nil for the baseline
}

type ratioView struct{ Text, Class string }

// ComparisonHTML writes a comparison as one self-contained page (inline CSS
// and SVG, nothing external): the ratio table, then a chart per figure with
// every cell's median and min–max over the rounds.
func ComparisonHTML(w io.Writer, c *compare.Comparison) error {
	v := compareView{CSS: reportCSS, How: comparisonHowText(c)}
	for _, cell := range c.Cells {
		v.Cells = append(v.Cells, cell.Name)
	}
	v.Title = strings.Join(v.Cells, " vs ")
	v.Baseline = v.Cells[0]
	for _, f := range c.Figures {
		v.Rows = append(v.Rows, compareRowOf(f, v.Cells))
	}
	var buf bytes.Buffer
	if err := compareTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("render HTML comparison: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write HTML comparison: %w", err)
	}
	return nil
}

// comparisonHowText is comparisonHow without Markdown.
func comparisonHowText(c *compare.Comparison) string {
	return strings.ReplaceAll(comparisonHow(c), "**", "")
}

func compareRowOf(f compare.Figure, cells []string) compareRow {
	row := compareRow{ID: figureID(f), Stat: f.Statistic, Chart: cellsChart(f, cells)}
	for i := range f.PerCell {
		cc := compareCell{Value: cellText(f, i)}
		if i > 0 {
			r := f.Ratios[i-1]
			cc.Ratio = &ratioView{Text: ratioText(f, r), Class: verdictClass(f.Verdict(r))}
		}
		row.Cells = append(row.Cells, cc)
	}
	return row
}

// verdictClass reuses the report's status pill colours.
func verdictClass(verdict string) string {
	switch verdict {
	case "better":
		return string(result.StatusPassed)
	case "worse":
		return string(result.StatusFailed)
	}
	return string(result.StatusSkipped)
}

// cellsChart draws one horizontal bar per cell to its median over the
// rounds, with a whisker from min to max.
func cellsChart(f compare.Figure, cells []string) template.HTML {
	const width, labelW, rowH, pad = 640.0, 160.0, 22.0, 70.0
	top := 0.0
	for _, s := range f.PerCell {
		top = math.Max(top, s.Max)
	}
	if top <= 0 {
		top = 1
	}
	scale := (width - labelW - pad) / top
	var b svgBuilder
	b.open(width, rowH*float64(len(cells))+6, figureID(f)+" "+f.Statistic)
	for i, s := range f.PerCell {
		y := 3 + rowH*float64(i)
		b.text(labelW-6, y+rowH/2+4, "end", "#333", 12, truncate(cells[i], 24))
		b.rect(labelW, y+4, s.P50*scale, rowH-8, "#4c78a8", cellText(f, i))
		b.line(labelW+s.Min*scale, y+rowH/2, labelW+s.Max*scale, y+rowH/2, "#222", 1.5, false)
		b.text(labelW+s.Max*scale+6, y+rowH/2+4, "start", "#333", 11, FormatValue(s.P50, f.Unit))
	}
	return b.close()
}
