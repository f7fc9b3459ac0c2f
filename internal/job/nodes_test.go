package job

import (
	"context"
	"slices"
	"testing"

	"github.com/distrobench/distrobench/internal/measure"
)

type fakeController struct{}

func (fakeController) StopAgent(context.Context, string) error  { return nil }
func (fakeController) StartAgent(context.Context, string) error { return nil }

func TestPlanFrom(t *testing.T) {
	ctl := fakeController{}
	t.Run("server agent and two agents", func(t *testing.T) {
		p := planFrom(map[string]int{"node2": 300, "node0": 100, "node1": 200}, 3, ctl, 100)
		want := []measure.AgentProcess{{Node: "node0", PID: 100, InServer: true}, {Node: "node1", PID: 200}, {Node: "node2", PID: 300}}
		if p.Expected != 3 || !slices.Equal(p.Agents, want) || p.Controller == nil {
			t.Errorf("plan = %+v, want 3 nodes %v with the controller", p, want)
		}
		if !slices.Contains(p.suites(), "nodes") {
			t.Errorf("suites = %q, want the nodes suite on a cluster with nodes", p.suites())
		}
	})
	t.Run("a stopped agent still counts as expected", func(t *testing.T) {
		p := planFrom(map[string]int{"node0": 100}, 2, ctl, 100)
		if p.Expected != 2 || len(p.Agents) != 1 {
			t.Errorf("plan = %+v, want 2 expected nodes and 1 running agent", p)
		}
	})
	t.Run("server without nodes", func(t *testing.T) {
		p := planFrom(map[string]int{}, 0, ctl, 42)
		if p.Expected != 0 || len(p.Agents) != 0 || p.Controller != nil {
			t.Errorf("plan = %+v, want no nodes and no controller", p)
		}
		if s := p.suites(); slices.Contains(s, "nodes") || !slices.Contains(s, "api") {
			t.Errorf("suites = %q, want api only on a cluster without nodes", s)
		}
	})
}
