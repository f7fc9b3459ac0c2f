package compare

import (
	"fmt"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/result"
)

// cellRound is one cell's figures of one round: create latency samples, an
// idle figure with and without a scope label, and a figure only some cells have.
func cellRound(datastore string, create []float64, pss float64, extra bool) []result.Measurement {
	ms := []result.Measurement{
		result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "create", "datastore": datastore}, create),
		result.NewMeasurement("footprint.idle.pss", "bytes", map[string]string{"datastore": datastore}, []float64{pss}),
		result.NewMeasurement("footprint.idle.pss", "bytes", map[string]string{"datastore": datastore, "scope": "server-only"}, []float64{pss / 2}),
		result.NotMeasured("footprint.datastore.size", "bytes", map[string]string{"datastore": datastore}, "gateway refused"),
	}
	if extra {
		ms = append(ms, result.NewMeasurement("pods.startup.latency", "seconds", nil, []float64{1}))
	}
	return ms
}

func TestBuildComparesRoundByRound(t *testing.T) {
	cells := []Cell{{Name: "sqlite"}, {Name: "postgres"}}
	rounds := []Round{
		{cellRound("sqlite", []float64{0.008, 0.009, 0.010}, 400, true), cellRound("postgres", []float64{0.016, 0.017, 0.018}, 380, false)},
		{cellRound("sqlite", []float64{0.010, 0.011, 0.012}, 410, true), cellRound("postgres", []float64{0.019, 0.020, 0.021}, 420, false)},
	}
	c, err := Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Figure{}
	for _, f := range c.Figures {
		byKey[keyOf(result.Measurement{Name: f.Name, Unit: f.Unit, Labels: f.Labels}).id] = f
	}
	if len(c.Figures) != 3 {
		t.Fatalf("figures %v: want create latency and both idle PSS scopes (the datastore label set aside), not the one-cell or unmeasured figures", keys(byKey))
	}
	create := byKey["api.latency{verb=create} seconds"]
	if r := create.Ratios[0]; r.Call != Higher || r.Min < 1.8 || r.Max > 2.1 {
		t.Errorf("create p50 ratio %+v: postgres was about twice sqlite in both rounds, want higher", r)
	}
	if got := create.PerCell[1].Count; got != 2 {
		t.Errorf("per-cell summary over %d rounds, want 2", got)
	}
	// PSS: 380 vs 400 (lower), then 420 vs 410 (higher): noise.
	if r := byKey["footprint.idle.pss{} bytes"].Ratios[0]; r.Call != WithinNoise {
		t.Errorf("idle PSS ratio %+v: the rounds disagree, want within noise", r)
	}

	c, err = Build(cells, rounds, []string{"p50"}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Figures {
		if f.Ratios[0].Call != NotInterleaved {
			t.Errorf("%s: call %q in a comparison that was not interleaved", f.Name, f.Ratios[0].Call)
		}
	}
}

func TestBuildRefusesRoundsThatDoNotFit(t *testing.T) {
	one := []Cell{{Name: "a"}}
	if _, err := Build(one, nil, []string{"p50"}, true); err == nil || !strings.Contains(err.Error(), "at least two cells") {
		t.Errorf("one cell: error %v", err)
	}
	two := []Cell{{Name: "a"}, {Name: "b"}}
	short := []Round{{cellRound("sqlite", []float64{1}, 1, false)}}
	if _, err := Build(two, short, []string{"p50"}, true); err == nil || !strings.Contains(err.Error(), "round 1 has figures of 1 cells") {
		t.Errorf("a round missing a cell: error %v", err)
	}
}

func keys(m map[string]Figure) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestFromReportsIsNotInterleaved(t *testing.T) {
	a := &result.Report{RunID: "20261207T072154Z-k3s-sqlite", Measurements: cellRound("sqlite", []float64{0.007}, 400, false)}
	b := &result.Report{RunID: "20261207T072849Z-k3s-postgres", Measurements: cellRound("postgres", []float64{0.014}, 420, false)}
	c, err := FromReports([]*result.Report{a, b}, []string{"p50"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Interleaved || !strings.Contains(c.Why, a.RunID) || c.Cells[1].Name != b.RunID || c.Cells[1].Report != b {
		t.Errorf("comparison of two reports: interleaved=%v why=%q cells=%v", c.Interleaved, c.Why, c.Cells)
	}
	for _, f := range c.Figures {
		if r := f.Ratios[0]; r.Call != NotInterleaved || r.Rounds != 1 {
			t.Errorf("%s: ratio %+v, want one round, not interleaved", f.Name, r)
		}
	}
}

// TestBuildZeroBaseline: a figure whose baseline is 0 in a round (no pod on
// the baseline's node that round) gets no ratio, with the reason; the other
// figures are still compared.
func TestBuildZeroBaseline(t *testing.T) {
	pods := func(v float64) []result.Measurement {
		return []result.Measurement{
			result.NewMeasurement("footprint.node.pods.pss", "bytes", map[string]string{"node": "node0"}, []float64{v}),
			result.NewMeasurement("footprint.cluster.pss", "bytes", nil, []float64{600 + v/1e6}),
		}
	}
	c, err := Build([]Cell{{Name: "a"}, {Name: "b"}}, []Round{{pods(0), pods(46e6)}}, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Figures) != 2 {
		t.Fatalf("%d figures, want both", len(c.Figures))
	}
	r := c.Figures[0].Ratios[0]
	if r.Call != NoRatio || !strings.Contains(c.Figures[0].Verdict(r), "baseline of 0") {
		t.Errorf("pods PSS against a baseline of 0: %+v, verdict %q", r, c.Figures[0].Verdict(r))
	}
	if got := c.Figures[1].Ratios[0].Call; got != Higher {
		t.Errorf("cluster PSS call %q, want higher", got)
	}
}

func TestStatsFor(t *testing.T) {
	asked := []string{"p50", "p99"}
	one := result.NewMeasurement("binary.size", "bytes", nil, []float64{1})
	many := result.NewMeasurement("api.latency", "seconds", nil, []float64{1, 2})
	rate := result.NewMeasurement("api.error_rate", "ratio", nil, []float64{0, 0, 1})
	for _, tt := range []struct {
		m    result.Measurement
		want string
	}{{one, "[p50]"}, {many, "[p50 p99]"}, {rate, "[mean]"}} {
		if got := fmt.Sprint(statsFor(&tt.m, asked)); got != tt.want {
			t.Errorf("statsFor(%s) = %s, want %s", tt.m.Name, got, tt.want)
		}
	}
}

// TestPlacementApartIsNotCompared: the scheduler put CoreDNS on the
// server's node in one cell and on the agent's in the other. The server
// node's own footprint is then higher in every round because of the pod,
// not the datastore: the call must say so instead of "higher", while the
// cluster's total (no placement attribute) is still compared.
func TestPlacementApartIsNotCompared(t *testing.T) {
	node := func(datastore, placed string, pss, total float64) []result.Measurement {
		return []result.Measurement{
			result.NewMeasurement("footprint.agent.pss", "bytes", map[string]string{"node": "node0", "datastore": datastore}, []float64{pss}).
				WithAttribute(result.PlacementAttr, placed),
			result.NewMeasurement("footprint.cluster.pss", "bytes", map[string]string{"datastore": datastore}, []float64{total}),
		}
	}
	cells := []Cell{{Name: "sqlite"}, {Name: "postgres"}}
	rounds := []Round{
		{node("sqlite", "node0=0 node1=1", 34, 480), node("postgres", "node0=1 node1=0", 60, 560)},
		{node("sqlite", "node0=0 node1=1", 35, 484), node("postgres", "node0=1 node1=0", 61, 566)},
	}
	c, err := Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Figures {
		r := f.Ratios[0]
		switch f.Name {
		case "footprint.agent.pss":
			if r.Call != NotComparable || !strings.Contains(r.Why, "baseline node0=0 node1=1, this cell node0=1 node1=0") {
				t.Errorf("node0 PSS with the pod placed apart: call %q (%s), want not comparable, naming both placements", r.Call, r.Why)
			}
			if v := f.Verdict(r); !strings.HasPrefix(v, "not comparable: pods placed differently") {
				t.Errorf("verdict %q", v)
			}
		case "footprint.cluster.pss":
			if r.Call != Higher {
				t.Errorf("cluster PSS call %q, want higher (it does not depend on placement)", r.Call)
			}
		}
	}

	rounds[0][1] = node("postgres", "node0=0 node1=1", 36, 560)
	rounds[1][1] = node("postgres", "node0=0 node1=1", 37, 566)
	c, err = Build(cells, rounds, []string{"p50"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Figures[0].Ratios[0]; c.Figures[0].Name != "footprint.agent.pss" || r.Call != Higher {
		t.Errorf("%s placed alike: call %q (%s), want higher", c.Figures[0].Name, r.Call, r.Why)
	}
}
