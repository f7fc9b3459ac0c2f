package measure

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/distrobench/distrobench/internal/result"
)

// nodeWith is a node whose Ready condition has status s and the given
// lastTransitionTime, at the API's one-second resolution.
func nodeWith(name string, s corev1.ConditionStatus, transition time.Time) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: s, LastTransitionTime: metav1.NewTime(transition).Rfc3339Copy(),
	}}}}
}

// fakeNodes is a fake clientset whose node watch the test drives.
func fakeNodes(nodes ...*corev1.Node) (*fake.Clientset, *watch.FakeWatcher) {
	var objs []runtime.Object
	for _, n := range nodes {
		objs = append(objs, n)
	}
	cs := fake.NewClientset(objs...)
	fw := watch.NewFake()
	cs.PrependWatchReactor("nodes", k8stesting.DefaultWatchReactor(fw, nil))
	return cs, fw
}

// turnReady makes the node Ready in the fake API (for a reader that
// lists) and sends the event on the watch (for one that watches); the
// send returns once a watcher took it, or gives up after a while.
func turnReady(ctx context.Context, t *testing.T, cs *fake.Clientset, fw *watch.FakeWatcher, n *corev1.Node) {
	t.Helper()
	if _, err := cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update node: %v", err)
	}
	sent := make(chan struct{})
	go func() { defer close(sent); fw.Modify(n) }()
	select {
	case <-sent:
	case <-time.After(2 * time.Second): // nobody watches: the lister finds it by listing
	}
}

// TestNodeReadyOnTheHarnessClock: a node Ready before the measurement
// could see it is not measured (with the reason), never given a value from
// its 1 s-resolution lastTransitionTime or clamped to 0; a node that turns
// Ready while watched is timed when the watch delivers the event, on the
// harness's clock, whatever its lastTransitionTime says.
func TestNodeReadyOnTheHarnessClock(t *testing.T) {
	ctx := context.Background()
	since := time.Now()
	// The transition times are deliberately wrong: a figure taken from
	// them (an hour before the start; 7 s after it) is caught.
	early := nodeWith("server", corev1.ConditionTrue, since.Add(-time.Hour))
	agent := nodeWith("agent-1", corev1.ConditionFalse, since)
	cs, fw := fakeNodes(early, agent)

	type outcome struct {
		ms  []result.Measurement
		err error
	}
	res := make(chan outcome, 1)
	go func() {
		ms, err := NodeReady(ctx, NodeReadyOptions{Client: cs, Since: since, Nodes: 2, Timeout: time.Minute, Labels: map[string]string{"datastore": "etcd"}})
		res <- outcome{ms, err}
	}()
	waitForWatch(t, cs)
	before := time.Now()
	turnReady(ctx, t, cs, fw, nodeWith("agent-1", corev1.ConditionTrue, since.Add(7*time.Second)))
	out := <-res
	after := time.Now()
	if out.err != nil {
		t.Fatalf("NodeReady: %v", out.err)
	}
	got := map[string]result.Measurement{}
	for _, m := range out.ms {
		if m.Name != NodeReadyMetric || m.Labels["datastore"] != "etcd" || m.Description == "" {
			t.Errorf("measurement %s %v %q", m.Name, m.Labels, m.Description)
		}
		got[m.Labels["node"]] = m
	}
	if m := got["server"]; m.Missing == "" || len(m.Samples) != 0 || !strings.Contains(m.Missing, "Ready when the harness first listed") {
		t.Errorf("a node Ready before the watch: samples %v, missing %q; want not measured, saying why", m.Samples, m.Missing)
	}
	m := got["agent-1"]
	if len(m.Samples) != 1 || m.Missing != "" {
		t.Fatalf("agent-1: samples %v, missing %q; want one sample", m.Samples, m.Missing)
	}
	lo, hi := before.Sub(since).Seconds(), after.Sub(since).Seconds()
	if v := m.Samples[0]; v < lo || v > hi {
		t.Errorf("agent-1 Ready after %v s; want it when the watch saw it, between %v and %v s (its lastTransitionTime says 7)", v, lo, hi)
	}
}

// waitForWatch waits until the code under test has opened a node watch
// (a lister never does: then it returns after a while).
func waitForWatch(t *testing.T, cs *fake.Clientset) {
	t.Helper()
	for i := 0; i < 100; i++ {
		for _, a := range cs.Actions() {
			if a.GetVerb() == "watch" && a.GetResource().Resource == "nodes" {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNodeReadyTimesOutWithWhatItHas(t *testing.T) {
	since := time.Now()
	cs, fw := fakeNodes(nodeWith("server", corev1.ConditionFalse, since), nodeWith("agent-1", corev1.ConditionUnknown, since))
	w, err := WatchNodeReady(context.Background(), NodeReadyOptions{Client: cs, Since: since, Nodes: 2, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fw.Modify(nodeWith("server", corev1.ConditionTrue, since))
	ms, err := w.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1 of 2 nodes Ready") {
		t.Fatalf("err = %v, want 1 of 2 nodes Ready", err)
	}
	if len(ms) != 1 || ms[0].Labels["node"] != "server" || len(ms[0].Samples) != 1 {
		t.Errorf("measurements = %v, want the server's", ms)
	}
}

func TestNodeReadyBeforeTheServerStartedIsAnError(t *testing.T) {
	since := time.Now().Add(time.Hour) // a wrong start: in the future
	cs, fw := fakeNodes(nodeWith("server", corev1.ConditionFalse, since))
	w, err := WatchNodeReady(context.Background(), NodeReadyOptions{Client: cs, Since: since, Nodes: 1, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	fw.Modify(nodeWith("server", corev1.ConditionTrue, since))
	ms, err := w.Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "before the server started") || len(ms) != 0 {
		t.Errorf("Wait = %v, %v; want no figure and an error, never a 0", ms, err)
	}
}
