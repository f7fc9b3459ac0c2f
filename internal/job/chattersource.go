package job

import (
	"context"
	"net"
	"net/url"
	"time"

	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/measure"
)

// apiSource is where the chatter figures' apiserver counters are read,
// and its description for chatter.SourceAttribute: the user's Prometheus
// when prom.URL is set, else the apiserver's own /metrics through cfg. A
// Prometheus source that cannot be built fails every reading with the
// reason, so the figures say it rather than the run stopping.
func apiSource(cfg *rest.Config, prom chatter.PrometheusOptions) (func(context.Context) (chatter.APIMetrics, error), string) {
	if prom.URL == "" {
		return func(ctx context.Context) (chatter.APIMetrics, error) {
			fams, err := measure.ScrapeMetrics(ctx, cfg, "/metrics")
			if err != nil {
				return chatter.APIMetrics{}, err
			}
			return chatter.APIMetricsFrom(fams, time.Now())
		}, "apiserver " + cfg.Host + "/metrics"
	}
	p, err := chatter.NewPrometheus(prom, apiserverHostPort(cfg.Host))
	if err != nil {
		return func(context.Context) (chatter.APIMetrics, error) { return chatter.APIMetrics{}, err },
			"prometheus " + prom.MaskedURL()
	}
	return p.Scrape, p.Source()
}

// apiserverHostPort is the host:port in a rest.Config's Host (a URL or a
// bare host), the port defaulted by scheme: what Prometheus calls the
// target's instance when it scrapes the apiserver at that address.
func apiserverHostPort(host string) string {
	u, err := url.Parse(host)
	if err != nil || u.Host == "" {
		u = &url.URL{Scheme: "https", Host: host}
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
