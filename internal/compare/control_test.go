package compare

import (
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

// controlRounds are three rounds of one "bytes" figure per node (node0,
// node1) for the baseline, the control and three cells: the control sits 8
// above the baseline on node1 in every round; cell "small" is 5 below on
// node0 in every round (every round agrees, so without a control it is
// called), "mid" 12 above on node0 (beyond the control's 8, not twice
// over), "big" 50 above on both.
func controlRounds() ([]Cell, []Round) {
	fig := func(node string, v float64) result.Measurement {
		return result.NewMeasurement("footprint.agent.pss", "bytes", map[string]string{"node": node}, []float64{v})
	}
	cellOf := func(n0, n1 float64) []result.Measurement {
		return []result.Measurement{fig("node0", n0), fig("node1", n1)}
	}
	var rounds []Round
	for _, jitter := range []float64{0, 1, 2} {
		rounds = append(rounds, Round{
			cellOf(100+jitter, 100+jitter), // baseline
			cellOf(100+jitter, 108+jitter), // control
			cellOf(95+jitter, 100+jitter),  // small
			cellOf(112+jitter, 100+jitter), // mid
			cellOf(150, 150),               // big
		})
	}
	return []Cell{{Name: "base"}, {Name: "base-control"}, {Name: "small"}, {Name: "mid"}, {Name: "big"}}, rounds
}

func TestControlHoldsBackDifferencesWithinItsSpread(t *testing.T) {
	cells, rounds := controlRounds()
	c, err := Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// Without the control, "small" is called on node0 (every round agrees).
	node0 := c.Figures[0]
	if node0.Labels["node"] != "node0" || node0.Ratios[1].Call != Lower {
		t.Fatalf("before the control: %s %v call %s, want node0 lower", node0.Name, node0.Labels, node0.Ratios[1].Call)
	}
	if err := c.ApplyControl(1); err != nil {
		t.Fatal(err)
	}
	// Memory offsets are amounts: the control's 8 bytes on node1 hold
	// node0's -5 back, both ways, and its +12 too (ControlMargin).
	if len(c.Spreads) != 1 || c.Spreads[0].Unit != "bytes" || c.Spreads[0].Figures != 2 ||
		c.Spreads[0].Offset != 8 || !strings.Contains(c.Spreads[0].Figure, "node=node1") {
		t.Fatalf("spreads %+v, want bytes p50 offset 8, set by node1, over 2 figures", c.Spreads)
	}
	for ri, name := range map[int]string{1: "small", 2: "mid"} {
		if r := c.Figures[0].Ratios[ri]; r.Call != WithinSpread || !strings.Contains(r.Why, "the 8 bytes two instances") {
			t.Errorf("%s on node0: %+v, want within A/A spread naming the control's 8 bytes", name, r)
		}
	}
	for _, f := range c.Figures {
		if r := f.Ratios[3]; r.Call != Higher {
			t.Errorf("big on %v: %+v, want higher (+50 clears twice 8)", f.Labels, r)
		}
		if r := f.Ratios[0]; r.Call != ControlCall {
			t.Errorf("the control on %v: call %s, want %s", f.Labels, r.Call, ControlCall)
		}
	}
	if err := c.ApplyControl(0); err == nil {
		t.Error("the baseline accepted as its own control")
	}
}

// TestControlMarginOnRatios: a latency spread is a factor, and a call must
// clear it ControlMargin times over in logarithms: the control's ×1.1
// holds back ×1.15 (below ×1.21) and not ×1.5.
func TestControlMarginOnRatios(t *testing.T) {
	lat := func(v float64) []result.Measurement {
		return []result.Measurement{result.NewMeasurement("api.latency", "seconds", nil, []float64{v})}
	}
	var rounds []Round
	for _, j := range []float64{1, 1.01, 0.99} {
		rounds = append(rounds, Round{lat(j), lat(1.1 * j), lat(1.15 * j), lat(1.5 * j)})
	}
	c, err := Build([]Cell{{Name: "base"}, {Name: "base-control"}, {Name: "mid"}, {Name: "big"}}, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyControl(1); err != nil {
		t.Fatal(err)
	}
	if r := c.Figures[0].Ratios[1]; r.Call != WithinSpread || !strings.Contains(r.Why, "within ×1.21") {
		t.Errorf("×1.15 against a ×1.1 control: %+v, want within A/A spread (×1.21)", r)
	}
	if r := c.Figures[0].Ratios[2]; r.Call != Higher {
		t.Errorf("×1.5 against a ×1.1 control: %+v, want higher", r)
	}
	if c.ControlMargin != ControlMargin {
		t.Errorf("controlMargin %v not recorded", c.ControlMargin)
	}
}
