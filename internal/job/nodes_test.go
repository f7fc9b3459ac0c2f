package job

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
)

type fakeController struct{}

func (fakeController) StopAgent(context.Context, string) error  { return nil }
func (fakeController) StartAgent(context.Context, string) error { return nil }

func TestPlanFrom(t *testing.T) {
	ctl := fakeController{}
	t.Run("server agent and two agents", func(t *testing.T) {
		p := planFrom(3, ctl)
		if p.Expected != 3 || p.Controller == nil {
			t.Errorf("plan = %+v, want 3 nodes with the controller", p)
		}
		if !slices.Contains(p.suites(), "nodes") {
			t.Errorf("suites = %q, want the nodes suite on a cluster with nodes", p.suites())
		}
	})
	t.Run("server without nodes", func(t *testing.T) {
		p := planFrom(0, ctl)
		if p.Expected != 0 || p.Controller != nil {
			t.Errorf("plan = %+v, want no nodes and no controller", p)
		}
		if s := p.suites(); slices.Contains(s, "nodes") || !slices.Contains(s, "api") {
			t.Errorf("suites = %q, want api only on a cluster without nodes", s)
		}
	})
}

func TestIdleUnits(t *testing.T) {
	c := &deploy.Cluster{
		Datastore: "postgres", ServerPID: 100, ServerAgent: true,
		ServerCgroupRoot: "/k3lite/ab-node0", ServerCgroup: "/k3lite/ab-node0/node",
		DatastorePIDs: []int{50},
		Agents: []*deploy.Agent{
			{Name: "node1", PID: 200, CgroupRoot: "/k3lite/ab-node1", Cgroup: "/k3lite/ab-node1/node"},
			{Name: "node2", PID: 0, CgroupRoot: "/k3lite/ab-node2", Cgroup: "/k3lite/ab-node2/node"}, // stopped
		},
	}
	want := []measure.Unit{
		{Name: "node0", Role: measure.RoleServer, PID: 100, Cgroup: "/k3lite/ab-node0/node", Pods: "/k3lite/ab-node0/kubepods"},
		{Name: "node1", Role: measure.RoleAgent, PID: 200, Cgroup: "/k3lite/ab-node1/node", Pods: "/k3lite/ab-node1/kubepods"},
		{Name: "postgres-0", Role: measure.RoleDatastore, PID: 50},
	}
	if got := idleUnits(c); !reflect.DeepEqual(got, want) {
		t.Errorf("idleUnits =\n %+v\nwant\n %+v", got, want)
	}
	// A server on the machine itself (no simulated host): its process tree.
	alone := &deploy.Cluster{Datastore: "sqlite", ServerPID: 7}
	if got := idleUnits(alone); !reflect.DeepEqual(got, []measure.Unit{{Name: "server", Role: measure.RoleServer, PID: 7}}) {
		t.Errorf("idleUnits of a server without nodes = %+v", got)
	}
}
