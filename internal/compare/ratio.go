// Package compare sets figures of several clusters (cells) side by side:
// each cell against the baseline cell, as ratios of interleaved rounds, so
// the machine's drift over a comparison cancels out instead of being read as
// a difference between what is compared.
package compare

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Call is what a comparison concludes about a cell against the baseline.
type Call string

// Calls. A difference is only called when every round agrees on its side
// of 1; one round the other way makes the difference noise.
const (
	Lower       Call = "lower"        // below the baseline in every round
	Higher      Call = "higher"       // above the baseline in every round
	WithinNoise Call = "within noise" // the rounds disagree, or equal
	// NoRatio: a ratio cannot be taken (a baseline of 0: say, no pod on
	// the baseline's node in some round); Ratio.Why says why.
	NoRatio Call = "no ratio"
)

// Ratio is a cell's figure over the baseline's, round by round.
type Ratio struct {
	// Median is the median of the per-round ratios (for an even count, the
	// mean of the two middle ones: the ratio is a description, not a verdict
	// threshold, so it need not be one of the observations).
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// Rounds is how many rounds the ratio is over.
	Rounds int  `json:"rounds"`
	Call   Call `json:"call"`
	// Why says why there is no ratio (Call NoRatio).
	Why string `json:"why,omitempty"`
}

// Ratios compares cell with baseline round by round: cell[i] and
// baseline[i] are the same statistic (say, the p50 of that round's samples)
// taken in round i, in which both cells got the same workload. It fails
// when the rounds do not pair up or a baseline figure is not a positive
// number (a ratio to zero says nothing).
func Ratios(baseline, cell []float64) (Ratio, error) {
	if len(baseline) != len(cell) {
		return Ratio{}, fmt.Errorf("the baseline has %d rounds and the cell %d: rounds must pair up (was a round of one cell lost?)", len(baseline), len(cell))
	}
	if len(baseline) == 0 {
		return Ratio{}, errors.New("no round to compare")
	}
	ratios := make([]float64, len(baseline))
	for i, b := range baseline {
		if !(b > 0) || math.IsInf(b, 0) || math.IsNaN(cell[i]) || cell[i] < 0 {
			return Ratio{}, fmt.Errorf("round %d: cannot take the ratio of %g to a baseline of %g", i+1, cell[i], b)
		}
		ratios[i] = cell[i] / b
	}
	slices.Sort(ratios)
	return Ratio{
		Median: median(ratios), Min: ratios[0], Max: ratios[len(ratios)-1],
		Rounds: len(ratios), Call: call(ratios),
	}, nil
}

// call is Lower or Higher when every (sorted) ratio is on that side of 1.
func call(sorted []float64) Call {
	switch {
	case sorted[len(sorted)-1] < 1:
		return Lower
	case sorted[0] > 1:
		return Higher
	}
	return WithinNoise
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
