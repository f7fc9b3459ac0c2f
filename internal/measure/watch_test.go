package measure

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"
)

func TestWatchFanout(t *testing.T) {
	cs, _ := growthClient(t)
	ms, err := WatchFanout(context.Background(), WatchOptions{Client: cs, Watchers: 3, Events: 20, Rate: 1000,
		Labels: map[string]string{"datastore": "sqlite"}})
	if err != nil {
		t.Fatal(err)
	}
	m := findM(t, ms, WatchLatencyMetric, map[string]string{"watchers": "3", "datastore": "sqlite"})
	if m.Summary.Count != 60 || m.Summary.Min < 0 {
		t.Errorf("%d samples (min %v), want one per event and watcher (60), none negative", m.Summary.Count, m.Summary.Min)
	}
}

// TestWatchFanoutLostEvents: a watcher that never receives is an error that
// says how many deliveries were lost, not a figure over the ones that came.
func TestWatchFanoutLostEvents(t *testing.T) {
	cs, _ := growthClient(t)
	var opened atomic.Int32
	dead := watch.NewFake()
	cs.PrependWatchReactor("configmaps", func(k8stesting.Action) (bool, watch.Interface, error) {
		if opened.Add(1) == 2 {
			return true, dead, nil // the second watcher hears nothing
		}
		return false, nil, nil
	})
	_, err := WatchFanout(context.Background(), WatchOptions{Client: cs, Watchers: 2, Events: 5, Rate: 1000, Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "5 of 10 events never reached") {
		t.Errorf("error %v, want 5 of 10 deliveries lost", err)
	}
}
