package measure

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// growthClient is a fake cluster that names generated namespaces and
// counts the ConfigMaps stored in them.
func growthClient(t *testing.T) (*fake.Clientset, func() int) {
	cs := namingClient()
	stored := func() int {
		l, err := cs.CoreV1().ConfigMaps("distrobench-growth-x").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	return cs, stored
}

// TestGrowthSteps: the namespace holds each step's count when that step is
// measured, every step gets its writes and lists, the slopes are fitted
// from what memory and size read, and after compaction they are read again.
func TestGrowthSteps(t *testing.T) {
	cs, stored := growthClient(t)
	var seen []int
	memory := func(context.Context) (float64, error) {
		n := stored()
		seen = append(seen, n)
		return 400e6 + 1000*float64(n), nil // 1000 bytes per object
	}
	asked := compactsAfter(cs, 2)
	ms, pending, err := Growth(context.Background(), GrowthOptions{
		Client: cs, Steps: []int{10, 30, 60}, ObjectSize: 16, Writes: 12, Lists: 3,
		Memory: memory, Labels: map[string]string{"datastore": "sqlite"}, CompactionPoll: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := pending.Wait(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, after...)
	if want := []int{10, 30, 60, 0}; !equalInts(seen, want) {
		t.Errorf("memory read at %v objects, want %v (each step, then after deleting all)", seen, want)
	}
	if *asked != 3 {
		t.Errorf("asked %d times whether the revision was compacted, want 3 (two answers, then 410 Gone)", *asked)
	}
	w := findM(t, ms, GrowthWriteMetric, map[string]string{"objects": "30", "datastore": "sqlite"})
	if w.Summary.Count != 12 {
		t.Errorf("writes at 30 objects: %d samples, want 12", w.Summary.Count)
	}
	if l := findM(t, ms, GrowthListMetric, map[string]string{"objects": "60"}); l.Summary.Count != 3 {
		t.Errorf("lists at 60 objects: %d samples, want 3", l.Summary.Count)
	}
	if s := findM(t, ms, GrowthMemorySlope, nil); math.Abs(s.Samples[0]-1000*10000) > 1e-3 {
		t.Errorf("memory slope %v bytes per 10k objects, want 1e7", s.Samples)
	}
	if s := findM(t, ms, GrowthSizeSlope, nil); !strings.Contains(s.Missing, "every step") {
		t.Errorf("size slope without a size reader: %+v, want not measured", s)
	}
	if m := findM(t, ms, GrowthMemoryMetric, map[string]string{"stage": "compacted"}); m.Samples[0] != 400e6 ||
		!strings.Contains(m.Attributes["growth.compaction"], "compacted past revision 77") {
		t.Errorf("memory after compaction %v %v", m.Samples, m.Attributes)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "distrobench-growth-x", metav1.GetOptions{}); err == nil {
		t.Error("the growth namespace was left behind")
	}
}

func TestGrowthRefusesBadSteps(t *testing.T) {
	cs, _ := growthClient(t)
	for _, steps := range [][]int{{10, 10}, {30, 10}, {0}} {
		if _, _, err := Growth(context.Background(), GrowthOptions{Client: cs, Steps: steps}); err == nil || !strings.Contains(err.Error(), "ascending") {
			t.Errorf("steps %v: error %v", steps, err)
		}
	}
}

func TestSlope(t *testing.T) {
	if got := Slope([]float64{1000, 10000, 50000}, []float64{10, 19, 59}); math.Abs(got-0.001) > 1e-9 {
		t.Errorf("Slope = %v, want 0.001", got)
	}
	if got := Slope([]float64{5, 5}, []float64{1, 2}); got != 0 {
		t.Errorf("Slope of constant xs = %v, want 0", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
