package chatter

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// readingsAt are three readings 10 s apart: node1 sends 100 B/s and gets
// 1000 B/s with 2 connections open; the datastore path moves 50 B/s each
// way; the datastore counts 3 transactions/s; the apiserver reports 2000
// B/s of resource responses (and a large non-resource GET, left out).
func readingsAt(t0 time.Time) []reading {
	var rs []reading
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		n := uint64(i) * 10
		api := APIMetrics{At: at, Requests: Counts{}, Storage: Counts{}, ResponseBytes: Counts{}}
		api.ResponseBytes.add("LIST pods", "a", float64(n)*1500)
		api.ResponseBytes.add("WATCH nodes", "b", float64(n)*500)
		api.ResponseBytes.add("GET ", "c", float64(n)*1e6)
		rs = append(rs, reading{at: at, api: api, paths: pathReading{
			agents:     Snapshot{At: at, Clients: map[string]Counters{"node1": {Up: 100 * n, Down: 1000 * n, Open: 2}}},
			datastore:  Snapshot{At: at, Clients: map[string]Counters{"server": {Up: 50 * n, Down: 50 * n, Open: 1}}},
			stmts:      map[string]float64{"transactions": 3 * float64(n)},
			stmtMethod: "pg_stat_database",
		}})
	}
	return rs
}

func sample(t *testing.T, ms []result.Measurement, name string, labels ...string) result.Measurement {
	t.Helper()
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			ok = ok && m.Labels[labels[i]] == labels[i+1]
		}
		if ok {
			return m
		}
	}
	t.Fatalf("no %s %v among %d figures", name, labels, len(ms))
	return result.Measurement{}
}

func TestPathMeasurements(t *testing.T) {
	p := &Proxy{} // stands for a live proxy: the readings are given
	o := WindowOptions{Scrape: fakeAPI(), Labels: map[string]string{"phase": "idle"},
		Paths: Paths{Agents: Path{Proxy: p}, Datastore: Path{Proxy: p},
			Statements: func(context.Context) (map[string]float64, string, error) { return nil, "", nil }}}
	ms := o.pathMeasurements(readingsAt(time.Now()))
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{AgentBytesMetric, []string{"node", "node1", "direction", ToServer, "phase", "idle"}, 100},
		{AgentBytesMetric, []string{"node", "node1", "direction", FromServer}, 1000},
		{AgentConnsMetric, []string{"node", "node1"}, 2},
		{DatastoreBytesMetric, []string{"direction", ToDatastore}, 50},
		{DatastoreBytesMetric, []string{"direction", FromDatastore}, 50},
		{DatastoreConnsMetric, nil, 1},
		{StatementsMetric, []string{"kind", "transactions"}, 3},
	} {
		m := sample(t, ms, c.name, c.labels...)
		if m.Missing != "" || len(m.Samples) != 2 || m.Samples[0] != c.want || m.Samples[1] != c.want {
			t.Errorf("%s %v: %+v, want %v in each of 2 intervals", c.name, c.labels, m, c.want)
		}
	}
	if _, ok := sample(t, ms, DatastoreConnsMetric).Labels["node"]; ok {
		t.Error("the datastore path's figures carry no client label")
	}
	if m := sample(t, ms, StatementsMetric); m.Attributes["method"] != "pg_stat_database" {
		t.Errorf("statements method: %+v", m.Attributes)
	}
}

func TestPathsNotMeasuredOrAbsent(t *testing.T) {
	rs := readingsAt(time.Now())
	for i := range rs {
		rs[i].paths.stmtErr = errors.New("connection refused")
	}
	o := WindowOptions{Paths: Paths{Agents: Path{WhyNot: "k3s agents leave --server"},
		Statements: func(context.Context) (map[string]float64, string, error) { return nil, "", nil }}}
	ms := o.pathMeasurements(rs)
	for _, name := range []string{AgentBytesMetric, AgentConnsMetric} {
		if m := sample(t, ms, name); m.Missing != "k3s agents leave --server" {
			t.Errorf("%s: %+v, want not measured with the reason", name, m)
		}
	}
	if m := sample(t, ms, StatementsMetric); !strings.Contains(m.Missing, "connection refused") {
		t.Errorf("statements: %+v", m)
	}
	if len(ms) != 3 {
		t.Errorf("%d figures, want 3: no datastore path (absent)", len(ms))
	}
	if ms := (WindowOptions{}).pathMeasurements(rs); len(ms) != 0 {
		t.Errorf("zero Paths: %d figures, want none", len(ms))
	}
}

// Watch reads a live proxy: a node's bytes through it show in its figures.
func TestWatchReadsTheAgentProxy(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	p, err := Listen("127.0.0.1:0", up.Addr().String(), func(netip.Addr) string { return "node1" })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	stop := Watch(context.Background(), WindowOptions{Interval: 10 * time.Millisecond, Paths: Paths{Agents: Path{Proxy: p}}})
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)
	for range 5 {
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		time.Sleep(15 * time.Millisecond)
	}
	ms := stop()
	m := sample(t, ms, AgentBytesMetric, "node", "node1", "direction", ToServer)
	var sum float64
	for _, v := range m.Samples {
		sum += v
	}
	if m.Missing != "" || sum <= 0 {
		t.Errorf("node1 to-server: %+v, want bytes counted", m)
	}
	if conns := sample(t, ms, AgentConnsMetric, "node", "node1"); conns.Summary.Max != 1 {
		t.Errorf("connections: %+v, want 1 open", conns)
	}
}
