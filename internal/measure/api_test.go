package measure

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	o.setDefaults()
	return &bench{o: o, cm: cs.CoreV1().ConfigMaps("bench"), payload: payload(o.ObjectSize)}, cs
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
	stats := newVerbStats()
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
	if len(ms) != 4*len(Verbs) {
		t.Fatalf("got %d measurements, want %d", len(ms), 4*len(Verbs))
	}
	for _, v := range Verbs {
		lat := find(t, ms, "api.latency", v)
		if lat.Unit != "seconds" || lat.Summary.Count != 60 {
			t.Errorf("%s latency: unit %s, %d samples; want seconds, 60", v, lat.Unit, lat.Summary.Count)
		}
		if lat.Labels["load"] != "closed" || lat.Labels["concurrency"] != "4" || lat.Labels["objectSize"] != "100" || lat.Labels["datastore"] != "sqlite" {
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
		thr := find(t, ms, "api.rate.achieved", v)
		if thr.Summary.Count != 2 || thr.Summary.Min <= 0 || thr.Unit != "ops/s" {
			t.Errorf("%s achieved rate samples %v %s, want 2 positive ops/s", v, thr.Samples, thr.Unit)
		}
		// A closed loop offers what its workers send: with no failure,
		// every sent call succeeded, so offered and achieved agree.
		if off := find(t, ms, "api.rate.offered", v); off.Summary.Count != 2 || off.Samples[0] != thr.Samples[0] {
			t.Errorf("%s offered rate %v, want the achieved %v", v, off.Samples, thr.Samples)
		}
		errs := find(t, ms, "api.error_rate", v)
		if errs.Summary.Count != 60 || errs.Summary.Mean != 0 || errs.SLO == nil || !errs.SLO.Met {
			t.Errorf("%s error rate: mean %v of %d, SLO %+v; want 0 of 60, met", v, errs.Summary.Mean, errs.Summary.Count, errs.SLO)
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
	stats := newVerbStats()
	if err := b.repeat(context.Background(), 0, stats); err != nil {
		t.Fatalf("repeat: %v", err)
	}
	ms := b.measurements(stats)
	for _, v := range []string{"create", "get", "update", "delete"} {
		if e := find(t, ms, "api.error_rate", v); e.Summary.Count != 20 || e.Summary.Mean != 0.25 || e.SLO.Met {
			t.Errorf("%s error rate: mean %v of %d, SLO met %v; want 0.25 of 20, missed", v, e.Summary.Mean, e.Summary.Count, e.SLO.Met)
		}
		if l := find(t, ms, "api.latency", v); l.Summary.Count != 20 {
			t.Errorf("%s latency samples = %d, want 20 (failed requests count too)", v, l.Summary.Count)
		}
	}
	// Failed calls were offered but not achieved.
	off, ach := find(t, ms, "api.rate.offered", "create").Samples[0], find(t, ms, "api.rate.achieved", "create").Samples[0]
	if math.Abs(ach/off-0.75) > 1e-9 {
		t.Errorf("create achieved %v of offered %v ops/s, want 75 %%", ach, off)
	}
	if e := find(t, ms, "api.error_rate", "list"); e.Summary.Mean != 0 || !e.SLO.Met {
		t.Errorf("list error rate = %v, want 0, met", e.Summary.Mean)
	}
}

func TestBenchFailsWhenAVerbNeverWorks(t *testing.T) {
	b, cs := newFakeBench(APIOptions{Config: &rest.Config{}, Objects: 5, Repeats: 1})
	cs.PrependReactor("update", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("injected: storage is read-only")
	})
	err := b.repeat(context.Background(), 0, newVerbStats())
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

func TestAPIOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    APIOptions
		want string // "" = valid
	}{
		{"zero values take defaults", APIOptions{}, ""},
		{"open loop", APIOptions{Rate: 100}, ""},
		{"explicit open loop", APIOptions{Load: LoadOpen, Rate: 100, ErrorBudget: 0.01}, ""},
		{"open loop without rate", APIOptions{Load: LoadOpen}, "needs a rate"},
		{"closed loop with rate", APIOptions{Load: LoadClosed, Rate: 5}, "not a closed one"},
		{"unknown load", APIOptions{Load: "burst"}, `load "burst"`},
		{"negative rate", APIOptions{Rate: -1}, "negative"},
		{"budget above 1", APIOptions{ErrorBudget: 1.5}, "between 0 and 1"},
		{"negative timeout", APIOptions{RequestTimeout: -time.Second}, "timeout"},
	} {
		err := tc.o.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
	if err := (APIOptions{Rate: -1, ErrorBudget: 2}).Validate(); err == nil || !strings.Contains(err.Error(), "negative") || !strings.Contains(err.Error(), "between") {
		t.Errorf("Validate() = %v, want every problem at once", err)
	}
}

// An open loop sends on its schedule whatever the answers do: request 0 is
// answered only once the last request was sent, which a loop that waited
// for answers (or capped the requests in flight below n) never reaches.
func TestOpenLoopSendsWithoutWaitingForAnswers(t *testing.T) {
	const n, rate = 50, 1000.0
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lastSent := make(chan struct{})
	bt := generator{load: LoadOpen, rate: rate, timeout: time.Minute}.run(ctx, n, func(ctx context.Context, i int) error {
		switch i {
		case 0:
			select {
			case <-lastSent:
			case <-ctx.Done():
				return ctx.Err()
			}
		case n - 1:
			close(lastSent)
		}
		return nil
	})
	if bt.firstErr != nil || len(bt.latencies) != n {
		t.Fatalf("%d of %d requests done, first error %v: the loop waited for request 0's answer before sending the rest", len(bt.latencies), n, bt.firstErr)
	}
	// Request 0 is timed from its scheduled send at the start, so its
	// latency spans the schedule up to the last send.
	if slowest := result.Summarize(bt.latencies).Max; slowest < (n-1)/rate {
		t.Errorf("slowest request took %v s, want at least the %v s request 0 waited for the last send", slowest, (n-1)/rate)
	}
}

// A closed loop has at most Concurrency requests in flight.
func TestClosedLoopWorkers(t *testing.T) {
	const n, workers = 40, 3
	var (
		mu             sync.Mutex
		inFlight, most int
	)
	bt := generator{load: LoadClosed, concurrency: workers, timeout: time.Minute}.run(context.Background(), n, func(context.Context, int) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return nil
	})
	if len(bt.latencies) != n || bt.failures() != 0 {
		t.Errorf("%d requests, %d failed; want %d, 0", len(bt.latencies), bt.failures(), n)
	}
	if most > workers {
		t.Errorf("%d requests in flight at once, want at most %d workers", most, workers)
	}
}
