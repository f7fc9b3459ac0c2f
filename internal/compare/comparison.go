package compare

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/distrobench/distrobench/internal/result"
)

// APIVersion and Kind identify a comparison document, the versioned
// sibling of result's RunReport: it holds each cell's own report.
const (
	APIVersion = "distrobench.io/v1alpha1"
	Kind       = "Comparison"
)

// NotInterleaved is the call of every figure of a comparison whose cells
// were measured one after another (separate runs, or too little memory to
// bring the cells up together): the machine's drift between them cannot be
// told from a difference, so no difference is called.
const NotInterleaved Call = "not interleaved"

// NotComparable is the call of a figure that depends on where the
// scheduler put the pods (it carries result.PlacementAttr) when a cell's
// placement is not the baseline's in some round: the difference would be
// the placement's, not what the matrix varies. Ratio.Why gives both.
const NotComparable Call = "not comparable"

// Comparison sets the cells of one matrix side by side. Cells[0] is the
// baseline every ratio is to.
type Comparison struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// Interleaved says every round gave every cell the same workload in one
	// window; when false, Why says why not.
	Interleaved bool   `json:"interleaved"`
	Why         string `json:"why,omitempty"`
	// Memory says how the run decided to bring the cells up together or one at a time
	// (memory needed per cell and available), for the reader.
	Memory string `json:"memory,omitempty"`
	Rounds int    `json:"rounds"`
	// Seed shuffled the cells' order within each round.
	Seed  int64  `json:"seed,omitempty"`
	Cells []Cell `json:"cells"`
	// Control is the index in Cells of the A/A control, the baseline
	// brought up a second time (0: none); Spreads are how far it strayed
	// from the baseline, per unit and statistic, and ControlMargin how
	// many times over a called difference cleared them (ApplyControl).
	Control       int      `json:"control,omitempty"`
	Spreads       []Spread `json:"spreads,omitempty"`
	ControlMargin float64  `json:"controlMargin,omitempty"`
	Figures       []Figure `json:"figures"`
	// Growth is each cell's growth curves, measured once per cell and not
	// in rounds (nil when no cell measured growth).
	Growth *Growth `json:"growth,omitempty"`
}

// Cell is one compared cluster and its own report.
type Cell struct {
	Name   string         `json:"name"`
	Report *result.Report `json:"report,omitempty"`
}

// Figure is one statistic of one measurement (name and labels) across the
// cells.
type Figure struct {
	Name      string            `json:"name"`
	Labels    map[string]string `json:"labels,omitempty"`
	Unit      string            `json:"unit"`
	Statistic string            `json:"statistic"` // "p50", "p99", ...
	// PerCell is, in cell order, the statistic over the rounds: each
	// round's value summarised (n = rounds; nearest-rank percentiles).
	PerCell []result.Summary `json:"perCell"`
	// Ratios are, for Cells[1:], the ratio to the baseline.
	Ratios []Ratio `json:"ratios"`
}

// Round is what every cell measured in one round: Round[c] holds cell c's
// measurements.
type Round [][]result.Measurement

// Build compares the cells over the rounds: for every measurement that
// every cell has in every round (same name and labels), each statistic of
// stats (say "p50", "p99") is taken per round and cell, and each cell is
// set against the baseline round by round. With interleaved false every
// call is NotInterleaved. The cells' reports give the growth curves.
func Build(cells []Cell, rounds []Round, stats []string, interleaved bool) (*Comparison, error) {
	if len(cells) < 2 {
		return nil, fmt.Errorf("a comparison needs at least two cells, got %d", len(cells))
	}
	for i, r := range rounds {
		if len(r) != len(cells) {
			return nil, fmt.Errorf("round %d has figures of %d cells, want %d", i+1, len(r), len(cells))
		}
	}
	c := &Comparison{APIVersion: APIVersion, Kind: Kind, Interleaved: interleaved, Rounds: len(rounds), Cells: cells,
		Growth: GrowthOf(cells)}
	idx := index(rounds)
	for _, key := range commonKeys(rounds, idx) {
		for _, stat := range statsFor(idx[0][0][key.id], stats) {
			c.Figures = append(c.Figures, figure(key, stat, idx, interleaved))
		}
	}
	return c, nil
}

// byKey is one cell's figures of one round by measurementKey.id.
type byKey map[string]*result.Measurement

// index keys every round's figures once: index(rounds)[round][cell].
func index(rounds []Round) [][]byKey {
	out := make([][]byKey, len(rounds))
	for r, round := range rounds {
		out[r] = make([]byKey, len(round))
		for c, ms := range round {
			out[r][c] = byKey{}
			for i := range ms {
				if id := keyOf(ms[i]).id; out[r][c][id] == nil {
					out[r][c][id] = &ms[i]
				}
			}
		}
	}
	return out
}

// statsFor are the statistics worth comparing for m: the mean of a
// fraction (an error rate: its percentiles are 0 or 1), only the value of a
// single-sample figure (its percentiles are all that one sample), else the
// asked ones.
func statsFor(m *result.Measurement, stats []string) []string {
	switch {
	case m.Unit == "ratio":
		return []string{"mean"}
	case m.Summary.Count == 1:
		return []string{"p50"}
	}
	return stats
}

// figure is one statistic of one measurement across cells and rounds.
func figure(key measurementKey, stat string, idx [][]byKey, interleaved bool) Figure {
	cells := len(idx[0])
	series := make([][]float64, cells) // series[cell][round]
	f := Figure{Name: key.name, Labels: key.labels, Unit: key.unit, Statistic: stat}
	for c := range cells {
		for _, r := range idx {
			series[c] = append(series[c], r[c][key.id].Summary.Stat(stat))
		}
		f.PerCell = append(f.PerCell, result.Summarize(series[c]))
	}
	for c := 1; c < cells; c++ {
		ratio, err := Ratios(series[0], series[c])
		why := placedApart(idx, key.id, c)
		switch {
		case err != nil:
			ratio = Ratio{Rounds: len(idx), Call: NoRatio, Why: err.Error()}
		case why != "":
			ratio.Call, ratio.Why = NotComparable, why
		case !interleaved:
			ratio.Call = NotInterleaved
		}
		f.Ratios = append(f.Ratios, ratio)
	}
	return f
}

// placedApart says how cell's pods were placed otherwise than the
// baseline's, in the first round where they were, for a figure that
// depends on placement; "" when they were placed alike in every round.
func placedApart(idx [][]byKey, id string, cell int) string {
	for i, r := range idx {
		base, other := r[0][id].Attributes[result.PlacementAttr], r[cell][id].Attributes[result.PlacementAttr]
		if base != other {
			return fmt.Sprintf("pods placed differently (round %d: baseline %s, this cell %s); the cluster's totals compare",
				i+1, orNone(base), orNone(other))
		}
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "not recorded"
	}
	return s
}

// cellLabels are the labels that say which cell a figure is of (the
// matrix's dimensions): they differ between cells by design, so figures are
// matched without them.
var cellLabels = []string{"datastore", "profile", "arch"}

// keyOf is m's name, unit and labels without the cell's own.
func keyOf(m result.Measurement) measurementKey {
	labels := maps.Clone(m.Labels)
	for _, l := range cellLabels {
		delete(labels, l)
	}
	return measurementKey{name: m.Name, unit: m.Unit, labels: labels, id: spell(m.Name, labels) + " " + m.Unit}
}

// spell is a figure's name and labels, "name{k=v,...}" (labels sorted).
func spell(name string, labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, l := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, l+"="+labels[l])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// measurementKey is a figure's identity across cells: its name, unit and
// labels without the cell's own; id spells them out, to match by.
type measurementKey struct {
	name, unit string
	labels     map[string]string
	id         string
}

// commonKeys are the measurements with samples that every cell has in
// every round, in the order the baseline's first round lists them. A
// figure one cell lacks (not measured, or not applicable) is left out of
// the ratios; the cells' own reports still show it.
func commonKeys(rounds []Round, idx [][]byKey) []measurementKey {
	var out []measurementKey
	if len(rounds) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, m := range rounds[0][0] {
		k := keyOf(m)
		if seen[k.id] || !everywhere(idx, k) {
			continue
		}
		seen[k.id] = true
		out = append(out, k)
	}
	return out
}

// everywhere reports whether every cell measured k in every round.
func everywhere(idx [][]byKey, k measurementKey) bool {
	for _, r := range idx {
		for _, cell := range r {
			m := cell[k.id]
			if m == nil || m.Missing != "" || m.Summary.Count == 0 {
				return false
			}
		}
	}
	return true
}

// LowerIsBetter says which way is better for the figure: less for
// latencies, memory, sizes and CPU; more for rates (unit "ops/s").
func (f Figure) LowerIsBetter() bool { return f.Unit != "ops/s" }

// Verdict words a cell's call for a reader: "better" or "worse" than the
// baseline, or the call itself ("within noise", "not interleaved").
func (f Figure) Verdict(r Ratio) string {
	switch r.Call {
	case Lower, Higher:
		if (r.Call == Lower) == f.LowerIsBetter() {
			return "better"
		}
		return "worse"
	}
	switch r.Call {
	case NoRatio:
		return "no ratio: " + r.Why
	case NotComparable:
		return "not comparable: " + r.Why
	}
	return string(r.Call)
}

// FromReports compares runs taken separately, one cell per report (the
// first is the baseline), each run being one round. They were not
// interleaved, so no difference is called: the figures and ratios are
// shown for reading, labelled so. Growth figures go to Growth only, as in
// a comparison that was interleaved.
func FromReports(reports []*result.Report, stats []string) (*Comparison, error) {
	cells := make([]Cell, len(reports))
	round := make(Round, len(reports))
	ids := make([]string, len(reports))
	for i, r := range reports {
		cells[i] = Cell{Name: r.RunID, Report: r}
		round[i] = withoutGrowth(r.Measurements)
		ids[i] = r.RunID
	}
	c, err := Build(cells, []Round{round}, stats, false)
	if err != nil {
		return nil, err
	}
	c.Why = "separate runs " + strings.Join(ids, ", ") + ", each one round"
	return c, nil
}
