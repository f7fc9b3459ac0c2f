package compare

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/result"
)

// growthReport is a report with the growth figures of a run whose memory
// grew by perObject bytes from 100 MiB, at the steps in the order given;
// the size reader was missing; with compacted, memory was read once more
// after compaction; with slopes, the slopes were fitted.
func growthReport(steps []int, perObject float64, compacted, slopes bool) *result.Report {
	l := func(k, v string) map[string]string { return map[string]string{"datastore": "sqlite", k: v} }
	var ms []result.Measurement
	for _, n := range steps {
		objects := strconv.Itoa(n)
		ms = append(ms,
			result.NewMeasurement(measure.GrowthMemoryMetric, "bytes", l("objects", objects), []float64{100<<20 + perObject*float64(n)}),
			result.NotMeasured(measure.GrowthSizeMetric, "bytes", l("objects", objects), "no way to read it on this cluster"),
			result.NewMeasurement(measure.GrowthListMetric, "seconds", l("objects", objects), []float64{0.01 * float64(n) / 1000, 0.001}),
		)
	}
	if compacted {
		ms = append(ms, result.NewMeasurement(measure.GrowthMemoryMetric, "bytes", l("stage", "compacted"), []float64{90 << 20}))
	}
	if slopes {
		ms = append(ms,
			result.NewMeasurement(measure.GrowthMemorySlope, "bytes", nil, []float64{perObject * 10000}),
			result.NotMeasured(measure.GrowthSizeSlope, "bytes", nil, "needs the figure at every step, and at least two steps"))
	}
	ms = append(ms, result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "create"}, []float64{0.01}))
	return &result.Report{Measurements: ms}
}

func TestGrowthOf(t *testing.T) {
	noGrowth := &result.Report{Measurements: []result.Measurement{result.NewMeasurement("api.latency", "seconds", nil, []float64{1})}}
	g := GrowthOf([]Cell{
		{Name: "sqlite", Report: growthReport([]int{50000, 1000, 10000}, 1000, true, true)},
		{Name: "none", Report: noGrowth},
		{Name: "no-report"},
		{Name: "etcd", Report: growthReport([]int{10000, 1000}, 2000, false, false)},
	})
	if g == nil || !slices.Equal(g.Cells, []string{"sqlite", "etcd"}) {
		t.Fatalf("growth of cells %v, want sqlite and etcd: the cells without growth figures are absent", g)
	}
	var names []string
	for _, m := range g.Metrics {
		names = append(names, m.Name)
	}
	if want := []string{measure.GrowthMemoryMetric, measure.GrowthSizeMetric, measure.GrowthListMetric}; !slices.Equal(names, want) {
		t.Errorf("metrics %v, want %v (memory, size, list; no write figure was recorded)", names, want)
	}
	mem := g.Metrics[0].PerCell[0]
	if got := objectsOf(mem.Points); !slices.Equal(got, []int{1000, 10000, 50000}) {
		t.Errorf("memory points at %v objects, want ascending 1000, 10000, 50000", got)
	}
	if p := mem.Points[2]; p.Value != 100<<20+1000*50000 || p.N != 1 {
		t.Errorf("memory at 50000 objects %+v, want the reading of that step", p)
	}
	if mem.Compacted == nil || mem.Compacted.Value != 90<<20 {
		t.Errorf("memory after compaction %+v, want 90 MiB", mem.Compacted)
	}
	if c := g.Metrics[0].PerCell[1]; c.Compacted != nil || !slices.Equal(objectsOf(c.Points), []int{1000, 10000}) {
		t.Errorf("etcd's memory curve %+v: want its two steps and no compacted value", c)
	}
	if p := g.Metrics[1].PerCell[0].Points[0]; p.Missing != "no way to read it on this cluster" {
		t.Errorf("size not measured %+v: want the reason kept", p)
	}
	list := g.Metrics[2]
	if p := list.PerCell[0].Points[1]; list.Statistic != "p99" || p.Value != 0.1 || p.N != 2 {
		t.Errorf("list at 10000 objects: %s %+v, want the p99 of its two samples, 100 ms", list.Statistic, p)
	}
	assertSlopes(t, g.Slopes)
}

func assertSlopes(t *testing.T, slopes []GrowthSlope) {
	t.Helper()
	if len(slopes) != 2 || slopes[0].Name != measure.GrowthMemorySlope || slopes[1].Name != measure.GrowthSizeSlope {
		t.Fatalf("slopes %+v, want memory and size", slopes)
	}
	if v := slopes[0].PerCell[0]; v.Value != 1e7 || v.Missing != "" {
		t.Errorf("sqlite memory slope %+v, want 1e7 bytes per 10k objects", v)
	}
	if v := slopes[1].PerCell[0]; !strings.Contains(v.Missing, "every step") {
		t.Errorf("sqlite size slope %+v, want its reason for not being measured", v)
	}
	if v := slopes[0].PerCell[1]; !strings.Contains(v.Missing, "not recorded") {
		t.Errorf("etcd recorded no slope, got %+v", v)
	}
}

func objectsOf(ps []GrowthPoint) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.Objects)
	}
	return out
}

// TestBuildGrowth: Build and FromReports gather the growth curves from the
// cells' reports and keep them out of the per-round figures.
func TestBuildGrowth(t *testing.T) {
	a, b := growthReport([]int{1000, 10000}, 1000, true, true), growthReport([]int{1000, 10000}, 3000, true, true)
	a.RunID, b.RunID = "run-a", "run-b"
	c, err := FromReports([]*result.Report{a, b}, []string{"p50"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Growth == nil || len(c.Growth.Cells) != 2 {
		t.Fatalf("growth %+v, want both runs", c.Growth)
	}
	for _, f := range c.Figures {
		if isGrowth(f.Name) {
			t.Errorf("growth figure %s among the per-round figures", f.Name)
		}
	}
	if len(c.Figures) != 1 {
		t.Errorf("figures %+v, want api.latency alone", c.Figures)
	}

	cells, rounds := []Cell{{Name: "a"}, {Name: "b"}}, []Round{{cellRound("sqlite", []float64{1}, 1, false), cellRound("etcd", []float64{1}, 1, false)}}
	if c, err := Build(cells, rounds, []string{"p50"}, true); err != nil || c.Growth != nil {
		t.Errorf("Build without growth figures: growth %+v, error %v; want nil", c.Growth, err)
	}
}

// TestGrowthOfMeasureGrowth reads what measure.Growth records: the label
// names growth.go spells must be the ones measure writes.
func TestGrowthOfMeasureGrowth(t *testing.T) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "namespaces", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if ns := a.(k8stesting.CreateAction).GetObject().(*corev1.Namespace); ns.Name == "" {
			ns.Name = ns.GenerateName + "x"
		}
		return false, nil, nil
	})
	cs.PrependReactor("list", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		switch o := a.(k8stesting.ListActionImpl).ListOptions; {
		case o.ResourceVersionMatch == metav1.ResourceVersionMatchExact: // compacted at once
			return true, nil, apierrors.NewResourceExpired("too old resource version")
		case o.Limit == 1:
			return true, &corev1.ConfigMapList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}}, nil
		}
		return false, nil, nil
	})
	read := func(context.Context) (float64, error) { return 1, nil }
	ms, pending, err := measure.Growth(context.Background(), measure.GrowthOptions{
		Client: cs, Steps: []int{2}, ObjectSize: 8, Writes: 2, Lists: 1, Memory: read, DatastoreSize: read,
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := pending.Wait(context.Background(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ms = append(ms, after...)
	g := GrowthOf([]Cell{{Name: "k3lite", Report: &result.Report{Measurements: ms}}})
	if g == nil || len(g.Metrics) != len(growthCurves) || len(g.Slopes) != len(growthSlopes) {
		t.Fatalf("growth of measure.Growth's figures: %+v, want every curve and slope", g)
	}
	for _, m := range g.Metrics {
		c := m.PerCell[0]
		if !slices.Equal(objectsOf(c.Points), []int{2}) {
			t.Errorf("%s: points at %v objects, want 2", m.Name, objectsOf(c.Points))
		}
		if compacts := m.Name == measure.GrowthMemoryMetric || m.Name == measure.GrowthSizeMetric; compacts != (c.Compacted != nil) {
			t.Errorf("%s: compacted %+v", m.Name, c.Compacted)
		}
	}
}
