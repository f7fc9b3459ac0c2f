package chatter

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names this file reads from the apiserver's /metrics, as
// Kubernetes v1.37 (k8s.io/apiserver v0.37) exposes them.
const (
	// MetricDispatched counts requests API Priority and Fairness let
	// through, by priority_level and flow_schema
	// (pkg/util/flowcontrol/metrics). A watch counts once, when it starts;
	// long-running exec, attach, logs and port-forward are not counted.
	MetricDispatched = "apiserver_flowcontrol_dispatched_requests_total"
	// MetricStorageRequests counts the apiserver's requests to its storage
	// (etcd, or kine in etcd's place), by operation, group and resource
	// (pkg/storage/etcd3/metrics).
	MetricStorageRequests = "etcd_requests_total"
	// MetricStorageDuration is the latency histogram recorded beside
	// MetricStorageRequests; its count is the same figure, read when the
	// counter is missing.
	MetricStorageDuration = "etcd_request_duration_seconds"
	// MetricResponseSizes is the size of GET and LIST responses in bytes,
	// by verb, group, version, resource, subresource, scope and component
	// (pkg/endpoints/metrics), as written to the HTTP layer: after gzip
	// when the client asked for it, before TLS and HTTP/2 framing. It has
	// no client label: no apiserver metric gives response bytes per
	// client, so the proxy's per-client bytes are checked against totals.
	MetricResponseSizes = "apiserver_response_sizes"
	// MetricWatchEventSizes is the size of every watch event sent to every
	// watcher, by group, version and resource (pkg/endpoints/handlers).
	MetricWatchEventSizes = "apiserver_watch_events_sizes"
)

// Client names requests are filed under: the API Priority and Fairness
// flow schema a request matched tells who sent it.
const (
	// ClientNodes is every user of the system:nodes group: the kubelets,
	// and whatever else runs with node credentials.
	ClientNodes = "nodes"
	// ClientControllerManager is the user system:kube-controller-manager.
	ClientControllerManager = "kube-controller-manager"
	// ClientScheduler is the user system:kube-scheduler.
	ClientScheduler = "kube-scheduler"
	// ClientLeaderElection is lease get/create/update by the controller
	// manager, the scheduler and kube-system service accounts.
	ClientLeaderElection = "leader-election"
	// ClientKubeSystemServiceAccounts is service accounts of kube-system
	// (CoreDNS, the distribution's own add-ons and controllers).
	ClientKubeSystemServiceAccounts = "kube-system-service-accounts"
	// ClientServiceAccounts is every other service account (workloads).
	ClientServiceAccounts = "service-accounts"
	// ClientProbes is GET /healthz, /readyz and /livez from anyone.
	ClientProbes = "probes"
	// ClientSystemMasters is the system:masters group (exempt from
	// limits): admin kubeconfigs, the harness's own client, a
	// distribution's supervisor.
	ClientSystemMasters = "system-masters"
)

// flowSchemaClients maps the default flow schemas of
// k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap (v1.37) to clients;
// global-default and catch-all (kube-proxy, flannel, anonymous users...)
// and flow schemas a cluster added fall to Other.
var flowSchemaClients = map[string]string{
	"exempt":                       ClientSystemMasters,
	"probes":                       ClientProbes,
	"system-leader-election":       ClientLeaderElection,
	"workload-leader-election":     ClientLeaderElection, // releases before v1.2x had it; v1.37 does not
	"system-node-high":             ClientNodes,
	"system-nodes":                 ClientNodes,
	"kube-controller-manager":      ClientControllerManager,
	"kube-scheduler":               ClientScheduler,
	"kube-system-service-accounts": ClientKubeSystemServiceAccounts,
	"service-accounts":             ClientServiceAccounts,
}

// ClientOf names the client whose requests flow schema fs carries: a
// default schema's client, the client of a schema ClientFlowSchemas made,
// or Other.
func ClientOf(fs string) string {
	if c, ok := flowSchemaClients[fs]; ok {
		return c
	}
	if c, ok := strings.CutPrefix(fs, FlowSchemaPrefix); ok && c != "" {
		return c
	}
	return Other
}

// Counts holds cumulative counter series filed by key: Counts[key][series]
// is one series' value, the series named by its full label set. Rates are
// taken series by series, so a reset of one series reads as a reset rather
// than as a fall of its key's sum.
type Counts map[string]map[string]float64

func (c Counts) add(key, series string, v float64) {
	if c[key] == nil {
		c[key] = map[string]float64{}
	}
	c[key][series] += v
}

// Totals sums each key's series.
func (c Counts) Totals() map[string]float64 {
	out := make(map[string]float64, len(c))
	for k, series := range c {
		for _, v := range series {
			out[k] += v
		}
	}
	return out
}

// APIMetrics is one scrape of an apiserver's /metrics, reduced to chatter.
type APIMetrics struct {
	// At is when the scrape was taken.
	At time.Time
	// Requests is dispatched requests by client (see ClientOf).
	Requests Counts
	// Storage is storage requests by operation (get, list, create,
	// update, delete, listWithCount, ...).
	Storage Counts
	// StorageMetric names the metric Storage was read from.
	StorageMetric string
	// ResponseBytes is response body bytes by "VERB resource[.group][/subresource]":
	// GET and LIST from MetricResponseSizes, WATCH from MetricWatchEventSizes.
	// Empty until the apiserver has served one.
	ResponseBytes Counts
}

// ParseAPIMetrics reads an apiserver's /metrics text (Prometheus
// exposition format) taken at time at.
func ParseAPIMetrics(r io.Reader, at time.Time) (APIMetrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return APIMetrics{}, fmt.Errorf("parse apiserver metrics: %w (is this an apiserver's /metrics in Prometheus text format?)", err)
	}
	return APIMetricsFrom(fams, at)
}

// APIMetricsFrom reduces metric families already parsed (for example by
// measure.ScrapeMetrics) and taken at time at.
func APIMetricsFrom(fams map[string]*dto.MetricFamily, at time.Time) (APIMetrics, error) {
	m := APIMetrics{At: at, Requests: Counts{}, Storage: Counts{}, ResponseBytes: Counts{}}
	mf := family(fams, MetricDispatched)
	if mf == nil {
		return APIMetrics{}, fmt.Errorf("apiserver metrics lack %s (is API Priority and Fairness on? it is unless --enable-priority-and-fairness=false)", MetricDispatched)
	}
	collect(m.Requests, mf, func(l map[string]string) string { return ClientOf(l["flow_schema"]) }, count)
	mf = family(fams, MetricStorageRequests, MetricStorageDuration, MetricStorageDuration+"_count")
	if mf == nil {
		return APIMetrics{}, fmt.Errorf("apiserver metrics lack %s and %s (is the user allowed the whole /metrics, and the apiserver v1.2x or newer?)", MetricStorageRequests, MetricStorageDuration)
	}
	m.StorageMetric = mf.GetName()
	collect(m.Storage, mf, func(l map[string]string) string { return l["operation"] }, count)
	if mf := family(fams, MetricResponseSizes, MetricResponseSizes+"_sum"); mf != nil {
		collect(m.ResponseBytes, mf, func(l map[string]string) string { return l["verb"] + " " + resourceName(l) }, sum)
	}
	if mf := family(fams, MetricWatchEventSizes, MetricWatchEventSizes+"_sum"); mf != nil {
		collect(m.ResponseBytes, mf, func(l map[string]string) string { return "WATCH " + resourceName(l) }, sum)
	}
	return m, nil
}

// APIRates is an apiserver's chatter per second between two scrapes.
type APIRates struct {
	// Seconds is the window's length.
	Seconds float64
	// RequestsPerSec is dispatched requests per second by client.
	RequestsPerSec map[string]float64
	// StoragePerSec is storage requests per second by operation.
	StoragePerSec map[string]float64
	// ResponseBytesPerSec is response body bytes per second by verb and
	// resource, as keyed in APIMetrics.ResponseBytes.
	ResponseBytesPerSec map[string]float64
}

// APIRatesBetween turns two scrapes of one apiserver into per-second
// rates; a series that went down (the apiserver restarted) counts from
// zero.
func APIRatesBetween(before, after APIMetrics) (APIRates, error) {
	secs, err := window(before.At, after.At)
	if err != nil {
		return APIRates{}, fmt.Errorf("apiserver scrapes: %w", err)
	}
	return APIRates{
		Seconds:             secs,
		RequestsPerSec:      perSecond(before.Requests, after.Requests, secs),
		StoragePerSec:       perSecond(before.Storage, after.Storage, secs),
		ResponseBytesPerSec: perSecond(before.ResponseBytes, after.ResponseBytes, secs),
	}, nil
}

func perSecond(before, after Counts, secs float64) map[string]float64 {
	out := make(map[string]float64, len(after))
	for key, series := range after {
		var d float64
		for id, v := range series {
			d += increase(before[key][id], v)
		}
		out[key] = d / secs
	}
	return out
}

// family returns the first of names present in fams, nil if none is.
// Fallback names cover a scrape without TYPE lines, where a histogram's
// _count and _sum arrive as untyped families of their own.
func family(fams map[string]*dto.MetricFamily, names ...string) *dto.MetricFamily {
	for _, n := range names {
		if mf, ok := fams[n]; ok && len(mf.GetMetric()) > 0 {
			return mf
		}
	}
	return nil
}

// collect files every series of mf under keyOf(its labels), its value read
// by value.
func collect(c Counts, mf *dto.MetricFamily, keyOf func(map[string]string) string, value func(*dto.Metric) float64) {
	for _, m := range mf.GetMetric() {
		labels := make(map[string]string, len(m.GetLabel()))
		ids := make([]string, 0, len(m.GetLabel()))
		for _, lp := range m.GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
			ids = append(ids, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
		}
		slices.Sort(ids)
		c.add(keyOf(labels), strings.Join(ids, ","), value(m))
	}
}

// count is a counter's value, an untyped sample's, or a histogram's count.
func count(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// sum is a histogram's sum of observations, or an untyped _sum sample.
func sum(m *dto.Metric) float64 {
	if h := m.GetHistogram(); h != nil {
		return h.GetSampleSum()
	}
	return m.GetUntyped().GetValue()
}

// resourceName spells a request's resource as kubectl does:
// resource[.group][/subresource].
func resourceName(l map[string]string) string {
	name := l["resource"]
	if g := l["group"]; g != "" {
		name += "." + g
	}
	if s := l["subresource"]; s != "" {
		name += "/" + s
	}
	return name
}
