package measure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/result"
)

// NodeReadyMetric is the name of the node readiness measurement.
const NodeReadyMetric = "startup.node_ready"

const nodeReadyDescription = "time from starting the server process to the node's Ready condition turning True, " +
	"on the harness's monotonic clock: a watch on the nodes, started as soon as the server's API answered, " +
	"stamps the event that shows the node Ready (resolution: the watch's delivery, milliseconds)"

// NodeReadyOptions configure a node readiness measurement.
type NodeReadyOptions struct {
	Client kubernetes.Interface
	// Since is when the server process was started, taken from this
	// process's clock (time.Now, so the monotonic reading is used).
	Since time.Time
	// Nodes is how many nodes to wait for (default 1).
	Nodes int
	// Timeout of Wait for Nodes Ready nodes (default 2 minutes).
	Timeout time.Duration
	// Labels are added to every measurement.
	Labels map[string]string
}

// NodeReadyWatch times nodes turning Ready on the harness's clock.
type NodeReadyWatch struct {
	o      NodeReadyOptions
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	ready   map[string]time.Duration // since o.Since, as the watch saw it
	untimed map[string]string        // Ready when first seen: why it has no figure
	changed chan struct{}            // closed and replaced on every change
	lastErr error                    // the last list/watch error, for a timeout
}

// WatchNodeReady lists the nodes and watches them from that list on, until
// Wait returns. Start it as soon as the server's API answers: a node can
// only be timed when the watch sees it turn Ready. A node already Ready
// at the first list cannot be, and Wait reports it as not measured, with
// the reason (never with the 1 s-resolution lastTransitionTime, which
// predates the watch).
func WatchNodeReady(ctx context.Context, o NodeReadyOptions) (*NodeReadyWatch, error) {
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &NodeReadyWatch{o: o, cancel: cancel, done: make(chan struct{}),
		ready: map[string]time.Duration{}, untimed: map[string]string{}, changed: make(chan struct{})}
	rv, err := w.list(ctx, "Ready when the harness first listed the nodes, before its watch could see it turn Ready")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("node readiness: list nodes: %w", err)
	}
	go w.run(ctx, rv)
	return w, nil
}

// NodeReady is WatchNodeReady followed by Wait.
func NodeReady(ctx context.Context, o NodeReadyOptions) ([]result.Measurement, error) {
	w, err := WatchNodeReady(ctx, o)
	if err != nil {
		return nil, err
	}
	return w.Wait(ctx)
}

// list records the nodes that are Ready now as untimed (with why) and
// returns the list's resource version to watch from.
func (w *NodeReadyWatch) list(ctx context.Context, why string) (string, error) {
	list, err := w.o.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range list.Items {
		n := &list.Items[i]
		if _, timed := w.ready[n.Name]; !timed && isReady(n) && w.untimed[n.Name] == "" {
			w.untimed[n.Name] = why
			w.notify()
		}
	}
	return list.ResourceVersion, nil
}

// run follows the watch; when it breaks it watches again from the last
// resource version, or lists again when that fails.
func (w *NodeReadyWatch) run(ctx context.Context, rv string) {
	defer close(w.done)
	for ctx.Err() == nil {
		next, err := w.follow(ctx, rv)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			// The server ended the watch (its timeout): resume from the
			// last version seen, which loses no event; pause a little so
			// that a server ending every watch at once is not hammered.
			rv = next
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		w.setErr(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
		if next, err := w.list(ctx, "turned Ready while the harness's watch was broken (reconnecting), so it was not timed"); err == nil {
			rv = next
		} else {
			w.setErr(err)
		}
	}
}

// follow consumes one watch until it closes; it returns the resource
// version to resume from, or an error when the watch must start over from
// a new list.
func (w *NodeReadyWatch) follow(ctx context.Context, rv string) (string, error) {
	wi, err := w.o.Client.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return rv, fmt.Errorf("watch nodes: %w", err)
	}
	defer wi.Stop()
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return rv, nil
			}
			at := time.Now()
			switch ev.Type {
			case watch.Error:
				return rv, fmt.Errorf("watch nodes: %v", ev.Object)
			case watch.Added, watch.Modified, watch.Bookmark:
				n, isNode := ev.Object.(*corev1.Node)
				if !isNode {
					continue
				}
				if n.ResourceVersion != "" {
					rv = n.ResourceVersion
				}
				if ev.Type != watch.Bookmark {
					w.observe(n, at)
				}
			}
		}
	}
}

// observe records when the watch first saw the node Ready.
func (w *NodeReadyWatch) observe(n *corev1.Node, at time.Time) {
	if !isReady(n) {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, timed := w.ready[n.Name]; timed || w.untimed[n.Name] != "" {
		return
	}
	w.ready[n.Name] = at.Sub(w.o.Since)
	w.notify()
}

// notify wakes Wait; w.mu is held.
func (w *NodeReadyWatch) notify() {
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *NodeReadyWatch) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastErr = err
}

// Stop ends the watch (Wait does; call Stop when Wait is never reached).
func (w *NodeReadyWatch) Stop() {
	w.cancel()
	<-w.done
}

// Wait waits up to the timeout for the expected number of Ready nodes, ends
// the watch and returns one "startup.node_ready" per node (label "node"):
// seconds for the nodes the watch saw turn Ready, not measured (with the
// reason) for the others. It returns an error, with what it has, when the
// nodes do not come, or when a node was seen Ready before the server
// started (a wrong Since: a figure that cannot be is never turned into 0).
func (w *NodeReadyWatch) Wait(ctx context.Context) ([]result.Measurement, error) {
	defer w.Stop()
	deadline := time.After(w.o.Timeout)
	for {
		w.mu.Lock()
		n, changed := len(w.ready)+len(w.untimed), w.changed
		w.mu.Unlock()
		if n >= w.o.Nodes {
			return w.measurements()
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		case <-deadline:
		}
		ms, err := w.measurements()
		w.mu.Lock()
		timeout := fmt.Errorf("%d of %d nodes Ready after %s", len(w.ready)+len(w.untimed), w.o.Nodes, w.o.Timeout)
		if w.lastErr != nil {
			timeout = fmt.Errorf("%w (last error: %w)", timeout, w.lastErr)
		}
		w.mu.Unlock()
		return ms, errors.Join(fmt.Errorf("node readiness: %w (check the agents' logs)", timeout), err)
	}
}

func (w *NodeReadyWatch) measurements() ([]result.Measurement, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []result.Measurement
	var errs []error
	names := slices.Sorted(maps.Keys(w.ready))
	names = append(names, slices.Sorted(maps.Keys(w.untimed))...)
	for _, name := range names {
		l := maps.Clone(w.o.Labels)
		if l == nil {
			l = map[string]string{}
		}
		l["node"] = name
		d, timed := w.ready[name]
		switch {
		case !timed:
			out = append(out, described(result.NotMeasured(NodeReadyMetric, "seconds", l, w.untimed[name]), nodeReadyDescription))
		case d < 0:
			errs = append(errs, fmt.Errorf("node %s: seen Ready %s before the server started: the start time handed to the measurement is wrong", name, -d))
		default:
			out = append(out, described(result.NewMeasurement(NodeReadyMetric, "seconds", l, []float64{d.Seconds()}), nodeReadyDescription))
		}
	}
	return out, errors.Join(errs...)
}

// isReady reports whether the node's Ready condition is True.
func isReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
