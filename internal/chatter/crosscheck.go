package chatter

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/distrobench/distrobench/internal/result"
)

// CrossCheckTolerance is the largest relative difference the cross-check
// accepts between the bytes the agents' proxy carried to a probe client
// and the response bytes the apiserver reports for the same requests. The
// proxy also carries TLS records and HTTP/2 frames the apiserver does not
// count (0.76 % of a 1.2 MB list, steady over 5 lists: see METHOD.md); a
// proxy that misses a path or counts one twice is off by far more.
const CrossCheckTolerance = 0.02

// ProbeResource is what the cross-check's probe lists: nothing else in a
// cluster lists ConfigMaps while it runs (controllers watch them), so the
// apiserver's response bytes for it are the probe's own.
const ProbeResource = "LIST configmaps"

// ProbeRequest is one probe request, read on both sides: before and after
// it, the proxy's counters and the apiserver's metrics.
type ProbeRequest struct {
	ProxyBefore, ProxyAfter Snapshot
	APIBefore, APIAfter     APIMetrics
}

// probeBytes are the bytes of one probe request on both sides: what the
// proxy carried from the server to client key, and what the apiserver
// reports it wrote for ProbeResource.
func (p ProbeRequest) probeBytes(key string) (proxy, api float64, err error) {
	before, after := p.ProxyBefore.Clients[key], p.ProxyAfter.Clients[key]
	if after.Down < before.Down {
		return 0, 0, fmt.Errorf("the proxy's counters went backwards for %s (was it restarted?)", key)
	}
	proxy = float64(after.Down - before.Down)
	api = p.APIAfter.ResponseBytes.Totals()[ProbeResource] - p.APIBefore.ResponseBytes.Totals()[ProbeResource]
	switch {
	case api <= 0:
		return 0, 0, fmt.Errorf("the apiserver reported no response bytes for %s (does it expose %s?)", ProbeResource, MetricResponseSizes)
	case proxy == 0:
		return 0, 0, fmt.Errorf("the proxy counted no bytes for the probe (client %q): did the probe go through it?", key)
	}
	return proxy, api, nil
}

// CrossCheck judges the probe requests: per request, the relative
// difference |proxy/apiserver - 1| between the bytes the proxy carried to
// the probe's client (key) and the response bytes the apiserver reports
// for them, with an SLO of CrossCheckTolerance on the largest. A request
// that cannot be read on both sides makes the figure not measured.
func CrossCheck(reqs []ProbeRequest, key string, labels map[string]string) result.Measurement {
	if len(reqs) == 0 {
		return result.NotMeasured(AgentCrossCheckMetric, "ratio", labels, "no probe request was made")
	}
	diffs := make([]float64, len(reqs))
	pairs := make([]string, len(reqs))
	var errs []error
	for i, r := range reqs {
		proxy, api, err := r.probeBytes(key)
		if err != nil {
			errs = append(errs, fmt.Errorf("request %d: %w", i+1, err))
			continue
		}
		diffs[i] = math.Abs(proxy/api - 1)
		pairs[i] = fmt.Sprintf("%.0f/%.0f", proxy, api)
	}
	if err := errors.Join(errs...); err != nil {
		return result.NotMeasured(AgentCrossCheckMetric, "ratio", labels, err.Error())
	}
	m := describedAs(result.NewMeasurement(AgentCrossCheckMetric, "ratio", labels, diffs),
		"relative difference between the bytes the agents' proxy carried to a probe client and the response bytes the apiserver reports for the same requests (unpaginated lists of one namespace's ConfigMaps), one sample per request").
		WithAttribute("crosscheck.bytes", "proxy/apiserver per request: "+strings.Join(pairs, ", ")).
		WithAttribute("crosscheck.tolerance", fmt.Sprintf("%g", CrossCheckTolerance))
	return m.WithSLO("max", CrossCheckTolerance, "the cross-check's tolerance (METHOD.md)")
}
