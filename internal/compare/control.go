package compare

import (
	"fmt"
	"math"
)

// WithinSpread is the call of a difference that every round agrees on but
// that the control shows too: the cell's ratio does not clear the control's
// spread for figures of its unit and statistic, so it may be the
// instance's, not what the matrix varies. Ratio.Why gives the spread.
const WithinSpread Call = "within A/A spread"

// ControlCall is the call of the control's own ratios: they measure how two
// instances of one cell differ, and claim no difference.
const ControlCall Call = "A/A control"

// Spread is how far the control (the baseline brought up a second time,
// the same in everything the matrix varies) stood from the baseline in the
// figures of one unit and statistic: its widest median ratio over the
// rounds, either way, as a factor (×1.12: 12 % up, or down to 1/1.12), or
// for memory its widest difference of medians (see amountUnits).
// Two instances of one cell differ by that much with nothing changed
// between them. The rounds show the noise from one round to the next, and
// a difference is called only when every round agrees; but rounds of one
// instance share its offset (what a first start left in the Go heaps, say),
// which every round agreeing cannot rule out: the median of a cell's ratios
// must also clear the control's, ControlMargin times over. Which of two
// equal instances is the baseline is chance, so the spread holds both ways.
type Spread struct {
	Unit      string  `json:"unit"`
	Statistic string  `json:"statistic"`
	Width     float64 `json:"width"` // at least 1
	// Offset is, for a unit whose instance offsets are amounts (memory:
	// the same ~12 MiB on a 44 MiB figure or a 474 MiB one), the widest
	// difference of the control's median from the baseline's, in the
	// unit; a difference must exceed ControlMargin times it (Width is then
	// not used).
	Offset float64 `json:"offset,omitempty"`
	// Figure is the figure (name{labels}) whose median ratio set Width,
	// and Figures how many of the control's figures the spread is over.
	Figure  string `json:"figure,omitempty"`
	Figures int    `json:"figures"`
}

// ControlMargin is how many times over a called difference must clear the
// control's spread (in ratios: the median beyond Width to this power). The
// control is one pair of instances: over n figures of a unit, a cell that
// differs in nothing but its instance stands beyond the widest of the
// control's n offsets on a given figure about once in n+1 (the n+1 offsets
// are alike), so the widest alone would call such a cell on a figure of
// every few. Twice the widest is rare for instance noise, and comparison
// 20261207T215432Z's real differences cleared it (MariaDB writes ×2.3–3.3
// against a seconds spread of ×1.46, PostgreSQL's memory +87 MiB PSS
// against a widest control offset of 12.3 MiB).
const ControlMargin = 2

// ApplyControl makes Cells[control] the comparison's A/A control: its own
// ratios show the spread (call ControlCall), and every other cell's called
// difference whose median ratio does not clear the control's spread for its
// unit and statistic, ControlMargin times over, is called WithinSpread
// instead. Spreads are pooled
// over every figure of a unit and statistic (memory, say, over every node
// and process set): one figure's control ratio is a single draw of two
// instances' difference, which a cell's difference would exceed half the
// time by chance alone.
func (c *Comparison) ApplyControl(control int) error {
	if control < 1 || control >= len(c.Cells) {
		return fmt.Errorf("control cell %d: the comparison has cells 0 (the baseline) to %d", control, len(c.Cells)-1)
	}
	c.Control, c.ControlMargin = control, ControlMargin
	c.Spreads = spreads(c.Figures, control-1)
	for fi := range c.Figures {
		f := &c.Figures[fi]
		sp := spreadOf(c.Spreads, f.Unit, f.Statistic)
		for ri := range f.Ratios {
			r := &f.Ratios[ri]
			switch {
			case ri == control-1 && r.taken():
				r.Call = ControlCall
			case ri != control-1 && sp != nil:
				sp.limit(f, ri)
			}
		}
	}
	return nil
}

// spreads are the control's (ratio index ci) widest ratios per unit and
// statistic, over the figures that have a ratio.
func spreads(figs []Figure, ci int) []Spread {
	var out []Spread
	for _, f := range figs {
		r := f.Ratios[ci]
		// A control at 0 (nothing measured where the baseline had
		// something) is no width to hold other figures to.
		if !r.taken() || r.Rounds == 0 || r.Median <= 0 {
			continue
		}
		sp := spreadOf(out, f.Unit, f.Statistic)
		if sp == nil {
			out = append(out, Spread{Unit: f.Unit, Statistic: f.Statistic, Width: 1})
			sp = &out[len(out)-1]
		}
		sp.Figures++
		if amountUnits[f.Unit] {
			if d := math.Abs(f.PerCell[ci+1].P50 - f.PerCell[0].P50); d > sp.Offset {
				sp.Offset, sp.Figure = d, spell(f.Name, f.Labels)
			}
		} else if w := math.Max(r.Median, 1/r.Median); w > sp.Width {
			sp.Width, sp.Figure = w, spell(f.Name, f.Labels)
		}
	}
	return out
}

// taken reports whether the ratio was taken at all: not refused (no
// ratio) and not set aside for a different pod placement.
func (r Ratio) taken() bool { return r.Call != NoRatio && r.Call != NotComparable }

func spreadOf(sps []Spread, unit, stat string) *Spread {
	for i := range sps {
		if sps[i].Unit == unit && sps[i].Statistic == stat {
			return &sps[i]
		}
	}
	return nil
}

// amountUnits are the units whose instance offsets are amounts rather than
// proportions: comparison 20261207T215432Z's control stood at most 12.3
// MiB from the baseline on every memory figure, whatever the figure's size.
var amountUnits = map[string]bool{"bytes": true}

// limit turns a called difference of cell ri in f that does not clear the
// spread ControlMargin times over into WithinSpread: for an amount unit
// the cell's median must differ from the baseline's by more than
// ControlMargin × Offset, else its median ratio must be above
// Width^ControlMargin (higher) or below its inverse (lower).
func (sp *Spread) limit(f *Figure, ri int) {
	r := &f.Ratios[ri]
	if r.Call != Higher && r.Call != Lower {
		return
	}
	if amountUnits[f.Unit] {
		d, bar := f.PerCell[ri+1].P50-f.PerCell[0].P50, ControlMargin*sp.Offset
		if (r.Call == Higher && d <= bar) || (r.Call == Lower && d >= -bar) {
			r.Why = fmt.Sprintf("every round on one side of 1, but the medians differ by %.4g %s, within %d× the %.4g %s two instances of the baseline differed by (the control, in %s)",
				d, f.Unit, ControlMargin, sp.Offset, f.Unit, sp.Figure)
			r.Call = WithinSpread
		}
		return
	}
	bar := math.Pow(sp.Width, ControlMargin)
	if (r.Call == Higher && r.Median <= bar) || (r.Call == Lower && r.Median >= 1/bar) {
		r.Why = fmt.Sprintf("every round on one side of 1 (median ×%.2f), within ×%.2f: %d× the ×%.2f two instances of the baseline differed by (the control, in %s), in logarithms",
			r.Median, bar, ControlMargin, sp.Width, sp.Figure)
		r.Call = WithinSpread
	}
}
