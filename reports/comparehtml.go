package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"
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
	Growth     *growthView // nil without growth
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
// every cell's median and min–max over the rounds; then, when the cells
// measured growth, a line chart and a table per growth figure and the
// slopes.
func ComparisonHTML(w io.Writer, c *compare.Comparison) error {
	v := compareView{CSS: reportCSS, How: comparisonHowText(c), Growth: growthViewOf(c.Growth)}
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

// comparisonHowText is comparisonHow without Markdown (html/template
// escapes it).
func comparisonHowText(c *compare.Comparison) string {
	return howText(c, func(s string) string { return s }, "")
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

// growthView is the page's growth section: a chart and a table per
// figure, then the slopes.
type growthView struct {
	Note   string
	Charts []growthChartView
	Slopes growthTableView
}

type growthChartView struct {
	Table growthTableView
	Chart template.HTML
}

// growthTableView is a growth table with its columns' cell names.
type growthTableView struct {
	growthTable
	Cells []string
}

// growthViewOf is g for the page, nil without growth.
func growthViewOf(g *compare.Growth) *growthView {
	if g == nil {
		return nil
	}
	v := &growthView{Note: growthNote, Slopes: growthTableView{slopeTable(g.Slopes), g.Cells}}
	for _, m := range g.Metrics {
		v.Charts = append(v.Charts, growthChartView{Table: growthTableView{metricTable(m), g.Cells}, Chart: growthChart(m, g.Cells)})
	}
	return v
}

// Layout of a growth chart.
const (
	growthW, growthLeft, growthRight = 640.0, 78.0, 24.0
	growthTop, growthPlotH, growthH  = 30.0, 200.0, 262.0
)

// seriesColors tell the cells' lines apart, in cell order (repeating past
// six cells).
var seriesColors = []string{colP50, "#bc4c00", "#1a7f37", "#8250df", "#bf3989", colMuted}

// growthScale maps objects and values into a growth chart, both from 0.
type growthScale struct{ maxX, maxY float64 }

func (s growthScale) x(objects int) float64 {
	return growthLeft + (growthW-growthLeft-growthRight)*float64(objects)/s.maxX
}

func (s growthScale) y(v float64) float64 { return growthTop + growthPlotH*(1-math.Max(v, 0)/s.maxY) }

// growthScaleOf fits every measured value of m, the compacted ones too,
// and says whether there is one.
func growthScaleOf(m compare.GrowthMetric) (growthScale, bool) {
	s, measured := growthScale{maxX: 1}, false
	for _, c := range m.PerCell {
		for _, p := range append(slices.Clone(c.Points), compactedPoints(c)...) {
			if p.Missing == "" {
				s.maxX, s.maxY = math.Max(s.maxX, float64(p.Objects)), math.Max(s.maxY, p.Value)
				measured = true
			}
		}
	}
	if s.maxY <= 0 {
		s.maxY = 1
	}
	s.maxY *= 1.05
	return s, measured
}

func compactedPoints(c compare.GrowthCurve) []compare.GrowthPoint {
	if c.Compacted == nil {
		return nil
	}
	return []compare.GrowthPoint{*c.Compacted}
}

// growthChart draws a figure's curve per cell, x the objects stored and y
// the value, both from 0 (a straight line is a constant cost per object).
// A point not measured is left out of its line (the table says why); the
// value after compaction, every object deleted, is a hollow marker at 0
// objects. Nothing is drawn when no cell measured the figure.
func growthChart(m compare.GrowthMetric, cells []string) template.HTML {
	s, measured := growthScaleOf(m)
	if !measured {
		return ""
	}
	var b svgBuilder
	b.open(growthW, growthH, strings.TrimSpace(m.Name+" "+m.Statistic)+" by objects stored, one line per cell")
	growthLegend(&b, m, cells)
	growthAxes(&b, m, s)
	for i, c := range m.PerCell {
		growthLine(&b, m, c, s, cells[i], seriesColors[i%len(seriesColors)])
	}
	return b.close()
}

// growthLegend names each cell's colour, and the compaction marker.
func growthLegend(b *svgBuilder, m compare.GrowthMetric, cells []string) {
	x := growthLeft
	for i, name := range cells {
		b.line(x, 10, x+16, 10, seriesColors[i%len(seriesColors)], 2.5, false)
		name = truncate(name, 20)
		b.text(x+20, 14, "start", colText, 11, name)
		x += 30 + 6.5*float64(len([]rune(name)))
	}
	if slices.ContainsFunc(m.PerCell, func(c compare.GrowthCurve) bool { return c.Compacted != nil && c.Compacted.Missing == "" }) {
		growthMarker(b, x+4, 10, colText, true, "")
		b.text(x+12, 14, "start", colText, 11, "after compaction (all deleted)")
	}
}

// growthAxes draws both axes, the object counts measured and the value
// range.
func growthAxes(b *svgBuilder, m compare.GrowthMetric, s growthScale) {
	base := growthTop + growthPlotH
	b.line(growthLeft, base, growthW-growthRight, base, colAxis, 1, false)
	b.line(growthLeft, growthTop, growthLeft, base, colAxis, 1, false)
	b.text(growthLeft-6, base+4, "end", colMuted, 10, FormatValue(0, m.Unit))
	b.text(growthLeft-6, growthTop+4, "end", colMuted, 10, FormatValue(s.maxY, m.Unit))
	// From the largest count down, a label only where it does not overlap
	// the one to its right: the steps before 0.
	last := math.Inf(1)
	counts := append([]int{0}, objectCounts(m)...)
	for _, n := range slices.Backward(counts) {
		if x := s.x(n); last-x >= 36 {
			b.line(x, base, x, base+4, colAxis, 1, false)
			b.text(x, base+16, "middle", colMuted, 10, strconv.Itoa(n))
			last = x
		}
	}
	b.text((growthLeft+growthW-growthRight)/2, growthH-4, "middle", colMuted, 10.5, "objects stored")
}

// growthLine draws one cell's curve and its compacted marker.
func growthLine(b *svgBuilder, m compare.GrowthMetric, c compare.GrowthCurve, s growthScale, cell, color string) {
	var pts []string
	for _, p := range c.Points {
		if p.Missing == "" {
			pts = append(pts, f1(s.x(p.Objects))+","+f1(s.y(p.Value)))
		}
	}
	if len(pts) > 1 {
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`, strings.Join(pts, " "), color)
	}
	for _, p := range c.Points {
		if p.Missing == "" {
			growthMarker(b, s.x(p.Objects), s.y(p.Value), color, false,
				fmt.Sprintf("%s, %d objects: %s", cell, p.Objects, pointText(m, &p)))
		}
	}
	if c.Compacted != nil && c.Compacted.Missing == "" {
		growthMarker(b, s.x(0), s.y(c.Compacted.Value), color, true, cell+", after compaction: "+pointText(m, c.Compacted))
	}
}

// growthMarker is a point, filled or hollow, with a tooltip.
func growthMarker(b *svgBuilder, x, y float64, color string, hollow bool, title string) {
	fill := color
	if hollow {
		fill = "#fff"
	}
	fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3.5" fill="%s" stroke="%s" stroke-width="1.5">`, f1(x), f1(y), fill, color)
	if title != "" {
		fmt.Fprintf(b, `<title>%s</title>`, esc(title))
	}
	b.WriteString(`</circle>`)
}
