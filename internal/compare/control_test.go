package compare

import (
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

// controlRounds are three rounds of one "bytes" figure per node (node0,
// node1) for the baseline, the control and two cells: the control sits 8 %
// above the baseline on node1 in every round; cell "small" is 5 % below on
// node0 in every round (every round agrees, so without a control it is
// called), cell "big" 50 % above on both.
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
			cellOf(150, 150),               // big
		})
	}
	return []Cell{{Name: "base"}, {Name: "base-control"}, {Name: "small"}, {Name: "big"}}, rounds
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
	if len(c.Spreads) != 1 || c.Spreads[0].Unit != "bytes" || c.Spreads[0].Figures != 2 ||
		c.Spreads[0].Width < 1.07 || c.Spreads[0].Width > 1.09 || !strings.Contains(c.Spreads[0].Figure, "node=node1") {
		t.Fatalf("spreads %+v, want bytes p50 about ×1.08, set by node1, over 2 figures", c.Spreads)
	}
	// The control's ×1.08 on node1 holds node0's ×0.95 back, both ways.
	if r := c.Figures[0].Ratios[1]; r.Call != WithinSpread || !strings.Contains(r.Why, "×1.08") {
		t.Errorf("small on node0: %+v, want within A/A spread naming ×1.08", r)
	}
	for _, f := range c.Figures {
		if r := f.Ratios[2]; r.Call != Higher {
			t.Errorf("big on %v: %+v, want higher (×1.5 clears ×1.08)", f.Labels, r)
		}
		if r := f.Ratios[0]; r.Call != ControlCall {
			t.Errorf("the control on %v: call %s, want %s", f.Labels, r.Call, ControlCall)
		}
	}
	if err := c.ApplyControl(0); err == nil {
		t.Error("the baseline accepted as its own control")
	}
}
