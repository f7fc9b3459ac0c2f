package compare

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/result"
)

// curveSpec is a figure drawn as a curve and the statistic of each point
// ("" for a single reading).
type curveSpec struct{ name, stat string }

// growthCurves are the figures drawn as curves, in the order shown.
var growthCurves = []curveSpec{
	{measure.GrowthMemoryMetric, ""},
	{measure.GrowthSizeMetric, ""},
	{measure.GrowthListMetric, "p99"},
	{measure.GrowthWriteMetric, "p99"},
}

// growthSlopes are the fitted slopes, per 10 000 objects.
var growthSlopes = []string{measure.GrowthMemorySlope, measure.GrowthSizeSlope}

// Growth is how each cell's cost grew with the objects it stored. It is
// measured once per cell (measure.Growth), not in rounds, so it holds
// values for reading and calls no difference. A cell that recorded no
// growth figure is absent: Cells names the cells present, in the
// comparison's order, and every PerCell below follows Cells.
type Growth struct {
	Cells   []string       `json:"cells"`
	Metrics []GrowthMetric `json:"metrics"`
	Slopes  []GrowthSlope  `json:"slopes"`
}

// GrowthMetric is one figure (server memory, datastore size, list or
// write latency) as a curve per cell.
type GrowthMetric struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// Statistic of every point: "p99" of the timed requests, or empty for
	// a single reading (memory, size).
	Statistic string        `json:"statistic,omitempty"`
	PerCell   []GrowthCurve `json:"perCell"`
}

// GrowthCurve is one cell's points of one figure.
type GrowthCurve struct {
	// Points are in ascending Objects; a cell that lacks the figure has none.
	Points []GrowthPoint `json:"points"`
	// Compacted is the value after every object was deleted and the
	// datastore compacted, when it was measured (Objects is then 0).
	Compacted *GrowthPoint `json:"compacted,omitempty"`
}

// GrowthPoint is a figure's value with that many objects stored.
type GrowthPoint struct {
	Objects int `json:"objects"`
	GrowthValue
}

// GrowthValue is one value; when Missing is set it was not measured, says
// why, and Value means nothing.
type GrowthValue struct {
	Value float64 `json:"value"`
	// N is the number of samples behind Value (a p99 of fewer than 100 is
	// their maximum).
	N       int    `json:"n"`
	Missing string `json:"missing,omitempty"`
}

// GrowthSlope is a fitted slope per cell: what a figure added per 10 000
// stored objects (least squares over the steps).
type GrowthSlope struct {
	Name    string        `json:"name"`
	Unit    string        `json:"unit"`
	PerCell []GrowthValue `json:"perCell"`
}

// GrowthOf gathers the growth figures of the cells' reports, or nil when no
// cell has any.
func GrowthOf(cells []Cell) *Growth {
	g := &Growth{}
	var figures [][]result.Measurement // figures[i] are g.Cells[i]'s
	for _, c := range cells {
		if ms := growthFigures(c.Report); len(ms) > 0 {
			g.Cells = append(g.Cells, c.Name)
			figures = append(figures, ms)
		}
	}
	if len(g.Cells) == 0 {
		return nil
	}
	for _, spec := range growthCurves {
		if unit, ok := unitOf(figures, spec.name); ok {
			m := GrowthMetric{Name: spec.name, Unit: unit, Statistic: spec.stat}
			for _, ms := range figures {
				m.PerCell = append(m.PerCell, curveOf(ms, spec.name, spec.stat))
			}
			g.Metrics = append(g.Metrics, m)
		}
	}
	for _, name := range growthSlopes {
		if unit, ok := unitOf(figures, name); ok {
			s := GrowthSlope{Name: name, Unit: unit}
			for _, ms := range figures {
				s.PerCell = append(s.PerCell, slopeOf(ms, name))
			}
			g.Slopes = append(g.Slopes, s)
		}
	}
	return g
}

// growthFigures are the growth figures of r (none without a report).
func growthFigures(r *result.Report) []result.Measurement {
	if r == nil {
		return nil
	}
	var out []result.Measurement
	for _, m := range r.Measurements {
		if isGrowth(m.Name) {
			out = append(out, m)
		}
	}
	return out
}

func isGrowth(name string) bool {
	return slices.Contains(growthSlopes, name) ||
		slices.ContainsFunc(growthCurves, func(c curveSpec) bool { return c.name == name })
}

// unitOf is the unit of the first figure named name in any cell, and
// whether one is there.
func unitOf(figures [][]result.Measurement, name string) (string, bool) {
	for _, ms := range figures {
		for _, m := range ms {
			if m.Name == name {
				return m.Unit, true
			}
		}
	}
	return "", false
}

// curveOf is one cell's points of the figure named name, in ascending
// objects, and its value after compaction. A figure with neither an
// objects count nor the compacted stage is not a point and is left out.
func curveOf(ms []result.Measurement, name, stat string) GrowthCurve {
	c := GrowthCurve{Points: []GrowthPoint{}}
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		if m.Labels[measure.StageLabel] == measure.StageCompacted {
			c.Compacted = &GrowthPoint{GrowthValue: valueOf(m, stat)}
		} else if n, err := strconv.Atoi(m.Labels[measure.ObjectsLabel]); err == nil {
			c.Points = append(c.Points, GrowthPoint{Objects: n, GrowthValue: valueOf(m, stat)})
		}
	}
	slices.SortStableFunc(c.Points, func(a, b GrowthPoint) int { return cmp.Compare(a.Objects, b.Objects) })
	return c
}

// slopeOf is one cell's slope named name; a cell whose growth stopped
// before the slopes were fitted has none, and says so.
func slopeOf(ms []result.Measurement, name string) GrowthValue {
	for _, m := range ms {
		if m.Name == name {
			return valueOf(m, "")
		}
	}
	return GrowthValue{Missing: "not recorded (the growth measurement stopped before the slopes were fitted)"}
}

// valueOf is the statistic stat of m (its median for a single reading:
// that reading), or why it has none.
func valueOf(m result.Measurement, stat string) GrowthValue {
	switch {
	case m.Missing != "":
		return GrowthValue{Missing: m.Missing}
	case m.Summary.Count == 0:
		return GrowthValue{Missing: "no samples"}
	case stat == "":
		stat = "p50"
	}
	return GrowthValue{Value: m.Summary.Stat(stat), N: m.Summary.Count}
}

// withoutGrowth are ms but the growth figures, which are not per round.
func withoutGrowth(ms []result.Measurement) []result.Measurement {
	return slices.DeleteFunc(slices.Clone(ms), func(m result.Measurement) bool { return isGrowth(m.Name) })
}
