package chatter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/distrobench/distrobench/internal/result"
)

// storedSeries is one series a fake Prometheus stores: its labels, __name__
// included, and its latest value.
type storedSeries struct {
	labels map[string]string
	value  float64
}

// fakePrometheus answers /api/v1/query as the HTTP API documents it
// (https://prometheus.io/docs/prometheus/latest/querying/api/): an instant
// vector of the stored series that the query's label matchers select. It
// understands only a bare selector {name="v",name=~"re",...}, which is all
// the source sends.
type fakePrometheus struct {
	mu      sync.Mutex
	stored  []storedSeries
	queries []string // as received
	times   []string // the time parameter of each query
	// fail, when set, is the status and body of every answer.
	failCode int
	failBody string
}

func (f *fakePrometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, r.Form.Get("query"))
	f.times = append(f.times, r.Form.Get("time"))
	w.Header().Set("Content-Type", "application/json")
	if f.failCode != 0 {
		w.WriteHeader(f.failCode)
		fmt.Fprint(w, f.failBody)
		return
	}
	at, _ := strconv.ParseFloat(r.Form.Get("time"), 64)
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	out := []sample{}
	for _, s := range f.stored {
		if selects(r.Form.Get("query"), s.labels) {
			out = append(out, sample{s.labels, [2]any{at, strconv.FormatFloat(s.value, 'f', -1, 64)}})
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "success",
		"data":   map[string]any{"resultType": "vector", "result": out},
	})
}

var testMatcherRE = regexp.MustCompile(`([a-zA-Z_]\w*)\s*(=~|=)\s*"([^"]*)"`)

// selects applies the equality and regex matchers of query to labels.
func selects(query string, labels map[string]string) bool {
	for _, m := range testMatcherRE.FindAllStringSubmatch(query, -1) {
		v := labels[m[1]]
		if m[2] == "=" && v != m[3] {
			return false
		}
		if m[2] == "=~" && !regexp.MustCompile("^(?:"+m[3]+")$").MatchString(v) {
			return false
		}
	}
	return true
}

// store adds the series Prometheus keeps when it scrapes the metrics text
// in testdata/name with the target labels extra: a counter as it is, a
// histogram as its _count, _sum and _bucket series.
func (f *fakePrometheus) store(t *testing.T, name string, extra map[string]string) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for n, mf := range fams {
		for _, m := range mf.GetMetric() {
			add := func(name string, v float64, more ...string) {
				l := maps.Clone(extra)
				l["__name__"] = name
				for _, lp := range m.GetLabel() {
					l[lp.GetName()] = lp.GetValue()
				}
				for i := 0; i+1 < len(more); i += 2 {
					l[more[i]] = more[i+1]
				}
				f.stored = append(f.stored, storedSeries{l, v})
			}
			switch {
			case m.GetHistogram() != nil:
				h := m.GetHistogram()
				add(n+"_count", float64(h.GetSampleCount()))
				add(n+"_sum", h.GetSampleSum())
				for _, b := range h.GetBucket() {
					add(n+"_bucket", float64(b.GetCumulativeCount()), "le", strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64))
				}
			case m.GetCounter() != nil:
				add(n, m.GetCounter().GetValue())
			default:
				add(n, m.GetUntyped().GetValue())
			}
		}
	}
}

func newTestPrometheus(t *testing.T, f *fakePrometheus, o PrometheusOptions, at time.Time) *Prometheus {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	if o.URL == "" {
		o.URL = srv.URL
	}
	p, err := NewPrometheus(o, "10.0.0.1:6443")
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return at }
	return p
}

var apiserverTarget = map[string]string{"job": "apiserver", "instance": "10.0.0.1:6443"}

// TestPrometheusSourceReadsWhatTheApiserverExposes: Prometheus scraping
// an apiserver (and another job with the same metric names, which the
// selector must leave out) gives the same counts as the apiserver's own
// /metrics, taken at the time the query asked for.
func TestPrometheusSourceReadsWhatTheApiserverExposes(t *testing.T) {
	f := &fakePrometheus{}
	f.store(t, "apiserver-before.txt", apiserverTarget)
	f.store(t, "apiserver-after.txt", map[string]string{"job": "other-cluster", "instance": "10.0.0.2:6443"})
	p := newTestPrometheus(t, f, PrometheusOptions{}, t0)

	got, err := p.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := parseFixture(t, "apiserver-before.txt", t0)
	for _, c := range []struct {
		what      string
		got, want Counts
	}{
		{"requests by client", got.Requests, want.Requests},
		{"storage operations", got.Storage, want.Storage},
		{"response bytes", got.ResponseBytes, want.ResponseBytes},
	} {
		if !maps.Equal(c.got.Totals(), c.want.Totals()) {
			t.Errorf("%s = %v, want %v (as the apiserver's /metrics)", c.what, c.got.Totals(), c.want.Totals())
		}
	}
	if !got.At.Equal(t0) || got.StorageMetric != MetricStorageRequests {
		t.Errorf("At %v, StorageMetric %q; want %v, %q", got.At, got.StorageMetric, t0, MetricStorageRequests)
	}
	if ts, err := strconv.ParseFloat(f.times[0], 64); err != nil || ts != float64(t0.Unix()) {
		t.Errorf("query time %q, want %v (the reading's own time)", f.times[0], t0.Unix())
	}
	if !strings.Contains(f.queries[0], `job="apiserver"`) {
		t.Errorf("query %s lacks the default selector", f.queries[0])
	}
}

// TestPrometheusSourceFallsBackToTheStorageHistogram: without
// etcd_requests_total, storage operations are the latency histogram's
// _count series, as on the apiserver's /metrics.
func TestPrometheusSourceFallsBackToTheStorageHistogram(t *testing.T) {
	f := &fakePrometheus{stored: []storedSeries{
		{map[string]string{"__name__": MetricDispatched, "job": "apiserver", "flow_schema": "system-nodes"}, 7},
		{map[string]string{"__name__": MetricStorageDuration + "_count", "job": "apiserver", "operation": "get", "type": "a"}, 3},
		{map[string]string{"__name__": MetricStorageDuration + "_count", "job": "apiserver", "operation": "get", "type": "b"}, 4},
		{map[string]string{"__name__": MetricStorageDuration + "_bucket", "job": "apiserver", "operation": "get", "le": "+Inf"}, 100},
	}}
	got, err := newTestPrometheus(t, f, PrometheusOptions{}, t0).Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s := got.Storage.Totals(); !maps.Equal(s, map[string]float64{"get": 7}) {
		t.Errorf("storage = %v, want get 7 (the _count series, no bucket)", s)
	}
	if r := got.Requests.Totals(); !maps.Equal(r, map[string]float64{ClientNodes: 7}) {
		t.Errorf("requests = %v, want nodes 7", r)
	}
}

func TestPrometheusSelectorPlaceholderAndBraces(t *testing.T) {
	f := &fakePrometheus{}
	f.store(t, "apiserver-before.txt", apiserverTarget)
	f.store(t, "apiserver-after.txt", map[string]string{"job": "apiserver", "instance": "10.0.0.2:6443"})
	p := newTestPrometheus(t, f, PrometheusOptions{Selector: `{job="apiserver", instance="$server"}`}, t0)
	got, err := p.Scrape(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := parseFixture(t, "apiserver-before.txt", t0); !maps.Equal(got.Requests.Totals(), want.Requests.Totals()) {
		t.Errorf("requests = %v, want only 10.0.0.1:6443's %v", got.Requests.Totals(), want.Requests.Totals())
	}
	if !strings.Contains(p.Source(), `instance="10.0.0.1:6443"`) {
		t.Errorf("Source() = %q, want the placeholder resolved", p.Source())
	}
}

func TestPrometheusSourceErrorsSayWhatToCheck(t *testing.T) {
	twoServers := &fakePrometheus{}
	twoServers.store(t, "apiserver-before.txt", apiserverTarget)
	twoServers.store(t, "apiserver-after.txt", map[string]string{"job": "apiserver", "instance": "10.0.0.2:6443"})
	for _, c := range []struct {
		name string
		f    *fakePrometheus
		want string
	}{
		{"no series", &fakePrometheus{}, "is it scraping the apiserver"},
		{"two apiservers", twoServers, "matches 2 apiservers (instance 10.0.0.1:6443, 10.0.0.2:6443)"},
		{"no storage counters", &fakePrometheus{stored: []storedSeries{
			{map[string]string{"__name__": MetricDispatched, "job": "apiserver", "flow_schema": "exempt"}, 1},
		}}, "lack " + MetricStorageRequests},
		{"bad query", &fakePrometheus{failCode: http.StatusBadRequest,
			failBody: `{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": parse error"}`}, "check the selector"},
		{"server error", &fakePrometheus{failCode: http.StatusServiceUnavailable,
			failBody: `{"status":"error","errorType":"unavailable","error":"not ready"}`}, "reachable from here"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := newTestPrometheus(t, c.f, PrometheusOptions{}, t0).Scrape(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `{job="apiserver"}`) {
				t.Errorf("error %v, want it to name the source and say %q", err, c.want)
			}
		})
	}
	var perr *promv1.Error
	_, err := newTestPrometheus(t, &fakePrometheus{failCode: http.StatusBadRequest,
		failBody: `{"status":"error","errorType":"bad_data","error":"parse error"}`}, PrometheusOptions{}, t0).Scrape(context.Background())
	if !errors.As(err, &perr) {
		t.Errorf("error %v does not wrap the client's *v1.Error", err)
	}
}

// TestPrometheusCredentialsStayOutOfErrorsAndSource: a password in the
// URL is sent, but never written in an error or the figures' source.
func TestPrometheusCredentialsStayOutOfErrorsAndSource(t *testing.T) {
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	u := strings.Replace(srv.URL, "http://", "http://bench:s3cret@", 1)
	p, err := NewPrometheus(PrometheusOptions{URL: u}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Scrape(context.Background())
	if err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(p.Source(), "s3cret") {
		t.Errorf("error %v / source %q: want an error, and the password in neither", err, p.Source())
	}
	if gotUser != "bench" || gotPass != "s3cret" {
		t.Errorf("basic auth %q:%q, want the URL's bench:s3cret", gotUser, gotPass)
	}
	closed := strings.Replace(u, "127.0.0.1", "127.0.0.1.invalid", 1)
	p, _ = NewPrometheus(PrometheusOptions{URL: closed}, "")
	if _, err := p.Scrape(context.Background()); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("unreachable server: error %v, want one without the password", err)
	}
}

func TestPrometheusOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		o    PrometheusOptions
		want string // "" valid
	}{
		{PrometheusOptions{URL: "http://prometheus:9090"}, ""},
		{PrometheusOptions{URL: "https://u:pw@example.com/prom/", Selector: `{job="apiserver",instance=~"10\\..*",cluster!='a'}`}, ""},
		{PrometheusOptions{URL: "http://p:9090", Selector: "job=`apiserver`,"}, ""},
		{PrometheusOptions{URL: "prometheus:9090"}, "want http(s)://"},
		{PrometheusOptions{URL: "u:topsecret@prometheus:9090"}, "want http(s)://"},
		{PrometheusOptions{URL: "ftp://u:topsecret@host/"}, "want http(s)://"},
		{PrometheusOptions{URL: "http://"}, "want http(s)://"},
		{PrometheusOptions{URL: "http://p:9090", Selector: "apiserver"}, "label matchers"},
		{PrometheusOptions{URL: "http://p:9090", Selector: `job="apiserver"} or vector(1`}, "label matchers"},
		{PrometheusOptions{URL: "http://p:9090", Selector: `job=apiserver`}, "label matchers"},
	} {
		err := c.o.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", c.o, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("Validate error %v shows the password", err)
		}
	}
}

func TestWithSourceMarksTheAPIFiguresOnly(t *testing.T) {
	ms := WithSource([]result.Measurement{
		result.NewMeasurement(RequestsMetric, "ops/s", nil, []float64{1}),
		result.NotMeasured(OperationsMetric, "ops/s", nil, "down"),
		result.NewMeasurement(WrittenMetric, "bytes/h", nil, []float64{1}),
	}, "prometheus http://p:9090 {job=\"apiserver\"}")
	for i, want := range []string{"prometheus http://p:9090 {job=\"apiserver\"}", "prometheus http://p:9090 {job=\"apiserver\"}", ""} {
		if got := ms[i].Attributes[SourceAttribute]; got != want {
			t.Errorf("%s: source %q, want %q", ms[i].Name, got, want)
		}
	}
}

// familiesOf must refuse a result that is not an instant vector rather
// than read nothing from it.
func TestFamiliesOfRefusesAScalar(t *testing.T) {
	if _, _, err := familiesOf(&model.Scalar{Value: 1}); err == nil {
		t.Error("familiesOf(scalar): no error")
	}
	fams, _, err := familiesOf(model.Vector{{Metric: model.Metric{"__name__": "x", "a": "b"}, Value: 2}})
	if err != nil || fams["x"].GetType() != dto.MetricType_UNTYPED || len(fams["x"].GetMetric()[0].GetLabel()) != 1 {
		t.Errorf("familiesOf = %v, %v; want x untyped with label a only", fams, err)
	}
}

func TestPrometheusMaskedURL(t *testing.T) {
	for in, want := range map[string]string{
		"u:hunter2@prom:9090":         "REDACTED@prom:9090",
		"https://u:hunter2@h/p?q=a@b": "https://REDACTED@h/p?q=a@b",
		"http://h:9090/x@y":           "http://h:9090/x@y",
		"http://token@h":              "http://REDACTED@h",
		"http://h":                    "http://h",
	} {
		if got := (PrometheusOptions{URL: in}).MaskedURL(); got != want {
			t.Errorf("MaskedURL(%q) = %q, want %q", in, got, want)
		}
	}
}
