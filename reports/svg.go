package reports

// The charts are a few rectangles, lines and labels each, so they are written
// here as SVG text rather than pulling a charting library (and its fonts and
// scripts) into a page that must open offline.

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/distrobench/distrobench/internal/result"
)

// Palette shared by charts and CSS (see report.css).
const (
	colPassed  = "#1a7f37"
	colFailed  = "#cf222e"
	colSkipped = "#9a6700"
	colError   = "#bc4c00"
	colP50     = "#0969da"
	colP99     = "#8cc4ff"
	colAxis    = "#8c959f"
	colText    = "#1f2328"
	colMuted   = "#57606a"
)

func statusColor(s result.Status) string {
	switch s {
	case result.StatusPassed:
		return colPassed
	case result.StatusFailed:
		return colFailed
	case result.StatusSkipped:
		return colSkipped
	case result.StatusNotSelected:
		return colMuted
	}
	return colError
}

// svgBuilder accumulates SVG markup. Text goes through esc; numbers are
// printed with fixed precision so output is deterministic.
type svgBuilder struct {
	strings.Builder
}

func esc(s string) string { return template.HTMLEscapeString(s) }

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

func (b *svgBuilder) open(w, h float64, label string) {
	fmt.Fprintf(b, `<svg class="chart" role="img" aria-label="%s" width="%s" height="%s" viewBox="0 0 %s %s">`,
		esc(label), f1(w), f1(h), f1(w), f1(h))
	fmt.Fprintf(b, `<title>%s</title>`, esc(label))
}

// openStretched starts an SVG that fills its container's width (the
// stacked test bar).
func (b *svgBuilder) openStretched(w, h float64, label string) {
	fmt.Fprintf(b, `<svg class="bar" role="img" aria-label="%s" viewBox="0 0 %s %s" preserveAspectRatio="none">`,
		esc(label), f1(w), f1(h))
	fmt.Fprintf(b, `<title>%s</title>`, esc(label))
}

func (b *svgBuilder) rect(x, y, w, h float64, fill, title string) {
	if w < 0 {
		w = 0
	}
	fmt.Fprintf(b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s">`, f1(x), f1(y), f1(w), f1(h), fill)
	if title != "" {
		fmt.Fprintf(b, `<title>%s</title>`, esc(title))
	}
	b.WriteString(`</rect>`)
}

func (b *svgBuilder) line(x1, y1, x2, y2 float64, stroke string, width float64, dashed bool) {
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="3 2"`
	}
	fmt.Fprintf(b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>`,
		f1(x1), f1(y1), f1(x2), f1(y2), stroke, f1(width), dash)
}

// text anchors: "start", "middle", "end".
func (b *svgBuilder) text(x, y float64, anchor, fill string, size float64, s string) {
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="%s" fill="%s" font-size="%s">%s</text>`,
		f1(x), f1(y), anchor, fill, f1(size), esc(s))
}

// haloText is text with a white outline, legible over bars and lines.
func (b *svgBuilder) haloText(x, y float64, anchor, fill string, size float64, s string) {
	fmt.Fprintf(b, `<text x="%s" y="%s" text-anchor="%s" fill="%s" font-size="%s" stroke="#fff" stroke-width="3" paint-order="stroke">%s</text>`,
		f1(x), f1(y), anchor, fill, f1(size), esc(s))
}

func (b *svgBuilder) close() template.HTML {
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // every text node above is escaped
}

// truncate cuts s to n runes with an ellipsis so labels fit their column.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// countsBar is a stacked bar of leaf test outcomes.
func countsBar(c result.Counts) template.HTML {
	total := c.Total()
	if total == 0 {
		return ""
	}
	const w, h = 1000.0, 18.0
	var b svgBuilder
	b.openStretched(w, h, fmt.Sprintf("%d passed, %d failed, %d skipped, %d errored", c.Passed, c.Failed, c.Skipped, c.Errored))
	x := 0.0
	for _, seg := range []struct {
		n     int
		color string
		what  string
	}{
		{c.Passed, colPassed, "passed"}, {c.Failed, colFailed, "failed"},
		{c.Errored, colError, "errored"}, {c.Skipped, colSkipped, "skipped"},
	} {
		if seg.n == 0 {
			continue
		}
		sw := w * float64(seg.n) / float64(total)
		b.rect(x, 0, sw, h, seg.color, fmt.Sprintf("%d %s", seg.n, seg.what))
		x += sw
	}
	return b.close()
}

// phaseChart is a timeline of the run's phases: each bar starts at the
// phase's offset from the run start. Phases without a start time are laid
// end to end.
func phaseChart(r *result.Report) template.HTML {
	if len(r.Phases) == 0 {
		return ""
	}
	type span struct {
		name        string
		status      result.Status
		start, dur  float64
		durationTxt string
	}
	spans := make([]span, len(r.Phases))
	cursor, end := 0.0, 0.0
	for i, ph := range r.Phases {
		s := span{name: ph.Name, status: ph.Status, dur: math.Max(ph.DurationSeconds, 0), durationTxt: FormatSeconds(ph.DurationSeconds)}
		if !ph.StartedAt.IsZero() && !r.StartedAt.IsZero() && !ph.StartedAt.Before(r.StartedAt) {
			s.start = ph.StartedAt.Sub(r.StartedAt).Seconds()
		} else {
			s.start = cursor
		}
		cursor = s.start + s.dur
		end = math.Max(end, cursor)
		spans[i] = s
	}
	end = math.Max(end, runDuration(r))
	if end <= 0 {
		end = 1
	}
	const labelW, barW, valueW, rowH = 130.0, 760.0, 90.0, 24.0
	w := labelW + barW + valueW
	h := rowH*float64(len(spans)) + 18
	var b svgBuilder
	b.open(w, h, "phase timeline")
	for i, s := range spans {
		y := rowH * float64(i)
		b.text(labelW-8, y+16, "end", colText, 12.5, truncate(s.name, 20))
		x := labelW + barW*s.start/end
		bw := math.Max(barW*s.dur/end, 1.5)
		b.rect(x, y+4, bw, rowH-8, statusColor(s.status), fmt.Sprintf("%s: %s, %s", s.name, s.status, s.durationTxt))
		b.haloText(math.Min(x+bw+6, labelW+barW+4), y+16, "start", colText, 11.5, s.durationTxt)
	}
	axisY := rowH * float64(len(spans))
	b.line(labelW, axisY+2, labelW+barW, axisY+2, colAxis, 1, false)
	b.text(labelW, axisY+15, "start", colMuted, 10, "0 s")
	b.text(labelW+barW, axisY+15, "end", colMuted, 10, FormatSeconds(end))
	return b.close()
}

// groupChart compares p50 and p99 of measurements sharing a name and unit
// (e.g. api.latency per verb) as horizontal bars from zero, with each row's
// SLO threshold marked in red. A p99 of fewer than 100 samples is the
// maximum and is labelled so.
func groupChart(name string, ms []*result.Measurement) template.HTML {
	if len(ms) == 0 {
		return ""
	}
	unit := ms[0].Unit
	labels := rowLabels(ms)
	// Scale to the data; thresholds within half again of the largest value
	// widen the scale, farther ones are noted as text so they do not squash
	// every bar into the left edge.
	maxData := 0.0
	for _, m := range ms {
		maxData = math.Max(maxData, math.Max(m.Summary.P99, m.Summary.P50))
	}
	maxV := maxData
	for _, m := range ms {
		if m.SLO != nil && (m.SLO.Threshold <= 1.5*maxData || maxData <= 0) {
			maxV = math.Max(maxV, m.SLO.Threshold)
		}
	}
	if maxV <= 0 {
		maxV = 1
	}
	maxV *= 1.05
	const labelW, barW, valueW, rowH, top = 170.0, 720.0, 130.0, 36.0, 22.0
	w := labelW + barW + valueW
	h := top + rowH*float64(len(ms)) + 18
	var b svgBuilder
	b.open(w, h, name+": p50 and p99 by "+strings.Join(differingKeys(ms), ", "))
	// legend
	b.rect(labelW, 4, 10, 10, colP50, "")
	b.text(labelW+14, 13, "start", colText, 11, "p50")
	b.rect(labelW+50, 4, 10, 10, colP99, "")
	b.text(labelW+64, 13, "start", colText, 11, "p99 (max where n < 100)")
	b.line(labelW+214, 3, labelW+214, 15, colFailed, 2, true)
	b.text(labelW+220, 13, "start", colText, 11, "SLO threshold")
	scale := func(v float64) float64 { return labelW + barW*math.Max(v, 0)/maxV }
	for i, m := range ms {
		y := top + rowH*float64(i)
		b.text(labelW-8, y+19, "end", colText, 12, truncate(labels[i], 26))
		p50, p99 := m.Summary.P50, m.Summary.P99
		n := fmt.Sprintf(", n=%d", m.Summary.Count)
		b.rect(labelW, y+4, scale(p50)-labelW, 11, colP50, "p50 "+FormatValue(p50, unit)+n)
		b.rect(labelW, y+17, scale(p99)-labelW, 11, colP99, statLabel("p99", m.Summary.Count)+" "+FormatValue(p99, unit)+n)
		if m.SLO != nil {
			if m.SLO.Threshold <= maxV {
				x := scale(m.SLO.Threshold)
				b.line(x, y+1, x, y+rowH-3, colFailed, 2, true)
			} else {
				color := colMuted
				if !m.SLO.Met {
					color = colFailed
				}
				b.text(w-4, y+20, "end", color, 10, "SLO "+FormatValue(m.SLO.Threshold, unit)+" →")
			}
		}
		b.haloText(scale(p50)+5, y+13.5, "start", colText, 11, FormatValue(p50, unit))
		b.haloText(scale(p99)+5, y+26.5, "start", colText, 11, statText(m, "p99"))
	}
	axisY := top + rowH*float64(len(ms))
	b.line(labelW, axisY, labelW+barW, axisY, colAxis, 1, false)
	b.text(labelW, axisY+13, "start", colMuted, 10, FormatValue(0, unit))
	b.text(labelW+barW, axisY+13, "end", colMuted, 10, FormatValue(maxV, unit))
	return b.close()
}

// differingKeys are the label keys whose values differ inside a group.
func differingKeys(ms []*result.Measurement) []string {
	seen := map[string]string{}
	diff := map[string]bool{}
	for _, m := range ms {
		for k, v := range m.Labels {
			if old, ok := seen[k]; ok && old != v {
				diff[k] = true
			}
			seen[k] = v
		}
	}
	for _, m := range ms {
		for k := range seen {
			if _, ok := m.Labels[k]; !ok {
				diff[k] = true
			}
		}
	}
	keys := make([]string, 0, len(diff))
	for _, k := range sortedKeys(seen) {
		if diff[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return []string{"labels"}
	}
	return keys
}

// rowLabels names each group member by the labels that tell them apart:
// "GET" when only the verb differs, "verb=GET, scope=ns" otherwise.
func rowLabels(ms []*result.Measurement) []string {
	keys := differingKeys(ms)
	out := make([]string, len(ms))
	for i, m := range ms {
		if len(keys) == 1 {
			out[i] = m.Labels[keys[0]]
			if out[i] == "" {
				out[i] = formatLabels(m.Labels)
			}
		} else {
			sub := map[string]string{}
			for _, k := range keys {
				if v, ok := m.Labels[k]; ok {
					sub[k] = v
				}
			}
			out[i] = formatLabels(sub)
		}
		if out[i] == "" {
			out[i] = "(no labels)"
		}
	}
	return out
}

// maxStripDots caps the dots drawn per strip; larger sample sets are
// thinned evenly (deterministically) to keep the page small.
const maxStripDots = 300

// stripPlot is a compact dot plot of one measurement's samples on a linear
// scale from min to max: a grey min..max range, one dot per sample and a dark
// median tick. The SLO threshold is a red dashed line when it lies near the
// samples; a far-away threshold would squash the samples into a corner, so
// it is noted in red text above the strip instead.
func stripPlot(m *result.Measurement) template.HTML {
	if m.Summary.Count == 0 || len(m.Samples) == 0 {
		return ""
	}
	const w, h, pad, cy = 220.0, 42.0, 8.0, 20.0
	lo, hi := m.Summary.Min, m.Summary.Max
	sloInside := false
	if m.SLO != nil {
		t := m.SLO.Threshold
		span := math.Max(hi-lo, math.Abs(hi)*0.1)
		if t >= lo-span && t <= hi+span {
			lo, hi = math.Min(lo, t), math.Max(hi, t)
			sloInside = true
		}
	}
	if hi == lo {
		d := math.Abs(hi) * 0.1
		if d == 0 {
			d = 1
		}
		lo, hi = lo-d, hi+d
	}
	x := func(v float64) float64 { return pad + (w-2*pad)*(v-lo)/(hi-lo) }
	var b svgBuilder
	b.open(w, h, fmt.Sprintf("%s: %d samples, min %s, median %s, max %s", measurementID(m), m.Summary.Count,
		FormatValue(m.Summary.Min, m.Unit), FormatValue(m.Summary.P50, m.Unit), FormatValue(m.Summary.Max, m.Unit)))
	b.line(x(m.Summary.Min), cy, x(m.Summary.Max), cy, "#d0d7de", 6, false)
	step := 1
	if len(m.Samples) > maxStripDots {
		step = (len(m.Samples) + maxStripDots - 1) / maxStripDots
	}
	for i := 0; i < len(m.Samples); i += step {
		// a small fixed vertical offset per index separates equal values
		dy := float64(i%5-2) * 1.6
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2.4" fill="%s" fill-opacity="0.55"/>`, f1(x(m.Samples[i])), f1(cy+dy), colP50)
	}
	b.line(x(m.Summary.P50), cy-9, x(m.Summary.P50), cy+9, colText, 2.5, false)
	if m.SLO != nil {
		if sloInside {
			b.line(x(m.SLO.Threshold), cy-11, x(m.SLO.Threshold), cy+11, colFailed, 2, true)
		} else {
			color := colMuted
			if !m.SLO.Met {
				color = colFailed
			}
			if m.SLO.Threshold > hi {
				b.text(w-pad, 8, "end", color, 9.5, "SLO "+sloText(m)+" →")
			} else {
				b.text(pad, 8, "start", color, 9.5, "← SLO "+sloText(m))
			}
		}
	}
	b.text(pad, h-2, "start", colMuted, 10, FormatValue(lo, m.Unit))
	b.text(w-pad, h-2, "end", colMuted, 10, FormatValue(hi, m.Unit))
	return b.close()
}
