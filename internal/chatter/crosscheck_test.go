package chatter

import (
	"strings"
	"testing"
)

// probe is one probe request whose proxy side carried down bytes and whose
// apiserver side reported api bytes for ProbeResource (and some for
// another resource, which must not count).
func probe(before uint64, down uint64, api float64) ProbeRequest {
	snap := func(n uint64) Snapshot {
		return Snapshot{Clients: map[string]Counters{Other: {Down: n}, "node1": {Down: 7 * n}}}
	}
	metrics := func(v float64) APIMetrics {
		return APIMetrics{ResponseBytes: Counts{ProbeResource: {`{verb="LIST"}`: v}, "LIST pods": {"s": 3 * v}}}
	}
	return ProbeRequest{ProxyBefore: snap(before), ProxyAfter: snap(before + down), APIBefore: metrics(5e6), APIAfter: metrics(5e6 + api)}
}

func TestCrossCheckWithinTolerance(t *testing.T) {
	m := CrossCheck([]ProbeRequest{probe(1000, 1_002_000, 1_000_000), probe(1_003_000, 1_001_000, 1_000_000)}, Other, nil)
	if m.Missing != "" || m.SLO == nil || !m.SLO.Met {
		t.Fatalf("%+v: want measured and within the tolerance", m)
	}
	if got := m.Samples; len(got) != 2 || got[0] < 0.00199 || got[0] > 0.00201 {
		t.Errorf("samples %v, want |1002000/1000000 - 1| = 0.002 first", got)
	}
	if !strings.Contains(m.Attributes["crosscheck.bytes"], "1002000/1000000") {
		t.Errorf("attributes %v: want each request's bytes on both sides", m.Attributes)
	}
}

// A proxy that counts a path twice (or the agents' bytes with the probe's)
// fails the check instead of passing unread.
func TestCrossCheckFailsAProxyThatCountsTwice(t *testing.T) {
	m := CrossCheck([]ProbeRequest{probe(0, 1_001_000, 1_000_000), probe(0, 2_004_000, 1_000_000)}, Other, nil)
	if m.SLO == nil || m.SLO.Met {
		t.Errorf("%+v: one request counted twice must fail the check", m)
	}
}

func TestCrossCheckNotMeasured(t *testing.T) {
	for name, c := range map[string]struct {
		reqs []ProbeRequest
		want string
	}{
		"no requests":        {nil, "no probe request"},
		"no apiserver bytes": {[]ProbeRequest{probe(0, 1000, 0)}, "no response bytes for LIST configmaps"},
		"probe bypassed it":  {[]ProbeRequest{probe(0, 0, 1000)}, "did the probe go through it"},
		"counters went back": {[]ProbeRequest{{ProxyBefore: Snapshot{Clients: map[string]Counters{Other: {Down: 9}}}, ProxyAfter: Snapshot{Clients: map[string]Counters{Other: {Down: 1}}}}}, "went backwards"},
	} {
		m := CrossCheck(c.reqs, Other, nil)
		if !strings.Contains(m.Missing, c.want) || m.SLO != nil {
			t.Errorf("%s: %+v, want not measured (%q) and no verdict", name, m, c.want)
		}
	}
}
