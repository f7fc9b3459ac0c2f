package result

import (
	"maps"
	"math"
	"sort"
)

// Measurement is one measured quantity: every sample is kept, the summary is
// derived from them (clusterloader2 PerfData style).
type Measurement struct {
	// Name is dotted, lower case: "footprint.idle.pss", "api.latency".
	// reports/METHOD.md describes every name the code emits.
	Name        string `json:"name"`
	Unit        string `json:"unit"` // "bytes", "seconds", "percent", "ops/s", "count"
	Description string `json:"description,omitempty"`
	// Labels are short keys that tell measurements of one name apart and
	// that charts group by (verb, node, arch); long provenance goes into
	// Attributes.
	Labels map[string]string `json:"labels,omitempty"`
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

// PlacementAttr is the attribute of a figure whose value depends on where
// the scheduler put the pods (a node's own idle footprint: a pod there adds
// to its containerd's and kubelet's bookkeeping): how many pods each node
// ran while it was taken, "node0=1 node1=0". Figures of two clusters whose
// placements differ are not set against each other (internal/compare).
const PlacementAttr = "pods.placement"

// NotMeasured records a figure that could not be taken, with the reason.
func NotMeasured(name, unit string, labels map[string]string, reason string) Measurement {
	return Measurement{Name: name, Unit: unit, Labels: labels, Samples: []float64{}, Missing: reason}
}

// Summary statistics of a measurement's samples. Percentiles are
// nearest-rank (see Percentile): every percentile is one of the samples, so
// with fewer than 100 samples P99 is the maximum.
type Summary struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
	// StdDev is the sample standard deviation (divisor n-1: the samples are
	// repetitions drawn from what is measured, not the whole population);
	// 0 with fewer than two samples.
	StdDev float64 `json:"stddev"`
	// CV is the coefficient of variation, StdDev/|Mean| (0.05 = 5 %); 0 when
	// it is undefined (fewer than two samples, or a mean of 0): see HasCV.
	CV  float64 `json:"cv"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
}

// HasCV reports whether the coefficient of variation is defined: at least
// two samples and a non-zero mean.
func (s Summary) HasCV() bool { return s.Count >= 2 && s.Mean != 0 }

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

// WithAttribute returns m with one more attribute (the map is copied, so
// measurements that shared one do not change together).
func (m Measurement) WithAttribute(key, value string) Measurement {
	attrs := make(map[string]string, len(m.Attributes)+1)
	maps.Copy(attrs, m.Attributes)
	attrs[key] = value
	m.Attributes = attrs
	return m
}

// WithSLO judges the measurement against an upper bound on one statistic.
// A measurement without samples (or a Missing one) never meets its SLO.
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

// Percentiles of the summary, in percent.
const (
	pct50 = 50
	pct90 = 90
	pct99 = 99
)

// Summarize computes the summary of samples. It is a dozen lines, so it is
// written here rather than pulling a statistics library into the harness.
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
	mean := sum / float64(n)
	out := Summary{
		Count: n, Min: s[0], Max: s[n-1], Mean: mean,
		P50: s[Rank(pct50, n)-1], P90: s[Rank(pct90, n)-1], P99: s[Rank(pct99, n)-1],
	}
	if n >= 2 {
		var sq float64
		for _, v := range s {
			sq += (v - mean) * (v - mean)
		}
		out.StdDev = math.Sqrt(sq / float64(n-1))
		if mean != 0 {
			out.CV = out.StdDev / math.Abs(mean)
		}
	}
	return out
}

// Rank is the 1-based nearest rank of the percent-th percentile of n
// sorted samples: ceil(percent/100 * n), at least 1 (clusterloader2's and
// the Kubernetes SLOs' definition). It is computed in integers, so that
// 99 % of 100 is rank 99 and not 100 through a rounding error. The
// percentile is always a sample that was measured, never a value between
// two samples; for percent = 99 and n < 100 it is the largest sample.
func Rank(percent, n int) int {
	if n <= 0 {
		return 0
	}
	return max((percent*n+99)/100, 1)
}

// IsMax reports whether the named statistic ("p50", "p90", "p99") of n
// samples is, by its nearest rank, the largest sample: then reports show it
// as "max", since a p99 of 30 samples does not exist.
func IsMax(statistic string, n int) bool {
	p := map[string]int{"p50": pct50, "median": pct50, "p90": pct90, "p99": pct99}[statistic]
	return p > 0 && n > 1 && Rank(p, n) == n
}
