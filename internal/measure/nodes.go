package measure

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/result"
)

// NodeReadyOptions configure a node readiness measurement.
type NodeReadyOptions struct {
	Client kubernetes.Interface
	// Since is when the server process was started.
	Since time.Time
	// Nodes is how many nodes to wait for (default 1).
	Nodes int
	// Timeout of the wait for Nodes Ready nodes (default 2 minutes).
	Timeout time.Duration
	// Poll interval while waiting (default 250ms).
	Poll time.Duration
	// Labels are added to every measurement.
	Labels map[string]string
}

// NodeReady returns "startup.node_ready" (seconds) per node (label "node"):
// the time from o.Since (the server's start) to the node's Ready condition.
// Nodes already Ready when it looks count from their Ready condition's
// lastTransitionTime (API timestamps have one-second resolution); nodes that
// become Ready while it polls count from when the poll saw them. It waits up
// to o.Timeout for o.Nodes Ready nodes and returns what it has with an error
// when they do not come.
func NodeReady(ctx context.Context, o NodeReadyOptions) ([]result.Measurement, error) {
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	ready := map[string]float64{}
	first := true
	deadline := time.Now().Add(o.Timeout)
	var lastErr error
	for {
		list, err := o.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		now := time.Now()
		if err != nil {
			lastErr = err
		} else {
			for i := range list.Items {
				n := &list.Items[i]
				if _, seen := ready[n.Name]; seen {
					continue
				}
				if at, ok := nodeReadySince(n); ok {
					if !first {
						at = now // became Ready since the last poll
					}
					ready[n.Name] = max(at.Sub(o.Since).Seconds(), 0)
				}
			}
			first = false
		}
		if len(ready) >= o.Nodes {
			break
		}
		if now.After(deadline) || ctx.Err() != nil {
			err := fmt.Errorf("%d of %d nodes Ready after %s", len(ready), o.Nodes, o.Timeout)
			if lastErr != nil {
				err = fmt.Errorf("%w (last error: %w)", err, lastErr)
			}
			return nodeReadyMeasurements(ready, o.Labels), fmt.Errorf("node readiness: %w (check the agents' logs)", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.Poll):
		}
	}
	return nodeReadyMeasurements(ready, o.Labels), nil
}

// nodeReadySince returns when the node's Ready condition became True.
func nodeReadySince(n *corev1.Node) (time.Time, bool) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

func nodeReadyMeasurements(ready map[string]float64, labels map[string]string) []result.Measurement {
	var out []result.Measurement
	for _, name := range slices.Sorted(maps.Keys(ready)) {
		l := maps.Clone(labels)
		if l == nil {
			l = map[string]string{}
		}
		l["node"] = name
		out = append(out, described(result.NewMeasurement("startup.node_ready", "seconds", l, []float64{ready[name]}),
			"time from starting the server process to the node's Ready condition"))
	}
	return out
}
