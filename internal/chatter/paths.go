package chatter

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/distrobench/distrobench/internal/result"
)

// Names of the figures Watch takes from the counting proxies and the
// datastore's own counters (Paths).
const (
	AgentBytesMetric      = "chatter.agent.bytes"
	AgentConnsMetric      = "chatter.agent.connections"
	AgentCrossCheckMetric = "chatter.agent.crosscheck"
	DatastoreBytesMetric  = "chatter.datastore.bytes"
	DatastoreConnsMetric  = "chatter.datastore.connections"
	StatementsMetric      = "chatter.datastore.statements"
)

// Directions of the bytes figures (label direction).
const (
	ToServer      = "to-server"
	FromServer    = "from-server"
	ToDatastore   = "to-datastore"
	FromDatastore = "from-datastore"
)

// Path is the counting proxy on one path of a cluster, or why there is
// none. The zero Path is a path the cluster does not have (no agents, a
// datastore inside the server): Watch reports nothing for it. A Path with
// WhyNot and no Proxy is reported as not measured, with WhyNot.
type Path struct {
	Proxy  *Proxy
	WhyNot string
}

func (p Path) absent() bool { return p.Proxy == nil && p.WhyNot == "" }

// Paths are the sources Watch reads besides the apiserver and the disk.
type Paths struct {
	// Agents is the proxy on the agents' path to the server, keyed by
	// node name.
	Agents Path
	// Datastore is the proxy on the server's path to its datastore.
	Datastore Path
	// Statements reads the datastore's own cumulative counters by kind
	// (transactions, questions, Range, ...) and names how it read them;
	// nil when the datastore has no counters of its own to read (it runs
	// inside the server). An error makes the figure not measured.
	Statements func(ctx context.Context) (counts map[string]float64, method string, err error)
}

// pathReading is one reading of the Paths.
type pathReading struct {
	agents, datastore Snapshot
	stmts             map[string]float64
	stmtMethod        string
	stmtErr           error
}

func (ps Paths) read(ctx context.Context) pathReading {
	var r pathReading
	if ps.Agents.Proxy != nil {
		r.agents = ps.Agents.Proxy.Snapshot()
	}
	if ps.Datastore.Proxy != nil {
		r.datastore = ps.Datastore.Proxy.Snapshot()
	}
	if ps.Statements != nil {
		r.stmts, r.stmtMethod, r.stmtErr = ps.Statements(ctx)
	}
	return r
}

// figure makes one of a path's figures: measured from samples, or not
// measured when why is set. (Each names its figure with a constant, which
// reports/method_test.go checks against METHOD.md.)
type figure func(labels map[string]string, samples []float64, why string) result.Measurement

// pathFigures says how one path's figures are made and described.
type pathFigures struct {
	bytes, conns figure
	up, down     string // direction label values
	keyLabel     string // label of a client key; "" sums every client
	what         string // the path, for descriptions
}

var (
	agentFigures = pathFigures{
		bytes: func(l map[string]string, s []float64, why string) result.Measurement {
			if why != "" {
				return result.NotMeasured(AgentBytesMetric, "bytes/s", l, why)
			}
			return result.NewMeasurement(AgentBytesMetric, "bytes/s", l, s)
		},
		conns: func(l map[string]string, s []float64, why string) result.Measurement {
			if why != "" {
				return result.NotMeasured(AgentConnsMetric, "connections", l, why)
			}
			return result.NewMeasurement(AgentConnsMetric, "connections", l, s)
		},
		up: ToServer, down: FromServer, keyLabel: "node",
		what: "between each agent node and the server (every connection of its kubelet, kube-proxy, flannel and join requests), through the harness's counting proxy",
	}
	datastoreFigures = pathFigures{
		bytes: func(l map[string]string, s []float64, why string) result.Measurement {
			if why != "" {
				return result.NotMeasured(DatastoreBytesMetric, "bytes/s", l, why)
			}
			return result.NewMeasurement(DatastoreBytesMetric, "bytes/s", l, s)
		},
		conns: func(l map[string]string, s []float64, why string) result.Measurement {
			if why != "" {
				return result.NotMeasured(DatastoreConnsMetric, "connections", l, why)
			}
			return result.NewMeasurement(DatastoreConnsMetric, "connections", l, s)
		},
		up: ToDatastore, down: FromDatastore,
		what: "between the server and its datastore server, through the harness's counting proxy",
	}
)

// pathMeasurements are the figures of both proxies and the datastore's
// statements.
func (o WindowOptions) pathMeasurements(rs []reading) []result.Measurement {
	var out []result.Measurement
	snaps := func(f func(pathReading) Snapshot) []Snapshot {
		s := make([]Snapshot, len(rs))
		for i, r := range rs {
			s[i] = f(r.paths)
		}
		return s
	}
	if !o.Paths.Agents.absent() {
		out = append(out, o.proxyMeasurements(o.Paths.Agents, agentFigures, snaps(func(r pathReading) Snapshot { return r.agents }))...)
	}
	if !o.Paths.Datastore.absent() {
		out = append(out, o.proxyMeasurements(o.Paths.Datastore, datastoreFigures, snaps(func(r pathReading) Snapshot { return r.datastore }))...)
	}
	if o.Paths.Statements != nil {
		out = append(out, o.statementMeasurements(rs)...)
	}
	return out
}

// proxyMeasurements are one proxy's bytes per second each way and its
// open connections, per interval, per client key (or summed).
func (o WindowOptions) proxyMeasurements(p Path, f pathFigures, snaps []Snapshot) []result.Measurement {
	notMeasured := func(why string) []result.Measurement {
		return []result.Measurement{f.bytes(o.labels(), nil, why), f.conns(o.labels(), nil, why)}
	}
	if p.Proxy == nil {
		return notMeasured(p.WhyNot)
	}
	if f.keyLabel == "" {
		for i := range snaps {
			snaps[i] = Snapshot{At: snaps[i].At, Clients: map[string]Counters{"": snaps[i].Total()}}
		}
	}
	var rates []map[string]Rate
	for i := 1; i < len(snaps); i++ {
		r, err := Rates(snaps[i-1], snaps[i])
		if err != nil {
			return notMeasured(err.Error())
		}
		rates = append(rates, r)
	}
	var out []result.Measurement
	for _, key := range rateKeys(rates) {
		kv := []string{}
		if f.keyLabel != "" {
			kv = append(kv, f.keyLabel, key)
		}
		pick := func(v func(Rate) float64) []float64 {
			s := make([]float64, len(rates))
			for i, r := range rates {
				s[i] = v(r[key])
			}
			return s
		}
		out = append(out,
			describedAs(f.bytes(o.labels(slices.Concat(kv, []string{"direction", f.up})...), pick(func(r Rate) float64 { return r.UpPerSec }), ""),
				"bytes per second "+f.what+", per interval, direction "+f.up),
			describedAs(f.bytes(o.labels(slices.Concat(kv, []string{"direction", f.down})...), pick(func(r Rate) float64 { return r.DownPerSec }), ""),
				"bytes per second "+f.what+", per interval, direction "+f.down),
			describedAs(f.conns(o.labels(kv...), pick(func(r Rate) float64 { return float64(r.Open) }), ""),
				"TCP connections open "+f.what+", sampled at the end of each interval"))
	}
	return out
}

// rateKeys is every client key of any interval, sorted.
func rateKeys(rates []map[string]Rate) []string {
	seen := map[string]bool{}
	for _, r := range rates {
		for k := range r {
			seen[k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// statementMeasurements are the datastore's own statements per second, by
// kind, per interval.
func (o WindowOptions) statementMeasurements(rs []reading) []result.Measurement {
	var per []map[string]float64
	for i := 1; i < len(rs); i++ {
		a, b := rs[i-1].paths, rs[i].paths
		err := firstErr(a.stmtErr, b.stmtErr)
		if err == nil {
			var secs float64
			if secs, err = window(rs[i-1].at, rs[i].at); err == nil {
				per = append(per, counterRates(a.stmts, b.stmts, secs))
			}
		}
		if err != nil {
			return []result.Measurement{result.NotMeasured(StatementsMetric, "ops/s", o.labels(), "datastore counters: "+err.Error())}
		}
	}
	var out []result.Measurement
	for _, kind := range floatKeys(per) {
		s := make([]float64, len(per))
		for i, m := range per {
			s[i] = m[kind]
		}
		m := result.NewMeasurement(StatementsMetric, "ops/s", o.labels("kind", kind), s)
		if len(rs) > 0 {
			m = m.WithAttribute("method", rs[0].paths.stmtMethod)
		}
		out = append(out, describedAs(m, fmt.Sprintf("%s per second the datastore server counted itself, per interval", kind)))
	}
	return out
}

// counterRates is each counter's increase per second (a counter that fell
// counts from zero, see increase).
func counterRates(before, after map[string]float64, secs float64) map[string]float64 {
	out := make(map[string]float64, len(after))
	for k, v := range after {
		out[k] = increase(before[k], v) / secs
	}
	return out
}

func floatKeys(ms []map[string]float64) []string {
	seen := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			seen[k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
