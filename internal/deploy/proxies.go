package deploy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/netns"
)

// Counting proxies (internal/chatter) on two paths of a cluster, for the
// control-plane chatter figures. Both run in the harness's own process, in
// the machine's network namespace, from Up until Down (or Up's failure):
// a cluster whose caller does not stay for that long (distrobench up) gets
// none (Options.ChatterProxies). Neither is on the harness's own path: its
// kubeconfig names the server's bridge address, and it reads the
// datastore through the endpoint the datastore server gave
// (Cluster.DatastoreSize, DatastoreStatements).
//
// Agents -> server. Each agent on a simulated host is started with
// --server https://<bridge gateway>:<proxy port>; the proxy forwards to the
// server's address on the bridge and files each connection under the node
// whose address it comes from. What k3lite's agent does with --server
// (distro/pkg/agent run.go, certs.go; distro/pkg/bootstrap client.go): it
// joins there (/cacerts, /v1-k3lite/config, its certificates), writes that
// same URL into the kubelet's, kube-proxy's and flannel's kubeconfigs, and
// never switches to another address: it has no client-side load balancer
// and does not read the kubernetes Endpoints. So every connection an agent
// opens to the server goes through the proxy. The join's first request
// skips TLS verification (the token pins the CA by hash); every later one
// verifies the server's certificate against the address dialled, so the
// server gets --tls-san <gateway> (distro/pkg/server run.go pkiOptions puts
// every --tls-san IP in the serving certificate). Not through the proxy:
// the server's own node (node0, inside the server's process, on its
// loopback), pods' traffic to the kubernetes Service (kube-proxy sends it
// to the server's advertised address directly), and the apiserver's own
// connections to kubelets (logs, exec), which go the other way.

// k3sAgentsWhyNot: what a real K3s (or RKE2) agent does with --server, and
// what counting it would take.
const k3sAgentsWhyNot = "not measured for this binary: a K3s/RKE2 agent uses --server only to join, then its client-side load balancer " +
	"(127.0.0.1:6444 in the agent) learns the apiservers from the kubernetes Endpoints and connects to the server's advertised address, " +
	"bypassing a proxy on --server within seconds; counting it would need the server's --advertise-address/--advertise-port pointed at the proxy, " +
	"which also moves the kubernetes Service (pods' traffic) onto it, and the supervisor port proxied too"

// agentsWhyNot is why the agents of binary are not counted ("" when they
// can be, with a proxy on their --server).
func agentsWhyNot(binary string, proxies bool) string {
	if !proxies {
		return noProxiesWhy
	}
	if d, ok := distributionOf(binary); ok {
		return d.agentsWhyNot
	}
	return fmt.Sprintf("not measured for binary %s: the harness cannot tell whether its agents keep to --server", binary)
}

// noProxiesWhy is the reason for a cluster brought up without proxies.
const noProxiesWhy = "the cluster was brought up without counting proxies: they live in the process that ran Up " +
	"(distrobench run, bench or compare), not in one that returns while the cluster keeps running (distrobench up)"

// planAgentProxy decides, before the server's flags are built, whether the
// agents go through a proxy (the server then needs the gateway in its
// certificate).
func (c *Cluster) planAgentProxy(agents int) {
	if agents == 0 {
		return
	}
	c.agentsWhyNot = agentsWhyNot(c.Binary, c.chatterProxies)
	c.proxyAgents = c.agentsWhyNot == ""
}

// startAgentProxy starts the agents' proxy on the bridge gateway (a free
// port), forwarding to the server's URL, when planAgentProxy chose one.
func (c *Cluster) startAgentProxy() error {
	if !c.proxyAgents {
		return nil
	}
	u, err := url.Parse(c.ServerURL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("agents' counting proxy: the server URL %q has no host:port", c.ServerURL)
	}
	keys := nodeKeys(c.Network.Hosts)
	if c.SupervisorPort == 0 {
		p, err := chatter.Listen(net.JoinHostPort(c.Network.Gateway, "0"), u.Host, keys)
		if err != nil {
			return fmt.Errorf("agents' counting proxy: %w", err)
		}
		c.agentProxy = p
		c.say(fmt.Sprintf("agents reach the server through a counting proxy on %s", p.Addr()))
		return nil
	}
	// Agents join through the supervisor, then reach the API on the
	// server's port on the host they joined: the gateway, where the API's
	// proxy takes that port (the gateway's address is this run's own).
	api, err := chatter.Listen(net.JoinHostPort(c.Network.Gateway, u.Port()), u.Host, keys)
	if err != nil {
		return fmt.Errorf("agents' counting proxy for the API: %w", err)
	}
	sup, err := chatter.Listen(net.JoinHostPort(c.Network.Gateway, "0"), net.JoinHostPort(u.Hostname(), strconv.Itoa(c.SupervisorPort)), keys)
	if err != nil {
		_ = api.Close()
		return fmt.Errorf("agents' counting proxy for the supervisor: %w", err)
	}
	c.agentProxy, c.supervisorProxy = api, sup
	c.say(fmt.Sprintf("agents join through a counting proxy on %s and reach the API through one on %s", sup.Addr(), api.Addr()))
	return nil
}

// nodeKeys names a connection by the node whose simulated host has its
// source address (host i is node i).
func nodeKeys(hosts []netns.Host) chatter.KeyFunc {
	byIP := map[netip.Addr]string{}
	for i, h := range hosts {
		if ip, err := netip.ParseAddr(h.IP); err == nil {
			byIP[ip] = nodeName(i)
		}
	}
	return func(ip netip.Addr) string { return byIP[ip] }
}

// agentServerURL is what agents get as --server: the proxy's URL when
// their traffic is counted, else the server's.
func (c *Cluster) agentServerURL() string {
	switch {
	case c.supervisorProxy != nil:
		return "https://" + c.supervisorProxy.Addr().String()
	case c.agentProxy != nil:
		return "https://" + c.agentProxy.Addr().String()
	}
	return c.JoinURL()
}

// CACertsPath is K3s's join endpoint serving the cluster's CA bundle, the
// bytes a K10 token's hash pins.
const CACertsPath = "/cacerts"

// JoinURL is where agents join the server straight, without a proxy: the
// server's URL, or in the RKE2 style its host on the supervisor port.
func (c *Cluster) JoinURL() string {
	if c.SupervisorPort == 0 {
		return c.ServerURL
	}
	u, err := url.Parse(c.ServerURL)
	if err != nil {
		return c.ServerURL
	}
	u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(c.SupervisorPort))
	return u.String()
}

// routeDatastore puts the datastore proxy between the server and a
// datastore server the run started (PostgreSQL, MySQL, etcd), and returns
// the endpoint with the proxy's address in place of the server's. The
// proxy listens where the server reaches this machine (the bridge gateway
// on a simulated host, else loopback) and forwards to the address the
// endpoint names (loopback). A user's datastore, one inside the server,
// or a cluster without proxies keeps its endpoint. The apiserver's etcd
// client keeps to the endpoints it is given (no member auto-sync), and
// kine dials the one it has, so every datastore connection is counted.
func (c *Cluster) routeDatastore(endpoint string) (string, error) {
	if endpoint == "" || !c.chatterProxies || c.DatastoreExternal || dstype.InServer(c.Datastore) {
		return endpoint, nil
	}
	addrs, err := dstype.Addrs(endpoint)
	if err != nil {
		return "", err
	}
	if len(addrs) != 1 || addrs[0].Network != "tcp" || strings.Count(endpoint, addrs[0].Address) != 1 {
		return "", fmt.Errorf("datastore %s: the endpoint does not name one TCP address the counting proxy could stand in for", c.Datastore)
	}
	host := "127.0.0.1"
	if c.Network != nil {
		host = c.Network.Gateway
	}
	p, err := chatter.Listen(net.JoinHostPort(host, "0"), addrs[0].Address, func(netip.Addr) string { return "server" })
	if err != nil {
		return "", fmt.Errorf("datastore's counting proxy: %w", err)
	}
	c.datastoreProxy = p
	return strings.Replace(endpoint, addrs[0].Address, p.Addr().String(), 1), nil
}

// closeChatter stops both proxies (after the processes they served) and
// ends the statement reader's connection.
func (c *Cluster) closeChatter() error {
	var errs []error
	for _, p := range []**chatter.Proxy{&c.agentProxy, &c.supervisorProxy, &c.datastoreProxy} {
		if *p != nil {
			errs = append(errs, (*p).Close())
			*p = nil
		}
	}
	if c.statements != nil {
		errs = append(errs, c.statements.Close())
		c.statements = nil
	}
	return errors.Join(errs...)
}

// ChatterPaths are the cluster's counting proxies and its datastore's own
// counters, for chatter.Watch: a path the cluster has but could not count
// carries the reason; one it lacks (no agents, a datastore inside the
// server) is the zero Path.
func (c *Cluster) ChatterPaths() chatter.Paths {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := chatter.Paths{Statements: c.statementsSource()}
	if len(c.Agents) > 0 {
		ps.Agents = chatter.Path{Proxy: c.agentProxy, WhyNot: c.agentsWhyNot}
		if ps.Agents.Proxy == nil && ps.Agents.WhyNot == "" {
			ps.Agents.WhyNot = noProxiesWhy // loaded from the state file
		}
	}
	switch {
	case dstype.InServer(c.Datastore):
	case c.datastoreProxy != nil:
		ps.Datastore.Proxy = c.datastoreProxy
	case c.DatastoreExternal:
		ps.Datastore.WhyNot = "the datastore is the user's (--datastore-endpoint): the harness puts proxies only on datastore servers it started"
	default:
		ps.Datastore.WhyNot = noProxiesWhy
	}
	return ps
}

// statementsSource reads the datastore's own statement counters (nil for
// a datastore inside the server), with one reader for the cluster's life
// (it may keep a connection open: Down closes it).
func (c *Cluster) statementsSource() func(context.Context) (map[string]float64, string, error) {
	if dstype.InServer(c.Datastore) {
		return nil
	}
	fail := func(err error) func(context.Context) (map[string]float64, string, error) {
		return func(context.Context) (map[string]float64, string, error) { return nil, "", err }
	}
	if c.DatastoreExternal {
		return fail(errors.New("the datastore is the user's: its server-wide counters count every client it has, not this cluster's server alone"))
	}
	endpoint, err := c.sizeEndpoint()
	if err != nil {
		return fail(err)
	}
	if c.statements == nil {
		r, err := datastore.NewStatementReader(datastore.SizeTarget{Kind: c.Datastore, Endpoint: endpoint})
		if err != nil {
			return fail(err)
		}
		c.statements = r
	}
	r := c.statements
	return func(ctx context.Context) (map[string]float64, string, error) {
		s, err := r.Read(ctx)
		return s.Counts, s.Method, err
	}
}
