package job

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/result"
)

// The cross-check's probe: crossCheckLists unpaginated lists of a
// namespace of crossCheckObjects ConfigMaps of crossCheckObjectSize bytes
// (about 1.4 MB a list: TLS and HTTP/2 framing are then a small, steady
// share of what the proxy carries).
const (
	crossCheckObjects    = 1000
	crossCheckObjectSize = 1024
	crossCheckLists      = 5
)

// probeCleanup bounds the wait for the probe's namespace to go (a few
// seconds for its thousand objects).
var probeCleanup = measure.Settle{Max: 2 * time.Minute, Interval: time.Second}

// proxyCrossCheck checks the agents' counting proxy against the
// apiserver's own count, for one client whose every request the harness
// knows: a probe on this machine lists a namespace of its own through the
// proxy, and each list's bytes are read on both sides (chatter.CrossCheck).
// The probe connects from the bridge gateway, which is no node's address,
// so the proxy counts it apart from the agents (client chatter.Other). It
// runs outside every chatter window: its bytes are in no agent figure.
// Nothing for a cluster without agents; not measured, with the reason,
// when the proxy could not be placed or the probe failed.
func proxyCrossCheck(ctx context.Context, c *deploy.Cluster, labels map[string]string) []result.Measurement {
	path := c.ChatterPaths().Agents
	switch {
	case path.Proxy == nil && path.WhyNot == "":
		return nil
	case path.Proxy == nil:
		return []result.Measurement{result.NotMeasured(chatter.AgentCrossCheckMetric, "ratio", labels, path.WhyNot)}
	}
	reqs, err := probeThroughProxy(ctx, c, path.Proxy)
	if err != nil {
		return []result.Measurement{result.NotMeasured(chatter.AgentCrossCheckMetric, "ratio", labels, "cross-check probe: "+err.Error())}
	}
	return []result.Measurement{chatter.CrossCheck(reqs, chatter.Other, labels)}
}

// clusterClient is the harness's direct path to c's apiserver: its
// config and a client without a client-side rate limiter.
func clusterClient(c *deploy.Cluster) (*rest.Config, kubernetes.Interface, error) {
	cfg, err := c.RESTConfig()
	if err != nil {
		return nil, nil, err
	}
	cs, err := measure.UnthrottledClient(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("client of %s: %w", cfg.Host, err)
	}
	return cfg, cs, nil
}

// probeThroughProxy makes the probe's requests, each read on both sides.
// The apiserver's metrics are scraped from the apiserver itself (not a
// Prometheus, whose scrapes are seconds apart), on the harness's direct
// path.
func probeThroughProxy(ctx context.Context, c *deploy.Cluster, proxy *chatter.Proxy) ([]chatter.ProbeRequest, error) {
	cfg, direct, err := clusterClient(c)
	if err != nil {
		return nil, err
	}
	set, err := measure.NewListSet(ctx, direct, crossCheckObjects, crossCheckObjectSize, 8, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = set.Delete(context.WithoutCancel(ctx))
		// The namespace controller deleting its thousand objects would load
		// the cluster while the next figure (pod startup) is taken.
		_, _ = measure.Quiesce(ctx, measure.QuiesceOptions{Client: direct, Settle: probeCleanup})
	}()
	via := rest.CopyConfig(cfg)
	via.Host = "https://" + proxy.Addr().String()
	via.DisableCompression = true // the apiserver counts what it sends: gzip would make the two sides differ by design
	probe, err := measure.UnthrottledClient(via)
	if err != nil {
		return nil, err
	}
	list := func() error {
		if err := set.ListVia(ctx, probe); err != nil {
			return fmt.Errorf("list through the proxy at %s: %w", proxy.Addr(), err)
		}
		return nil
	}
	// The first list opens the connection: its TLS handshake is no response.
	if err := list(); err != nil {
		return nil, err
	}
	scrape, _ := apiSource(cfg, chatter.PrometheusOptions{})
	return readEachRequest(ctx, proxy, scrape, list)
}

// readEachRequest makes crossCheckLists probe requests, reading the proxy
// and the apiserver around each. The readings after one request are those
// before the next: in between only the apiserver is scraped, on the
// harness's direct path, not through the proxy.
func readEachRequest(ctx context.Context, proxy *chatter.Proxy, scrape func(context.Context) (chatter.APIMetrics, error), request func() error) ([]chatter.ProbeRequest, error) {
	api, err := scrape(ctx)
	if err != nil {
		return nil, err
	}
	snap := proxy.Snapshot()
	reqs := make([]chatter.ProbeRequest, 0, crossCheckLists)
	for range crossCheckLists {
		if err := request(); err != nil {
			return nil, err
		}
		r := chatter.ProbeRequest{ProxyBefore: snap, APIBefore: api, ProxyAfter: proxy.Snapshot()}
		if r.APIAfter, err = scrape(ctx); err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
		snap, api = r.ProxyAfter, r.APIAfter
	}
	return reqs, nil
}
