package measure

import (
	"context"
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// ScrapeMetrics reads a Prometheus text endpoint of the apiserver (path, by
// default "/metrics") with the credentials of cfg and parses it into metric
// families by name.
func ScrapeMetrics(ctx context.Context, cfg *rest.Config, path string) (map[string]*dto.MetricFamily, error) {
	if path == "" {
		path = "/metrics"
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metrics client for %s: %w", cfg.Host, err)
	}
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath(path).
		SetHeader("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain))).
		DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("scraping %s%s: %w (the user needs get on the nonResourceURL %s)", cfg.Host, path, err, path)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("parsing %s%s: %w", cfg.Host, path, err)
	}
	return mf, nil
}

// familyTotal sums the values of every series of a counter or gauge family.
func familyTotal(mf *dto.MetricFamily) float64 {
	var total float64
	for _, m := range mf.GetMetric() {
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			total += m.GetUntyped().GetValue()
		}
	}
	return total
}

// counterDelta is how much the named family grew from before to after,
// summed over all its series; ok is false when either scrape lacks it.
func counterDelta(before, after map[string]*dto.MetricFamily, name string) (delta float64, ok bool) {
	b, okB := before[name]
	a, okA := after[name]
	if !okB || !okA {
		return 0, false
	}
	return familyTotal(a) - familyTotal(b), true
}
