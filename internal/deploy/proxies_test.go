package deploy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/netns"
)

// echoServer answers every connection with what it sent, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends msg to addr and reads the echo.
func roundTrip(t *testing.T, addr, msg string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo through %s: %q %v", addr, buf, err)
	}
}

// counted waits until p's counters show what want says: the proxy counts
// a chunk just after passing it on, so the test's read may come first.
// The loop bounds the wait; it measures nothing.
func counted(t *testing.T, p *chatter.Proxy, want func(chatter.Snapshot) bool, what string) {
	t.Helper()
	for range 1000 {
		if want(p.Snapshot()) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("proxy counters %+v after 10s, want %s", p.Snapshot().Clients, what)
}

func TestAgentsWhyNotByBinary(t *testing.T) {
	if why := agentsWhyNot("/cache/k3lite-linux-amd64", true); why != "" {
		t.Errorf("k3lite: %q, want its agents counted", why)
	}
	for bin, want := range map[string]string{
		"/usr/local/bin/k3s":        "load balancer",
		"/usr/local/bin/rke2":       "load balancer",
		"/opt/mydistro":             "cannot tell",
		"/cache/k3lite-linux-arm64": "",
	} {
		if why := agentsWhyNot(bin, true); !strings.Contains(why, want) || (want == "") != (why == "") {
			t.Errorf("%s: %q, want a reason with %q", bin, why, want)
		}
	}
	if why := agentsWhyNot("/cache/k3lite", false); why != noProxiesWhy {
		t.Errorf("without proxies: %q", why)
	}
}

// The agents' proxy listens on the gateway, forwards to the server's
// address, names connections by node, and goes into the agents' --server
// and the server's certificate; Down's closeChatter stops it.
func TestAgentProxyOnTheAgentsPath(t *testing.T) {
	server := echoServer(t)
	c := &Cluster{
		Binary: "/cache/k3lite-linux-amd64", chatterProxies: true, ServerURL: "https://" + server, log: slog.New(slog.DiscardHandler),
		// Loopback stands in for the bridge: node1's address is the
		// test's own source address.
		Network: &netns.Network{Gateway: "127.0.0.1", Hosts: []netns.Host{{IP: "10.9.9.2"}, {IP: "127.0.0.1"}}},
	}
	c.planAgentProxy(1)
	if !c.proxyAgents || !slices.Contains(c.nodeServerArgs(), "--tls-san") {
		t.Fatalf("planned %v, server args %q: want a proxy and the gateway as a SAN", c.proxyAgents, c.nodeServerArgs())
	}
	if err := c.startAgentProxy(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.agentServerURL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Host == server {
		t.Fatalf("agents' --server %s: want the proxy's address on the gateway", c.agentServerURL())
	}
	roundTrip(t, u.Host, "GET /cacerts")
	counted(t, c.agentProxy, func(s chatter.Snapshot) bool { n := s.Clients["node1"]; return n.Up == 12 && n.Down == 12 },
		"node1's 12 bytes each way")
	if err := c.closeChatter(); err != nil || c.agentProxy != nil || c.agentServerURL() != c.ServerURL {
		t.Errorf("closeChatter: %v, proxy %v", err, c.agentProxy)
	}
	if _, err := net.Dial("tcp", u.Host); err == nil {
		t.Error("the proxy still listens after closeChatter")
	}
}

func TestNoAgentProxyWithoutAgentsOrForK3s(t *testing.T) {
	c := &Cluster{Binary: "/usr/local/bin/k3s", chatterProxies: true, Network: &netns.Network{Gateway: "10.9.9.1", Hosts: []netns.Host{{IP: "10.9.9.2"}}}}
	c.planAgentProxy(2)
	if c.proxyAgents || slices.Contains(c.nodeServerArgs(), "10.9.9.1") || c.agentsWhyNot == "" {
		t.Errorf("k3s: proxy %v, why %q, args %q: want no proxy, a reason, no gateway SAN", c.proxyAgents, c.agentsWhyNot, c.nodeServerArgs())
	}
	c = &Cluster{Binary: "/cache/k3lite", chatterProxies: true, Network: c.Network}
	c.planAgentProxy(0)
	if c.proxyAgents || c.agentsWhyNot != "" {
		t.Errorf("no agents: proxy %v, why %q", c.proxyAgents, c.agentsWhyNot)
	}
	if err := c.startAgentProxy(); err != nil || c.agentProxy != nil {
		t.Errorf("no agents: started %v, %v", c.agentProxy, err)
	}
}

// A datastore server the run started is reached through the proxy: the
// endpoint handed to the server names it, password and all else kept.
func TestRouteDatastoreThroughTheProxy(t *testing.T) {
	upstream := echoServer(t)
	ep := "postgres://kine:pw@" + upstream + "/kine?sslmode=disable"
	c := &Cluster{Datastore: dstype.Postgres, chatterProxies: true}
	env, err := c.datastoreEnv(context.Background(), "/x/k3lite", &datastore.Instance{Endpoint: ep})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.closeChatter() }()
	if c.datastoreProxy == nil {
		t.Fatal("no datastore proxy")
	}
	proxied := c.datastoreProxy.Addr().String()
	if want := "K3LITE_DATASTORE_ENDPOINT=postgres://kine:pw@" + proxied + "/kine?sslmode=disable"; !slices.Equal(env, []string{want}) {
		t.Errorf("env %q, want %q", env, want)
	}
	roundTrip(t, proxied, "SELECT 1")
	counted(t, c.datastoreProxy, func(s chatter.Snapshot) bool { tot := s.Total(); return tot.Up == 8 && tot.Down == 8 },
		"8 bytes each way")
	if p := c.ChatterPaths(); p.Datastore.Proxy != c.datastoreProxy || p.Statements == nil || p.Agents.Proxy != nil || p.Agents.WhyNot != "" {
		t.Errorf("paths %+v: want the datastore proxy, statements, and no agents' path", p)
	}
}

func TestRouteDatastoreLeavesOthersAlone(t *testing.T) {
	for _, c := range []*Cluster{
		{Datastore: dstype.MySQL, chatterProxies: false},
		{Datastore: dstype.MySQL, chatterProxies: true, DatastoreExternal: true},
		{Datastore: dstype.SQLite, chatterProxies: true},
	} {
		const ep = "mysql://kine:pw@tcp(127.0.0.1:3306)/kine"
		if got, err := c.routeDatastore(ep); err != nil || got != ep || c.datastoreProxy != nil {
			t.Errorf("%+v: %q %v, want the endpoint unchanged and no proxy", c, got, err)
		}
	}
	c := &Cluster{Datastore: dstype.Etcd, chatterProxies: true}
	if _, err := c.routeDatastore("http://127.0.0.1:2379,http://127.0.0.2:2379"); err == nil {
		t.Error("two etcd members: want an error (one proxy stands in for one address)")
	}
}

func TestChatterPathsSayWhyNot(t *testing.T) {
	loaded := &Cluster{Datastore: dstype.MySQL, DatastoreEndpoint: "mysql://kine:" + "xxxxx" + "@tcp(127.0.0.1:3306)/kine", Agents: []*Agent{{Name: "node1"}}}
	loaded.DatastoreEndpoint = strings.Replace(loaded.DatastoreEndpoint, "xxxxx", "<redacted>", 1)
	p := loaded.ChatterPaths()
	if p.Agents.WhyNot != noProxiesWhy || p.Datastore.WhyNot != noProxiesWhy || p.Statements == nil {
		t.Errorf("loaded cluster: %+v, want both paths not measured for want of proxies", p)
	}
	user := &Cluster{Datastore: dstype.Postgres, DatastoreExternal: true}
	p = user.ChatterPaths()
	if !strings.Contains(p.Datastore.WhyNot, "user's") || p.Statements == nil {
		t.Fatalf("user's datastore: %+v", p)
	}
	if _, _, err := p.Statements(context.Background()); err == nil || !strings.Contains(err.Error(), "user's") {
		t.Errorf("user's datastore statements: %v, want not measured with the reason", err)
	}
	sqlite := (&Cluster{Datastore: dstype.SQLite}).ChatterPaths()
	if sqlite.Datastore.Proxy != nil || sqlite.Datastore.WhyNot != "" || sqlite.Statements != nil {
		t.Errorf("sqlite: %+v, want no datastore path and no statements", sqlite)
	}
}
