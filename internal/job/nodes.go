package job

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/suites/framework"
)

// NodeAgents is what the job needs from a deployed cluster whose nodes run
// agents; deployNodes implements it on *deploy.Cluster. Its StopAgent and
// StartAgent make it the framework.NodeController handed to the disruptive
// specs of suites/nodes.
type NodeAgents interface {
	// AgentPIDs maps every node's name to the PID of the process running
	// its agent: `k3lite agent` for agent nodes, the server's PID for the
	// server's own node. Nodes whose agent is stopped are left out.
	AgentPIDs() map[string]int
	framework.NodeController
}

// nodePlan is what the job expects of the cluster's nodes.
type nodePlan struct {
	// Expected is how many nodes the deployment starts (0: no agent at all).
	Expected int
	// Agents are the running agent processes, by node name.
	Agents []measure.AgentProcess
	// Controller stops/starts agents for the disruptive specs (nil: none).
	Controller framework.NodeController
}

// planNodes works out the nodes of a cluster this process started.
func planNodes(c *deploy.Cluster) nodePlan {
	d := deployNodes{c}
	p := planFrom(d.AgentPIDs(), c.WantNodes(), d, c.ServerPID)
	// Shims and pods are not the agents' descendants: say where else to
	// find each node's processes.
	for i := range p.Agents {
		a := &p.Agents[i]
		if a.InServer {
			a.DataDir, a.CgroupRoot = c.DataDir, c.ServerCgroupRoot
			continue
		}
		for _, ag := range c.Agents {
			if ag.Name == a.Node {
				a.DataDir, a.CgroupRoot = ag.DataDir, ag.CgroupRoot
			}
		}
	}
	return p
}

func planFrom(agents map[string]int, expected int, ctl framework.NodeController, serverPID int) nodePlan {
	if expected == 0 {
		return nodePlan{}
	}
	p := nodePlan{Expected: expected, Controller: ctl}
	for _, node := range slices.Sorted(maps.Keys(agents)) {
		pid := agents[node]
		p.Agents = append(p.Agents, measure.AgentProcess{Node: node, PID: pid, InServer: pid == serverPID})
	}
	return p
}

// suitesFor selects the suites the main job runs on the plan's cluster.
func (p nodePlan) suites() []string { return conformance.SuitesFor(p.Expected) }

// nodeTimer times the nodes of a cluster being deployed turning Ready, on
// the harness's clock: start is deploy's APIReady hook, so the node watch
// runs before any node can be Ready; wait collects "startup.node_ready"
// once Up has returned.
type nodeTimer struct {
	ctx     context.Context
	timeout time.Duration
	watch   *measure.NodeReadyWatch // nil: no node, or not started
	err     error                   // why the watch could not start
}

// start begins watching c's nodes (nothing for a cluster without nodes).
func (t *nodeTimer) start(c *deploy.Cluster) {
	p := planNodes(c)
	if p.Expected == 0 {
		return
	}
	cs, err := clientFor(c)
	if err != nil {
		t.err = err
		return
	}
	t.watch, t.err = measure.WatchNodeReady(t.ctx, measure.NodeReadyOptions{Client: cs, Since: c.StartedAt, Nodes: p.Expected,
		Timeout: t.timeout, Labels: map[string]string{"datastore": c.Datastore}})
}

// wait returns "startup.node_ready" for every node (nothing without nodes).
func (t *nodeTimer) wait(ctx context.Context) ([]result.Measurement, error) {
	if t.err != nil {
		return nil, fmt.Errorf("node readiness: could not watch the nodes: %w", t.err)
	}
	if t.watch == nil {
		return nil, nil
	}
	return t.watch.Wait(ctx)
}

// stop ends a watch that wait never collected (Up failed).
func (t *nodeTimer) stop() {
	if t.watch != nil {
		t.watch.Stop()
	}
}

// benchNodes measures what the agents add: their memory apart from the pods
// (while the cluster idles) and the pod startup latency.
func benchNodes(ctx context.Context, c *deploy.Cluster, p nodePlan, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	if p.Expected == 0 || o.SkipPods {
		return nil, nil
	}
	labels := map[string]string{"datastore": c.Datastore}
	var out []result.Measurement

	window := max(o.IdleWindow/2, 10*time.Second)
	pr.Status("agent memory of %d node(s) over %s", len(p.Agents), window)
	ms, err := measure.AgentMemory(ctx, measure.AgentMemoryOptions{Agents: p.Agents, Window: window, Labels: labels})
	out = append(out, ms...)
	if err != nil {
		return out, fmt.Errorf("agent memory: %w", err)
	}

	cfg, err := c.RESTConfig()
	if err != nil {
		return out, err
	}
	ms, err = measure.PodStartup(ctx, measure.PodStartupOptions{
		Config: cfg, Pods: o.Pods, QPS: o.PodQPS, Concurrency: o.PodConcurrency, Labels: labels, Log: log,
		Progress: func(s string) { pr.Status("pod startup: %s", s) },
	})
	out = append(out, ms...)
	if err != nil {
		return out, fmt.Errorf("pod startup: %w", err)
	}
	return out, nil
}

func clientFor(c *deploy.Cluster) (kubernetes.Interface, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", c.Kubeconfig, err)
	}
	return cs, nil
}

// NodeSetup returns the suites to run on a cluster loaded from 'up' (the
// nodes suite only when it has nodes). A loaded cluster cannot stop and start
// the agents of the process that ran 'up', so there is no node controller:
// its disruptive specs fail saying so (deselect them with '!disruptive').
func NodeSetup(c *deploy.Cluster) []string {
	return conformance.SuitesFor(c.WantNodes())
}
