package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

// watchWrites is how many writes the watch specs make.
const watchWrites = 500

// event is what a watcher must see for one write.
type event struct {
	Type            watch.EventType
	Name            string
	ResourceVersion string
}

func (e event) String() string { return fmt.Sprintf("%s %s@%s", e.Type, e.Name, e.ResourceVersion) }

var _ = describe("watch", Ordered, Label(framework.LabelAPI, framework.LabelDatastore, framework.LabelWatch), func() {
	var (
		ns      string
		startRV string
		writes  []event // every write in order, as the API server acknowledged it
	)

	BeforeAll(func(ctx context.Context) {
		ns = framework.NewNamespace(ctx, "watch").Name
		// The resourceVersion to watch from: that of an empty list.
		list, err := framework.ClientSet().CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		startRV = list.ResourceVersion
		Expect(startRV).NotTo(BeEmpty())
	})

	It(fmt.Sprintf("sees each of %d writes exactly once and in order while they happen", watchWrites), func(ctx SpecContext) {
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: startRV})
		Expect(err).NotTo(HaveOccurred())
		defer w.Stop()

		writes = writeEvents(ctx, c, "w", watchWrites)
		// A last write the watcher must see right after the others: nothing
		// extra (a duplicate) may come in between.
		sentinel, err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "sentinel"}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		want := append(append([]event(nil), writes...), event{watch.Added, sentinel.Name, sentinel.ResourceVersion})

		got, stopped, _ := collect(ctx, w, len(want), framework.Timeout(time.Minute))
		expectSameEvents(got, want, stopped)
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	It("replays the same events to a watch started later from the same resourceVersion", func(ctx SpecContext) {
		Expect(writes).To(HaveLen(watchWrites), "needs the writes of the previous spec")
		c := framework.ClientSet().CoreV1().ConfigMaps(ns)
		got, stopped, status := replay(ctx, c, startRV, watchWrites)
		if !isExpired(status) {
			expectSameEvents(got, writes, stopped)
			return
		}
		// The datastore compacted startRV away in between (kine keeps its
		// latest 1000 revisions of the whole cluster, etcd what the
		// apiserver's compaction leaves): 410 Expired is the API's answer
		// then, not a lost event. Replay over a window it still holds.
		AddReportEntry("replay from the first write: 410 Expired, replayed a fresh window instead", status.Message)
		list, err := c.List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		recent := writeEvents(ctx, c, "r", replayWrites)
		got, stopped, _ = replay(ctx, c, list.ResourceVersion, replayWrites)
		expectSameEvents(got, recent, stopped)
	}, SpecTimeout(framework.Timeout(2*time.Minute)))
})

// replayWrites is the window replayed when the datastore compacted the
// first one away.
const replayWrites = 50

// writeEvents makes n sequential writes to objects named prefix-NNNN, half
// creates and half updates of the objects created (interleaved), and
// returns them in order as the API server acknowledged them.
func writeEvents(ctx context.Context, c typedcorev1.ConfigMapInterface, prefix string, n int) []event {
	GinkgoHelper()
	var out []event
	for i := 0; len(out) < n; i++ {
		cm, err := c.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%04d", prefix, i)},
			Data:       map[string]string{"state": "created"},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		out = append(out, event{watch.Added, cm.Name, cm.ResourceVersion})
		cm.Data["state"] = "updated" // a real change: a no-op update makes no event
		cm, err = c.Update(ctx, cm, metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())
		out = append(out, event{watch.Modified, cm.Name, cm.ResourceVersion})
	}
	return out
}

// replay watches from rv and collects n events; status is the server's
// answer when it ended the watch with an error.
func replay(ctx context.Context, c typedcorev1.ConfigMapInterface, rv string, n int) ([]event, string, *metav1.Status) {
	GinkgoHelper()
	w, err := c.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	Expect(err).NotTo(HaveOccurred())
	defer w.Stop()
	return collect(ctx, w, n, framework.Timeout(time.Minute))
}

// isExpired reports a 410 Expired: the resourceVersion asked for is older
// than what the server still holds.
func isExpired(s *metav1.Status) bool {
	return s != nil && s.Code == http.StatusGone && s.Reason == metav1.StatusReasonExpired
}

// collect reads n events from w. It stops early on an Error event, a closed
// channel, the timeout or ctx, and says why: the caller then names the
// first missing or wrong event, which says more than a count.
func collect(ctx context.Context, w watch.Interface, n int, timeout time.Duration) (out []event, stopped string, status *metav1.Status) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	out = make([]event, 0, n)
	for len(out) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return out, fmt.Sprintf("the server closed the watch after %d of %d events", len(out), n), nil
			}
			switch ev.Type {
			case watch.Error:
				st, _ := ev.Object.(*metav1.Status)
				return out, fmt.Sprintf("watch error after %d of %d events: %v", len(out), n, ev.Object), st
			case watch.Bookmark:
				continue
			}
			cm, isCM := ev.Object.(*corev1.ConfigMap)
			if !isCM {
				return out, fmt.Sprintf("watch event object is %T", ev.Object), nil
			}
			if cm.Name == rootCAConfigMap {
				continue // published by the controller manager at its own pace
			}
			out = append(out, event{ev.Type, cm.Name, cm.ResourceVersion})
		case <-deadline.C:
			return out, fmt.Sprintf("the watch delivered %d of %d events within %s", len(out), n, timeout), nil
		case <-ctx.Done():
			return out, fmt.Sprintf("interrupted after %d of %d watch events: %v", len(out), n, ctx.Err()), nil
		}
	}
	return out, "", nil
}

// expectSameEvents compares event sequences and names the first difference:
// a failure of thousands of lines helps nobody.
func expectSameEvents(got, want []event, stopped string) {
	GinkgoHelper()
	if stopped != "" {
		stopped = " (" + stopped + ")"
	}
	seen := make(map[event]int, len(got))
	for i, e := range got {
		if j, dup := seen[e]; dup {
			Fail(fmt.Sprintf("event %d (%s) duplicates event %d%s", i, e, j, stopped))
		}
		seen[e] = i
	}
	for i := range want {
		if i >= len(got) {
			Fail(fmt.Sprintf("got %d events, want %d: first missing is %s%s", len(got), len(want), want[i], stopped))
		}
		if got[i] != want[i] {
			Fail(fmt.Sprintf("event %d is %s, want %s (previous: %s)%s", i, got[i], want[i], prev(got, i), stopped))
		}
	}
	Expect(got).To(HaveLen(len(want)))
}

func prev(evs []event, i int) string {
	if i == 0 {
		return "none"
	}
	return evs[i-1].String()
}
