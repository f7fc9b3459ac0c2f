package result

import (
	"math"
	"sort"
)

// Measurement is one measured quantity: every sample is kept, the summary is
// derived from them (clusterloader2 PerfData style).
type Measurement struct {
	// Name is dotted, lower case: "footprint.idle.pss", "api.latency".
	Name        string            `json:"name"`
	Unit        string            `json:"unit"` // "bytes", "seconds", "percent", "ops/s", "count"
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Attributes carry provenance that is not a dimension to chart by (an
	// image's source list, a digest); labels stay short keys.
	Attributes map[string]string `json:"attributes,omitempty"`
	Samples    []float64         `json:"samples"`
	Summary    Summary           `json:"summary"`
	// SLO, when set, is the verdict of the summary against a target.
	SLO *SLO `json:"slo,omitempty"`
	// Missing, when set, says why the figure could not be measured; a
	// missing figure has no samples and is never shown as a zero.
	Missing string `json:"missing,omitempty"`
}

// NotMeasured records a figure that could not be taken, with the reason.
func NotMeasured(name, unit string, labels map[string]string, reason string) Measurement {
	return Measurement{Name: name, Unit: unit, Labels: labels, Samples: []float64{}, Missing: reason}
}

// Summary statistics of a measurement's samples.
type Summary struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
}

// SLO is a target for one statistic of a measurement and whether it was met.
type SLO struct {
	// Statistic is "p50", "p90", "p99", "max" or "mean".
	Statistic string  `json:"statistic"`
	Threshold float64 `json:"threshold"`
	Met       bool    `json:"met"`
	Source    string  `json:"source"` // where the target comes from
}

// NewMeasurement builds a measurement and computes its summary.
func NewMeasurement(name, unit string, labels map[string]string, samples []float64) Measurement {
	m := Measurement{Name: name, Unit: unit, Labels: labels, Samples: append([]float64(nil), samples...)}
	m.Summary = Summarize(m.Samples)
	return m
}

// WithSLO judges the measurement against an upper bound on one statistic.
func (m Measurement) WithSLO(statistic string, threshold float64, source string) Measurement {
	v := m.Summary.Stat(statistic)
	m.SLO = &SLO{Statistic: statistic, Threshold: threshold, Met: m.Summary.Count > 0 && v <= threshold, Source: source}
	return m
}

// Stat returns a statistic by name ("p50", "p90", "p99", "min", "max", "mean").
func (s Summary) Stat(name string) float64 {
	switch name {
	case "p50", "median":
		return s.P50
	case "p90":
		return s.P90
	case "p99":
		return s.P99
	case "min":
		return s.Min
	case "max":
		return s.Max
	case "mean":
		return s.Mean
	}
	return math.NaN()
}

// Summarize computes the summary of samples. Percentiles are interpolated
// linearly between closest ranks (the "R-7" definition used by numpy and most
// spreadsheets). It is a dozen lines, so it is written here rather than
// pulling a statistics library into the harness.
func Summarize(samples []float64) Summary {
	n := len(samples)
	if n == 0 {
		return Summary{}
	}
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	var sum float64
	for _, v := range s {
		sum += v
	}
	return Summary{
		Count: n, Min: s[0], Max: s[n-1], Mean: sum / float64(n),
		P50: quantile(s, 0.50), P90: quantile(s, 0.90), P99: quantile(s, 0.99),
	}
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}
