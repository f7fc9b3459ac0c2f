package deploy

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/distrobench/distrobench/internal/datastore"
	"github.com/distrobench/distrobench/internal/profile"
)

// hosts is where a cluster's processes run, chosen once per Up
// (chooseHosts): on the machine itself (machineHosts: a server alone, on
// loopback) or on simulated hosts (simulatedHosts: one network namespace
// per node, see nodes.go). Up calls its methods in the order listed, at
// the points where the two differ; everything else Up does the same way.
type hosts interface {
	// checkPrereqs says what the machine lacks to run these hosts.
	checkPrereqs() error
	// setKubeconfigs sets c.Kubeconfig (what the harness reads) and, when
	// the server's own is only valid on its host, c.ServerKubeconfig.
	// written is spec.kubeconfig resolved, "" when the profile names none.
	setKubeconfigs(c *Cluster, written string)
	// create makes the hosts, before anything runs on them.
	create(c *Cluster) error
	// datastoreListen are the addresses a local datastore server listens
	// on besides loopback, so that the server's host reaches it.
	datastoreListen(c *Cluster) ([]netip.Prefix, error)
	// serverAddress is the address the server listens on: port is the
	// user's (0: the hosts pick one).
	serverAddress(c *Cluster, port int) (ip string, p int, err error)
	// serverArgs are the flags (token file included) and environment that
	// place the server on its host.
	serverArgs(c *Cluster, tokenFile string) (args, env []string, err error)
	// prepareNodes readies the agents and the nodes' images before the
	// server starts.
	prepareNodes(c *Cluster, p *profile.Profile, tarballs []string) error
	// startNodes starts the agents once the server answers and waits
	// until every node is Ready.
	startNodes(ctx context.Context, c *Cluster) error
}

// chooseHosts picks where p's cluster runs: on simulated hosts when it has
// nodes (HasNodes), else on the machine. It checks nothing on the machine
// (see hosts.checkPrereqs).
func chooseHosts(p *profile.Profile, extraServerArgs []string) (hosts, error) {
	// Nodes run on simulated hosts, so the machine's own network never
	// changes: the server's own agent (K3s runs one unless --disable-agent)
	// and every agent get a network namespace of their own.
	serverAgent := !boolFlag(append(slices.Clone(p.Spec.Server.Args), extraServerArgs...), "--disable-agent")
	agents := p.Spec.Nodes.Agents
	if agents < 0 || agents > profile.MaxAgents {
		return nil, fmt.Errorf("spec.nodes.agents: %d agents: must be between 0 and %d", agents, profile.MaxAgents)
	}
	if !HasNodes(p, extraServerArgs...) {
		return machineHosts{}, nil
	}
	return simulatedHosts{agents: agents, serverAgent: serverAgent}, nil
}

// machineHosts runs the server alone in the machine's own network
// namespace, on loopback, with no node.
type machineHosts struct{}

func (machineHosts) checkPrereqs() error { return nil }

func (machineHosts) setKubeconfigs(c *Cluster, written string) {
	if written != "" {
		c.Kubeconfig = written
	}
}

func (machineHosts) create(*Cluster) error { return nil }

func (machineHosts) datastoreListen(*Cluster) ([]netip.Prefix, error) { return nil, nil }

func (machineHosts) serverAddress(_ *Cluster, port int) (string, int, error) {
	if port == 0 {
		var err error
		if port, err = freePortPair(); err != nil {
			return "", 0, err
		}
	}
	return "127.0.0.1", port, nil
}

func (machineHosts) serverArgs(_ *Cluster, tokenFile string) (args, env []string, err error) {
	args = []string{"--bind-address", "127.0.0.1", "--token-file", tokenFile}
	// K3s-style servers bind the controller-manager and scheduler to
	// fixed ports (10257, 10259); give them free ones so several
	// servers (a test cluster and a benchmark cluster, say) can run side
	// by side. The flags are K3s's own, so a real k3s is driven the same
	// way. (On a simulated host the server has its own ports.)
	for _, component := range []string{"--kube-controller-manager-arg", "--kube-scheduler-arg"} {
		port, err := datastore.FreePort()
		if err != nil {
			return nil, nil, err
		}
		args = append(args, component, "secure-port="+strconv.Itoa(port))
	}
	return args, nil, nil
}

func (machineHosts) prepareNodes(*Cluster, *profile.Profile, []string) error { return nil }

func (machineHosts) startNodes(context.Context, *Cluster) error { return nil }

// simulatedHosts runs every node on a simulated host of its own: node 0
// is the server (with its own agent unless serverAgent is false), node i
// its i-th agent. The work is done by the Cluster methods in nodes.go.
type simulatedHosts struct {
	agents      int
	serverAgent bool
}

func (simulatedHosts) checkPrereqs() error { return checkSimulationPrereqs() }

// setKubeconfigs: the server's kubeconfig names its loopback, valid only
// inside node 0; the harness reads a copy that points at node 0's bridge
// address (see Cluster.probe).
func (simulatedHosts) setKubeconfigs(c *Cluster, written string) {
	if written == "" {
		written = filepath.Join(c.RunDir, "server-kubeconfig.yaml")
	}
	c.ServerKubeconfig = written
}

func (s simulatedHosts) create(c *Cluster) error {
	c.ServerAgent = s.serverAgent
	c.planAgentProxy(s.agents)
	if err := c.createNetwork(s.agents); err != nil {
		return err
	}
	if err := c.createNodesDir(); err != nil {
		return err
	}
	return c.writeRegistries()
}

// datastoreListen: the server's host reaches the machine only at the
// bridge's gateway: a local datastore server listens there too, and
// admits the datastore user from the bridge's subnet.
func (simulatedHosts) datastoreListen(c *Cluster) ([]netip.Prefix, error) {
	gw, err := datastore.ListenOn(c.Network.Gateway, c.Network.Subnet)
	if err != nil {
		return nil, err
	}
	return []netip.Prefix{gw}, nil
}

// serverAddress: the server has its network namespace to itself, so it
// takes K3s's default port.
func (simulatedHosts) serverAddress(c *Cluster, port int) (string, int, error) {
	if port == 0 {
		port = defaultHTTPSPort
	}
	return c.Network.Hosts[0].IP, port, nil
}

func (simulatedHosts) serverArgs(c *Cluster, tokenFile string) (args, env []string, err error) {
	args = append(c.nodeServerArgs(), "--token-file", tokenFile)
	return args, []string{runDirEnv + "=" + c.RunDir}, nil
}

func (s simulatedHosts) prepareNodes(c *Cluster, p *profile.Profile, tarballs []string) error {
	if err := c.startAgentProxy(); err != nil {
		return err
	}
	if err := c.prepareAgents(p, s.agents); err != nil {
		return err
	}
	return c.placeImages(tarballs)
}

func (simulatedHosts) startNodes(ctx context.Context, c *Cluster) error {
	if err := c.startNodes(ctx); err != nil {
		return err
	}
	return c.writeState()
}
