package measure

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/metrics"

	"github.com/distrobench/distrobench/internal/result"
)

// These tests run APILatency over real HTTP against fakeAPIServer, an
// in-memory stand-in for the ConfigMap and Namespace endpoints, so the
// client (its rate limiter, timeouts and error handling) is the real one.

// fault is what fakeAPIServer does with one request.
type fault int

const (
	faultServe fault = iota // answer normally
	faultFail               // answer 500 InternalError
	faultHang               // never answer (until the client gives up)
)

// fakeAPIServer serves namespaces and ConfigMaps from memory. faults, when
// set, decides per request: verb is create/get/list/update/delete and n
// counts that verb's requests from 1.
type fakeAPIServer struct {
	*httptest.Server
	faults func(verb string, n int64) fault

	mu     sync.Mutex
	cms    map[string]*corev1.ConfigMap
	counts map[string]*atomic.Int64
	rv     int64
}

func newFakeAPIServer(t *testing.T, faults func(verb string, n int64) fault) *fakeAPIServer {
	t.Helper()
	s := &fakeAPIServer{faults: faults, cms: map[string]*corev1.ConfigMap{}, counts: map[string]*atomic.Int64{}}
	for _, v := range Verbs {
		s.counts[v] = &atomic.Int64{}
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// config reaches the fake, in JSON (it speaks no protobuf). QPS and Burst
// are what APILatency used to set (500 / 1000), so a client that keeps
// client-go's token bucket waits in it.
func (s *fakeAPIServer) config() *rest.Config {
	return &rest.Config{Host: s.URL, QPS: 500, Burst: 1000,
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"}}
}

// requests is how many requests of verb the fake received.
func (s *fakeAPIServer) requests(verb string) int64 { return s.counts[verb].Load() }

func (s *fakeAPIServer) handle(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[2] == "namespaces" && len(parts) <= 4:
		s.namespace(w, r)
	case len(parts) >= 5 && parts[4] == "configmaps":
		s.configMap(w, r, parts[5:])
	default:
		http.NotFound(w, r) // /metrics too: apiserver.requests is left out
	}
}

// namespace creates (POST) or deletes (anything else) a namespace.
func (s *fakeAPIServer) namespace(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var ns corev1.Namespace
		_ = json.NewDecoder(r.Body).Decode(&ns)
		if ns.Name == "" {
			ns.Name = ns.GenerateName + "fake"
		}
		ns.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}
		writeJSON(w, http.StatusCreated, &ns)
		return
	}
	writeJSON(w, http.StatusOK, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess})
}

func (s *fakeAPIServer) configMap(w http.ResponseWriter, r *http.Request, name []string) {
	verb := map[string]string{http.MethodPost: "create", http.MethodGet: "get", http.MethodPut: "update", http.MethodDelete: "delete"}[r.Method]
	if verb == "get" && len(name) == 0 {
		verb = "list"
	}
	n := s.counts[verb].Add(1)
	if s.faults != nil {
		switch s.faults(verb, n) {
		case faultFail:
			writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "injected failure")
			return
		case faultHang:
			<-r.Context().Done() // the client timed out and hung up
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch verb {
	case "create", "update":
		var cm corev1.ConfigMap
		if err := json.NewDecoder(r.Body).Decode(&cm); err != nil {
			writeStatus(w, http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
			return
		}
		s.rv++
		cm.ResourceVersion = strconv.FormatInt(s.rv, 10)
		cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		s.cms[cm.Name] = &cm
		writeJSON(w, map[string]int{"create": http.StatusCreated, "update": http.StatusOK}[verb], &cm)
	case "get":
		cm, ok := s.cms[name[0]]
		if !ok {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "configmaps "+name[0]+" not found")
			return
		}
		writeJSON(w, http.StatusOK, cm)
	case "list":
		// No items: the tests are about the client's timing, and encoding
		// every object for every list would only slow them down.
		writeJSON(w, http.StatusOK, &corev1.ConfigMapList{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"}})
	case "delete":
		delete(s.cms, name[0])
		writeJSON(w, http.StatusOK, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusSuccess})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	writeJSON(w, code, &metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status: metav1.StatusFailure, Code: int32(code), Reason: reason, Message: msg})
}

// clientWaits observes client-go's rate limiter: every request a rest
// client sends through a limiter reports how long it waited there.
// metrics.Register takes effect once per process, so the observer is
// registered once and reset by each test (the tests do not run in parallel).
var clientWaits = &waitObserver{}

type waitObserver struct {
	once  sync.Once
	mu    sync.Mutex
	n     int
	total time.Duration
}

// Observe implements metrics.LatencyMetric.
func (w *waitObserver) Observe(_ context.Context, _ string, _ url.URL, d time.Duration) {
	w.mu.Lock()
	w.n++
	w.total += d
	w.mu.Unlock()
}

// reset registers the observer (once) and clears what it saw.
func (w *waitObserver) reset() {
	w.once.Do(func() { metrics.Register(metrics.RegisterOpts{RateLimiterLatency: w}) })
	w.mu.Lock()
	w.n, w.total = 0, 0
	w.mu.Unlock()
}

// seen returns how many requests passed a client rate limiter and their
// summed wait there.
func (w *waitObserver) seen() (int, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.total
}

// latencySum adds up the api.latency samples of every verb.
func latencySum(ms []result.Measurement) (n int, sum time.Duration) {
	for _, m := range ms {
		if m.Name != "api.latency" {
			continue
		}
		for _, s := range m.Samples {
			n++
			sum += time.Duration(s * float64(time.Second))
		}
	}
	return n, sum
}

// assertNoClientWait checks that every request went through client-go's
// limiter path (so the observer saw them) and that the limiter's waits are
// a negligible part of the measured latency. With client-go's token bucket
// (QPS 500, burst 1000) thousands of fast requests spend most of their
// measured latency waiting in it.
func assertNoClientWait(t *testing.T, ms []result.Measurement) {
	t.Helper()
	seen, waited := clientWaits.seen()
	n, sum := latencySum(ms)
	if seen < n {
		t.Fatalf("client-go's rate limiter saw %d requests, fewer than the %d latency samples: the observer is not registered (another metrics.Register came first?)", seen, n)
	}
	if sum <= 0 || waited*100 > sum {
		t.Errorf("requests waited %s in client-go's rate limiter, %.1f%% of the %s of measured latency over %d requests; want no client-side wait on the timed path",
			waited, 100*waited.Seconds()/sum.Seconds(), sum, n)
	}
	t.Logf("%d requests, %s of latency, %s of it in the client's rate limiter", n, sum, waited)
}

func TestAPILatencyNoClientThrottling(t *testing.T) {
	srv := newFakeAPIServer(t, nil)
	clientWaits.reset()
	// 5 verbs x 1000 objects: five times what the old burst of 1000 holds,
	// sent faster than its 500/s refill.
	const objects = 1000
	ms, err := APILatency(context.Background(), APIOptions{Config: srv.config(), Objects: objects, Concurrency: 64, ObjectSize: 16, Repeats: 1})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	for _, v := range Verbs {
		if got := srv.requests(v); got != objects {
			t.Errorf("the fake received %d %s requests, want %d", got, v, objects)
		}
	}
	assertNoClientWait(t, ms)
}

func TestAPILatencyCountsFailedRequests(t *testing.T) {
	// Every 5th create and every 10th get fail with a 500.
	srv := newFakeAPIServer(t, func(verb string, n int64) fault {
		if (verb == "create" && n%5 == 0) || (verb == "get" && n%10 == 0) {
			return faultFail
		}
		return faultServe
	})
	const objects, repeats = 50, 2
	ms, err := APILatency(context.Background(), APIOptions{Config: srv.config(), Objects: objects, Concurrency: 4, ObjectSize: 16, Repeats: repeats})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	issued := objects * repeats
	for _, v := range Verbs {
		if lat := find(t, ms, "api.latency", v); lat.Summary.Count != issued {
			t.Errorf("%s: %d latency samples, want one per issued request (%d), failed ones included", v, lat.Summary.Count, issued)
		}
	}
	for verb, want := range map[string]float64{"create": 0.2, "list": 0} {
		er := find(t, ms, "api.error_rate", verb)
		if er.Summary.Count != issued || er.Summary.Mean != want {
			t.Errorf("%s error rate: mean %v over %d requests, want %v over %d", verb, er.Summary.Mean, er.Summary.Count, want, issued)
		}
	}
	// A failed create fails the get, update and delete of its object too
	// (NotFound), so get fails more than its own 10 %.
	if get := find(t, ms, "api.error_rate", "get"); get.Summary.Mean <= 0.2 {
		t.Errorf("get error rate %v, want above the 0.2 of the failed creates", get.Summary.Mean)
	}
	// With the default budget (no failure allowed) the verdict fails the run.
	if c := find(t, ms, "api.error_rate", "create"); c.SLO == nil || c.SLO.Met || c.SLO.Statistic != "mean" || c.SLO.Threshold != 0 {
		t.Errorf("create error rate SLO = %+v, want a missed mean <= 0 verdict", c.SLO)
	}
	if l := find(t, ms, "api.error_rate", "list"); l.SLO == nil || !l.SLO.Met {
		t.Errorf("list error rate SLO = %+v, want met (no list failed)", l.SLO)
	}
}

func TestAPILatencyCountsTimedOutRequests(t *testing.T) {
	// Every 4th get hangs until the client gives up.
	srv := newFakeAPIServer(t, func(verb string, n int64) fault {
		if verb == "get" && n%4 == 0 {
			return faultHang
		}
		return faultServe
	})
	const objects, timeout = 20, 50 * time.Millisecond
	ms, err := APILatency(context.Background(), APIOptions{Config: srv.config(), Objects: objects, Concurrency: objects,
		ObjectSize: 16, Repeats: 1, RequestTimeout: timeout})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	lat := find(t, ms, "api.latency", "get")
	if lat.Summary.Count != objects {
		t.Fatalf("get: %d latency samples, want %d (timed-out requests count)", lat.Summary.Count, objects)
	}
	var atTimeout int
	for _, s := range lat.Samples {
		if s >= timeout.Seconds() {
			atTimeout++
		}
	}
	if atTimeout < objects/4 {
		t.Errorf("get: %d samples at or past the %s timeout, want at least the %d that hung: %v", atTimeout, timeout, objects/4, lat.Samples)
	}
	if er := find(t, ms, "api.error_rate", "get"); er.Summary.Mean != 0.25 || er.SLO.Met {
		t.Errorf("get error rate %v (SLO met %v), want 0.25, missed", er.Summary.Mean, er.SLO.Met)
	}
}

func TestAPILatencyErrorBudget(t *testing.T) {
	failEvery10th := func(verb string, n int64) fault {
		if verb == "list" && n%10 == 0 {
			return faultFail
		}
		return faultServe
	}
	for _, tc := range []struct {
		budget float64
		met    bool
	}{{0, false}, {0.05, false}, {0.1, true}, {1, true}} {
		srv := newFakeAPIServer(t, failEvery10th)
		ms, err := APILatency(context.Background(), APIOptions{Config: srv.config(), Objects: 20, Concurrency: 2, ObjectSize: 16, Repeats: 1,
			ErrorBudget: tc.budget})
		if err != nil {
			t.Fatalf("APILatency: %v", err)
		}
		er := find(t, ms, "api.error_rate", "list")
		if er.Summary.Mean != 0.1 || er.SLO.Threshold != tc.budget || er.SLO.Met != tc.met {
			t.Errorf("budget %v: list error rate %v, SLO %+v; want 0.1, met=%v", tc.budget, er.Summary.Mean, er.SLO, tc.met)
		}
	}
}

func TestAPILatencyOpenLoop(t *testing.T) {
	srv := newFakeAPIServer(t, nil)
	clientWaits.reset()
	const objects, rate = 300, 3000.0
	ms, err := APILatency(context.Background(), APIOptions{Config: srv.config(), Objects: objects, Rate: rate, ObjectSize: 16, Repeats: 2})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	for _, v := range Verbs {
		lat := find(t, ms, "api.latency", v)
		if lat.Summary.Count != 2*objects || lat.Labels["load"] != "open" || lat.Labels["rate"] != "3000" || lat.Labels["concurrency"] != "" {
			t.Errorf("%s: %d samples, labels %v; want %d, load=open, rate=3000, no concurrency", v, lat.Summary.Count, lat.Labels, 2*objects)
		}
		if off := find(t, ms, "api.rate.offered", v); off.Summary.Count != 2 || off.Summary.Min != rate || off.Summary.Max != rate {
			t.Errorf("%s offered rate %v, want [3000 3000]", v, off.Samples)
		}
		if ach := find(t, ms, "api.rate.achieved", v); ach.Summary.Count != 2 || ach.Summary.Min <= 0 || ach.Summary.Max > rate {
			t.Errorf("%s achieved rate %v, want 2 positive samples, none above the offered %v", v, ach.Samples, rate)
		}
	}
	assertNoClientWait(t, ms)
}
