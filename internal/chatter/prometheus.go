package chatter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/distrobench/distrobench/internal/redact"
	"github.com/distrobench/distrobench/internal/result"
)

// DefaultPrometheusSelector picks the apiserver's series in a Prometheus
// set up by kube-prometheus or kube-prometheus-stack: their apiserver
// ServiceMonitor takes the job name from the default/kubernetes Service's
// label component=apiserver, and their rules and dashboards select
// job="apiserver".
const DefaultPrometheusSelector = `job="apiserver"`

// ServerPlaceholder in a selector stands for the host:port the harness
// reaches the apiserver at, so that one selector tells apart the clusters
// of a comparison when Prometheus scrapes each apiserver as a target of
// its own (instance="$server").
const ServerPlaceholder = "$server"

// SourceAttribute names the attribute that says where a chatter figure's
// counters were read: the apiserver's own /metrics, or a Prometheus server
// (its URL, userinfo masked, and the selector).
const SourceAttribute = "chatter.source"

// PrometheusOptions say where a user's Prometheus is and which of its
// series are the cluster's apiserver.
type PrometheusOptions struct {
	// URL of the Prometheus server (its API is under URL/api/v1). A
	// user:password in it is sent as basic auth and masked wherever the
	// URL is written.
	URL string
	// Selector is PromQL label matchers, braces optional:
	// job="apiserver",instance="$server" (see ServerPlaceholder).
	// Empty: DefaultPrometheusSelector.
	Selector string
}

var (
	matcherRE = `\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(?:=~|!~|!=|=)\s*(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" + `)\s*`
	// selectorRE is a list of label matchers as PromQL writes them in
	// braces, a trailing comma allowed.
	selectorRE = regexp.MustCompile(`^(?:` + matcherRE + `(?:,` + matcherRE + `)*,?)?$`)
)

// selector is o.Selector without braces, defaulted.
func (o PrometheusOptions) selector() string {
	s := strings.TrimSpace(o.Selector)
	if s == "" {
		return DefaultPrometheusSelector
	}
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// MaskedURL is the URL with any userinfo (user:password@) replaced by
// redact.Mask, also when the URL does not parse: it is what errors and
// reports may show.
func (o PrometheusOptions) MaskedURL() string {
	prefix, rest := "", o.URL
	if i := strings.Index(rest, "://"); i >= 0 {
		prefix, rest = rest[:i+3], rest[i+3:]
	}
	authority := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		authority = rest[:j]
	}
	if k := strings.LastIndex(authority, "@"); k >= 0 {
		return prefix + redact.Mask + rest[k:]
	}
	return o.URL
}

// Validate reports a URL that is not an http(s) URL with a host and a
// selector that is not a list of label matchers, before anything starts.
func (o PrometheusOptions) Validate() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// err repeats the URL unmasked: it is left out.
		return fmt.Errorf("prometheus URL %q: want http(s)://HOST[:PORT][/PATH], the address its web UI is at", o.MaskedURL())
	}
	if sel := o.selector(); !selectorRE.MatchString(sel) {
		return fmt.Errorf("prometheus selector %q: want PromQL label matchers such as %s (name, one of = != =~ !~, a quoted value; comma-separated)", sel, DefaultPrometheusSelector)
	}
	return nil
}

// queryTimeout bounds one reading: the end of a window waits for the
// reading in flight, so a Prometheus that stopped answering must not hold
// it up for long.
const queryTimeout = 10 * time.Second

// Prometheus reads an apiserver's chatter counters from a Prometheus
// server that scrapes it, instead of from the apiserver's /metrics.
type Prometheus struct {
	api      promv1.API
	url      string // masked
	selector string // placeholder resolved
	now      func() time.Time
}

// NewPrometheus is a source for the apiserver the harness reaches at
// server (host:port; it replaces ServerPlaceholder in the selector).
func NewPrometheus(o PrometheusOptions, server string) (*Prometheus, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	c, err := api.NewClient(api.Config{Address: o.URL})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", o.MaskedURL(), err)
	}
	return &Prometheus{
		api:      promv1.NewAPI(c),
		url:      o.MaskedURL(),
		selector: strings.ReplaceAll(o.selector(), ServerPlaceholder, server),
		now:      time.Now,
	}, nil
}

// Source says where the figures come from, for SourceAttribute.
func (p *Prometheus) Source() string {
	return fmt.Sprintf("prometheus %s {%s}", p.url, p.selector)
}

// Scrape reads the counters APIMetricsFrom reduces, as they stood in
// Prometheus at this moment (an instant query: each series' last sample
// no older than the lookback, 5 min by default), in one query so that
// every series is read at the same evaluation time.
func (p *Prometheus) Scrape(ctx context.Context) (APIMetrics, error) {
	at := p.now()
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, _, err := p.api.Query(ctx, p.query(), at)
	if err != nil {
		return APIMetrics{}, p.queryError(err)
	}
	fams, instances, err := familiesOf(v)
	if err != nil {
		return APIMetrics{}, fmt.Errorf("%s: %w", p.Source(), err)
	}
	if len(instances) > 1 {
		return APIMetrics{}, fmt.Errorf("%s matches %d apiservers (instance %s): narrow the selector to this cluster's one, e.g. instance=%q",
			p.Source(), len(instances), strings.Join(instances, ", "), ServerPlaceholder)
	}
	if _, ok := fams[MetricDispatched]; !ok {
		return APIMetrics{}, fmt.Errorf("%s has no series of %s (is it scraping the apiserver, and does the selector match the labels it gives it? count by (job, instance) (%s) in its web UI lists what it has)",
			p.Source(), MetricDispatched, MetricDispatched)
	}
	m, err := APIMetricsFrom(fams, at)
	if err != nil {
		return APIMetrics{}, fmt.Errorf("%s: %w", p.Source(), err)
	}
	return m, nil
}

// promSeries are the series APIMetricsFrom reads, as Prometheus stores
// them: a histogram is its _count and _sum series.
var promSeries = []string{
	MetricDispatched,
	MetricStorageRequests, MetricStorageDuration + "_count",
	MetricResponseSizes + "_sum", MetricWatchEventSizes + "_sum",
}

func (p *Prometheus) query() string {
	return fmt.Sprintf(`{__name__=~"%s",%s}`, strings.Join(promSeries, "|"), p.selector)
}

// queryError says what to check for a failed query: the address for a
// transport error, the selector for a query Prometheus refused.
func (p *Prometheus) queryError(err error) error {
	// A transport error names the URL with its password masked already
	// (net/http strips it), so err can be wrapped as it is.
	var perr *promv1.Error
	if errors.As(err, &perr) && perr.Type == promv1.ErrBadData {
		return fmt.Errorf("%s refused the query: %w (check the selector)", p.Source(), err)
	}
	return fmt.Errorf("%s: %w (is the URL the Prometheus server's, reachable from here, and its credentials right?)", p.Source(), err)
}

// WithSource records source (SourceAttribute) on the request and storage
// figures of ms, measured or not; other figures pass unchanged.
func WithSource(ms []result.Measurement, source string) []result.Measurement {
	out := make([]result.Measurement, len(ms))
	for i, m := range ms {
		if m.Name == RequestsMetric || m.Name == OperationsMetric {
			m = m.WithAttribute(SourceAttribute, source)
		}
		out[i] = m
	}
	return out
}
