package measure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/distrobench/distrobench/internal/result"
)

// The fake clientset does no HTTP, so these tests check the benchmark's
// bookkeeping (samples, errors, labels, SLOs, cleanup of objects), not
// latency; the integration test measures a real apiserver.

func newFakeBench(o APIOptions) (*bench, *fake.Clientset) {
	cs := fake.NewClientset()
	_ = o.setDefaults()
	return &bench{o: o, cm: cs.CoreV1().ConfigMaps("bench"), payload: payload(o.ObjectSize)}, cs
}

func newStats() map[string]*verbStats {
	s := map[string]*verbStats{}
	for _, v := range Verbs {
		s[v] = &verbStats{}
	}
	return s
}

func find(t *testing.T, ms []result.Measurement, name, verb string) result.Measurement {
	t.Helper()
	for _, m := range ms {
		if m.Name == name && m.Labels["verb"] == verb {
			return m
		}
	}
	t.Fatalf("no %s{verb=%s} among %d measurements", name, verb, len(ms))
	return result.Measurement{}
}

func TestBenchRepeats(t *testing.T) {
	var progress []string
	b, cs := newFakeBench(APIOptions{Config: &rest.Config{}, Objects: 30, Concurrency: 4, ObjectSize: 100, Repeats: 2,
		Labels: map[string]string{"datastore": "sqlite"}, Progress: func(s string) { progress = append(progress, s) }})
	stats := newStats()
	for r := range 2 {
		if err := b.repeat(context.Background(), r, stats); err != nil {
			t.Fatalf("repeat %d: %v", r, err)
		}
	}
	if len(progress) != 2 {
		t.Errorf("progress lines = %q, want one per repeat", progress)
	}
	// Every object was deleted again.
	left, err := cs.CoreV1().ConfigMaps("bench").List(context.Background(), metav1.ListOptions{})
	if err != nil || len(left.Items) != 0 {
		t.Errorf("after the benchmark %d ConfigMaps are left (%v)", len(left.Items), err)
	}
	// Every object was created and then updated with different data.
	var updates, creates int
	for _, a := range cs.Actions() {
		switch a.GetVerb() {
		case "create":
			creates++
		case "update":
			updates++
			cm := a.(k8stesting.UpdateAction).GetObject().(*corev1.ConfigMap)
			if cm.Data["payload"] == b.payload || len(cm.Data["payload"]) != 100 {
				t.Errorf("update of %s did not change the 100-byte payload of the created object", cm.Name)
			}
		}
	}
	if creates != 60 || updates != 60 {
		t.Errorf("creates %d, updates %d; want 60 each (30 objects x 2 repeats)", creates, updates)
	}

	ms := b.measurements(stats)
	if len(ms) != 3*len(Verbs) {
		t.Fatalf("got %d measurements, want %d", len(ms), 3*len(Verbs))
	}
	for _, v := range Verbs {
		lat := find(t, ms, "api.latency", v)
		if lat.Unit != "seconds" || lat.Summary.Count != 60 {
			t.Errorf("%s latency: unit %s, %d samples; want seconds, 60", v, lat.Unit, lat.Summary.Count)
		}
		if lat.Labels["concurrency"] != "4" || lat.Labels["objectSize"] != "100" || lat.Labels["datastore"] != "sqlite" {
			t.Errorf("%s latency labels = %v", v, lat.Labels)
		}
		wantThreshold := 1.0
		if v == "list" {
			wantThreshold = 5.0
		}
		// The verdict itself (met or not) is a measurement, not asserted.
		if lat.SLO == nil || lat.SLO.Statistic != "p99" || lat.SLO.Threshold != wantThreshold || lat.SLO.Source != SLOSource {
			t.Errorf("%s latency SLO = %+v, want a p99 <= %v verdict", v, lat.SLO, wantThreshold)
		}
		thr := find(t, ms, "api.throughput", v)
		if thr.Summary.Count != 2 || thr.Summary.Min <= 0 {
			t.Errorf("%s throughput samples %v, want 2 positive", v, thr.Samples)
		}
		errs := find(t, ms, "api.errors", v)
		if errs.Summary.Count != 2 || errs.Summary.Max != 0 {
			t.Errorf("%s error samples %v, want [0 0]", v, errs.Samples)
		}
	}
}

func TestBenchCountsErrors(t *testing.T) {
	b, cs := newFakeBench(APIOptions{Config: &rest.Config{}, Objects: 20, Concurrency: 3, Repeats: 1})
	// Every 4th create fails; the updates and deletes of those objects fail
	// with it (NotFound), the gets too.
	var n atomic.Int32
	cs.PrependReactor("create", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		if n.Add(1)%4 == 0 {
			return true, nil, errors.New("injected: etcdserver: request timed out")
		}
		return false, nil, nil
	})
	stats := newStats()
	if err := b.repeat(context.Background(), 0, stats); err != nil {
		t.Fatalf("repeat: %v", err)
	}
	ms := b.measurements(stats)
	for _, v := range []string{"create", "get", "update", "delete"} {
		if e := find(t, ms, "api.errors", v); e.Samples[0] != 5 {
			t.Errorf("%s errors = %v, want [5]", v, e.Samples)
		}
		if l := find(t, ms, "api.latency", v); l.Summary.Count != 15 {
			t.Errorf("%s latency samples = %d, want 15 (failed requests are not latencies)", v, l.Summary.Count)
		}
	}
	if e := find(t, ms, "api.errors", "list"); e.Samples[0] != 0 {
		t.Errorf("list errors = %v, want [0]", e.Samples)
	}
}

func TestBenchFailsWhenAVerbNeverWorks(t *testing.T) {
	b, cs := newFakeBench(APIOptions{Config: &rest.Config{}, Objects: 5, Repeats: 1})
	cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("injected: storage is read-only")
	})
	err := b.repeat(context.Background(), 0, newStats())
	if err == nil || !strings.Contains(err.Error(), "every update") || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("error = %v, want one saying every update failed, with the cause", err)
	}
}

func TestAPILatencyNeedsConfig(t *testing.T) {
	if _, err := APILatency(context.Background(), APIOptions{}); err == nil {
		t.Error("APILatency without a config succeeded")
	}
}

func TestPayload(t *testing.T) {
	p := payload(1024)
	if len(p) != 1024 || p != payload(1024) {
		t.Errorf("payload is %d bytes or not deterministic", len(p))
	}
	if strings.Count(p, p[:1]) > 100 {
		t.Errorf("payload is too repetitive to resist compression: %q...", p[:40])
	}
}

const metricsText = `# HELP apiserver_request_total Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",verb="GET"} %d
apiserver_request_total{code="201",verb="POST"} %d
# HELP apiserver_storage_objects Number of stored objects.
# TYPE apiserver_storage_objects gauge
apiserver_storage_objects{resource="configmaps"} 3
`

func TestScrapeMetrics(t *testing.T) {
	var scrape atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer secret" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		k := int(scrape.Add(1))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, metricsText, 10*k, 5*k)
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL, BearerToken: "secret"}

	before, err := ScrapeMetrics(context.Background(), cfg, "")
	if err != nil {
		t.Fatalf("ScrapeMetrics: %v", err)
	}
	if got := familyTotal(before["apiserver_storage_objects"]); got != 3 {
		t.Errorf("apiserver_storage_objects = %v, want 3", got)
	}
	after, err := ScrapeMetrics(context.Background(), cfg, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := counterDelta(before, after, "apiserver_request_total"); !ok || d != 15 {
		t.Errorf("delta = %v, %v; want 15 (20+10 - 10+5)", d, ok)
	}
	if _, ok := counterDelta(before, after, "no_such_metric"); ok {
		t.Error("delta of a missing metric reported ok")
	}

	if _, err := ScrapeMetrics(context.Background(), &rest.Config{Host: srv.URL}, "/metrics"); err == nil || !strings.Contains(err.Error(), "nonResourceURL") {
		t.Errorf("forbidden scrape: got %v, want an error saying which permission is needed", err)
	}
}
