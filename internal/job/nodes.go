package job

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/conformance"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/suites/framework"
)

// nodePlan is what the job expects of the cluster's nodes.
type nodePlan struct {
	// Expected is how many nodes the deployment starts (0: no agent at all).
	Expected int
	// Controller stops/starts agents for the disruptive specs (nil: none).
	Controller framework.NodeController
}

// planNodes works out the nodes of a cluster this process started.
func planNodes(c *deploy.Cluster) nodePlan {
	return planFrom(c.WantNodes(), deployNodes{c})
}

func planFrom(expected int, ctl framework.NodeController) nodePlan {
	if expected == 0 {
		return nodePlan{}
	}
	return nodePlan{Expected: expected, Controller: ctl}
}

// idleUnits are what the idle footprint measures: the server (with its
// node), every running agent node, each in its own cgroup when it runs on a
// simulated host, and the datastore servers the run started.
func idleUnits(c *deploy.Cluster) []measure.Unit {
	var out []measure.Unit
	for _, n := range c.NodeCgroups() {
		role := measure.RoleAgent
		if n.Server {
			role = measure.RoleServer
		}
		out = append(out, measure.Unit{Name: n.Node, Role: role, PID: n.PID, Cgroup: n.Cgroup, Pods: n.Pods})
	}
	for i, pid := range c.DatastorePIDs {
		out = append(out, measure.Unit{Name: fmt.Sprintf("%s-%d", c.Datastore, i), Role: measure.RoleDatastore, PID: pid})
	}
	return out
}

// withControlPlane names, on every node, the static pods that are the
// control plane (the RKE2 style): the footprint counts them as the node's
// own processes.
func withControlPlane(ctx context.Context, cs kubernetes.Interface, units []measure.Unit) ([]measure.Unit, error) {
	for i, u := range units {
		if u.Pods == "" {
			continue
		}
		cp, err := measure.ControlPlanePods(ctx, cs, u.Name)
		if err != nil {
			return nil, err
		}
		if len(cp) > 0 {
			units[i].ControlPlane = cp
		}
	}
	return units, nil
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

// benchNodes measures the pod startup latency of a cluster with nodes (the
// agents' memory is measured with the idle footprint, in the same idle
// window as the server's: Footprint).
func benchNodes(ctx context.Context, c *deploy.Cluster, p nodePlan, o BenchOptions, log *slog.Logger, pr *progress.Printer) ([]result.Measurement, error) {
	if p.Expected == 0 || o.SkipPods {
		return nil, nil
	}
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, err
	}
	ms, err := measure.PodStartup(ctx, measure.PodStartupOptions{
		Config: cfg, Pods: o.Pods, QPS: o.PodQPS, Concurrency: o.PodConcurrency,
		Labels: map[string]string{"datastore": c.Datastore}, Log: log,
		Progress: func(s string) { pr.Status("pod startup: %s", s) },
	})
	if err != nil {
		return ms, fmt.Errorf("pod startup: %w", err)
	}
	return ms, nil
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
