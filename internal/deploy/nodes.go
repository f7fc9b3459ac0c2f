package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/cgroup"
	"github.com/distrobench/distrobench/internal/netns"
	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/profile"
)

// defaultHTTPSPort is K3s's https-listen-port; a server on a simulated host
// has the port to itself.
const defaultHTTPSPort = 6443

// runDirEnv marks every node process (and what inherits its environment,
// such as containerd and its shims) with the run directory, so that `down`
// finds the processes that left their process group.
const runDirEnv = "DISTROBENCH_RUN_DIR"

// cgroupParent holds every node's kubelet cgroup root: /k3lite/<network
// id>-<node name>, unique per run, so that `down` removes exactly the cgroups
// of its own nodes.
const cgroupParent = "/k3lite"

// Every node's cgroup root (its kubelet's --cgroup-root) holds two cgroups:
// ownCgroup, which the node's first process (server or agent) is started in,
// so that everything the node runs outside its pods (containerd, shims,
// runc, CNI plugins, mount helpers), short-lived or re-parented to init, is
// a member and its CPU time is accounted; and podsCgroup, which the kubelet
// (cgroupfs driver) creates for the pods. Only the hierarchy that accounts
// CPU holds ownCgroup (internal/cgroup); memory is measured per member
// process (PSS).
const (
	ownCgroup  = "node"
	podsCgroup = "kubepods"
)

// Agent is one agent node (node1..nodeN) of a cluster, as recorded in the
// state file (no secrets: agents read the node token from the server's
// data dir).
type Agent struct {
	Name       string   `json:"name"` // Kubernetes node name
	Host       string   `json:"host"` // network namespace
	IP         string   `json:"ip"`
	DataDir    string   `json:"dataDir"`
	LogPath    string   `json:"logPath"`
	CgroupRoot string   `json:"cgroupRoot"` // kubelet --cgroup-root
	Cgroup     string   `json:"cgroup"`     // the agent's own cgroup (ownCgroup under CgroupRoot)
	Args       []string `json:"args"`       // redacted
	PID        int      `json:"pid"`        // 0 while stopped
	PGID       int      `json:"pgid"`
	StartTime  uint64   `json:"startTime"`

	rawArgs []string
	env     []string
	proc    *process.Proc
}

// HasNodes reports whether deploying p (plus extra server args) starts
// nodes: the server's own agent (unless --disable-agent) or any agent. Such
// a cluster runs on simulated hosts (root needed) and its nodes import the
// image tarballs (Options.ImageTarballs).
func HasNodes(p *profile.Profile, extraServerArgs ...string) bool {
	if p == nil {
		return true // the defaults: K3s runs an agent
	}
	args := append(slices.Clone(p.Spec.Server.Args), extraServerArgs...)
	return p.Spec.Nodes.Agents > 0 || !boolFlag(args, "--disable-agent")
}

// WantNodes is how many nodes the cluster has: the server's own (unless
// its agent is disabled) and the agents.
func (c *Cluster) WantNodes() int {
	n := len(c.Agents)
	if c.ServerAgent {
		n++
	}
	return n
}

// NodeNames are the cluster's node names, node0 (the server's) first.
func (c *Cluster) NodeNames() []string {
	var out []string
	if c.ServerAgent {
		out = append(out, nodeName(0))
	}
	for _, a := range c.Agents {
		out = append(out, a.Name)
	}
	return out
}

func nodeName(i int) string { return "node" + strconv.Itoa(i) }

func (c *Cluster) cgroupRoot(i int) string {
	return cgroupParent + "/" + c.Network.ID + "-" + nodeName(i)
}

// cgroupRoots are every node's kubelet cgroup root (the server's cgroup
// root also when it runs no agent: its own cgroup is there).
func (c *Cluster) cgroupRoots() []string {
	var out []string
	switch {
	case c.ServerCgroupRoot != "":
		out = append(out, c.ServerCgroupRoot)
	case c.ServerCgroup != "":
		out = append(out, path.Dir(c.ServerCgroup))
	}
	for _, a := range c.Agents {
		out = append(out, a.CgroupRoot)
	}
	return out
}

func checkSimulationPrereqs() error {
	if os.Geteuid() != 0 {
		return errors.New("nodes run on simulated hosts (network namespaces), which needs root: run as root, or pass --disable-agent in the server args and use no agents for a server-only cluster")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		return fmt.Errorf("nsenter not found (it starts each node inside its network namespace): install util-linux: %w", err)
	}
	return nil
}

// createNetwork plans the simulated network (node 0 = the server, then one
// host per agent), records it in the state file before creating anything,
// then creates it.
func (c *Cluster) createNetwork(agents int) error {
	nw, err := netns.Plan(agents + 1)
	if err != nil {
		return err
	}
	c.Network = nw
	if c.ServerAgent {
		c.ServerCgroupRoot = c.cgroupRoot(0)
	}
	c.ServerCgroup = c.cgroupRoot(0) + "/" + ownCgroup
	if err := c.writeState(); err != nil {
		return err
	}
	c.say(fmt.Sprintf("creating %d simulated hosts on %s (bridge %s)", len(nw.Hosts), nw.Subnet, nw.Bridge))
	return nw.Create(c.log)
}

// NodesBase is where the nodes of simulated hosts keep their data dirs. Not
// under the run directory: a kubelet and containerd create unix sockets deep
// inside their data dir (e.g. agent/kubelet/pod-resources/<n>), and a unix
// socket path may not exceed 107 bytes, which a run directory inside a deep
// checkout easily breaks. The run directory links to it ("nodes"); down
// keeps the nodes' logs in the run directory and removes the data.
const NodesBase = "/var/lib/distrobench/nodes"

// createNodesDir makes NodesBase/<network ID> and points the server's data
// dir at its node0.
func (c *Cluster) createNodesDir() error {
	c.NodesDir = filepath.Join(NodesBase, c.Network.ID)
	c.DataDir = filepath.Join(c.NodesDir, nodeName(0))
	if err := os.MkdirAll(c.NodesDir, 0o700); err != nil {
		return fmt.Errorf("create the nodes' data directory: %w", err)
	}
	if err := atomicfile.Symlink(c.NodesDir, filepath.Join(c.RunDir, "nodes")); err != nil {
		return err
	}
	return c.writeState()
}

// nodeServerArgs are the server flags for running on host 0.
func (c *Cluster) nodeServerArgs() []string {
	h := c.Network.Hosts[0]
	args := []string{
		// The namespace is the server's own: listen on every address in it,
		// so the server's kubelet may use loopback and the harness and the
		// agents the bridge address.
		"--bind-address", "0.0.0.0",
		"--advertise-address", h.IP,
		"--tls-san", h.IP,
		"--node-ip", h.IP,
		"--node-name", nodeName(0),
	}
	if c.proxyAgents {
		// The agents dial the counting proxy on the gateway and verify
		// the server's certificate against that address (proxies.go).
		args = append(args, "--tls-san", c.Network.Gateway)
	}
	if c.ServerAgent {
		args = append(args, "--kubelet-arg", "cgroup-root="+c.ServerCgroupRoot)
	}
	if c.RegistriesFile != "" {
		// A server-side flag: every node serves its own images to its
		// containerd (agents learn it when they join).
		args = append(args, "--embedded-registry")
		args = append(args, c.registryArgs()...)
	}
	return args
}

// RegistriesFile is the registries.yaml (K3s's --private-registry) the
// harness writes into the run directory for a cluster with nodes.
const RegistriesFile = "registries.yaml"

// MirroredRegistries are the registries every node's embedded registry
// mirror stands in for: where the images of the upstream conformance
// suite and of the cluster's own pieces come from.
var MirroredRegistries = []string{"registry.k8s.io", "docker.io"}

// registriesYAML mirrors MirroredRegistries with no endpoint of their own:
// with --embedded-registry each node's mirror of its own containerd is the
// only endpoint, and with --disable-default-registry-endpoint the
// registries themselves are never contacted. So a pull (imagePullPolicy
// Always included) of an image a node holds succeeds, and a pull of any
// other image fails at once with "not found": no traffic leaves the
// machine.
func registriesYAML() []byte {
	var b strings.Builder
	b.WriteString("# Written by distrobench for this run (K3s's registries.yaml, --private-registry).\n")
	b.WriteString("# Every node's embedded registry mirror (--embedded-registry) is the only endpoint:\n")
	b.WriteString("# images come from the nodes' imported tarballs, never from the network.\n")
	b.WriteString("mirrors:\n")
	for _, r := range MirroredRegistries {
		b.WriteString("  " + r + ": {}\n")
	}
	return []byte(b.String())
}

// writeRegistries writes RUN/registries.yaml and records it.
func (c *Cluster) writeRegistries() error {
	f := filepath.Join(c.RunDir, RegistriesFile)
	if err := atomicfile.Write(f, registriesYAML(), 0o644); err != nil {
		return fmt.Errorf("write the nodes' registries.yaml: %w", err)
	}
	c.RegistriesFile = f
	return nil
}

// registryArgs are the registry flags of every node (K3s's flags, which
// k3lite, k3s and rke2 all take): the run's registries.yaml, and no
// fallback to the registries themselves. They come before the profile's
// args, so a profile may override them.
func (c *Cluster) registryArgs() []string {
	if c.RegistriesFile == "" {
		return nil
	}
	return []string{"--private-registry", c.RegistriesFile, "--disable-default-registry-endpoint"}
}

// prepareAgents fills c.Agents (node1..nodeN on hosts 1..N).
func (c *Cluster) prepareAgents(p *profile.Profile, n int) error {
	tokenFile := filepath.Join(c.DataDir, "server", "node-token")
	for i := 1; i <= n; i++ {
		h := c.Network.Hosts[i]
		a := &Agent{
			Name:       nodeName(i),
			Host:       h.Name,
			IP:         h.IP,
			DataDir:    filepath.Join(c.NodesDir, nodeName(i)),
			LogPath:    filepath.Join(c.RunDir, nodeName(i)+".log"),
			CgroupRoot: c.cgroupRoot(i),
			Cgroup:     c.cgroupRoot(i) + "/" + ownCgroup,
		}
		a.rawArgs = []string{"agent",
			"--server", c.agentServerURL(),
			"--token-file", tokenFile,
			"--data-dir", a.DataDir,
			"--node-name", a.Name,
			"--node-ip", a.IP,
			"--kubelet-arg", "cgroup-root=" + a.CgroupRoot,
		}
		a.rawArgs = append(a.rawArgs, c.registryArgs()...)
		a.rawArgs = append(a.rawArgs, p.ExpandArgs(p.Spec.Agent.Args, a.DataDir, c.RunDir)...)
		a.Args = c.redactArgs(a.rawArgs)
		a.env = append(envList(p.Spec.Agent.Env), runDirEnv+"="+c.RunDir)
		if err := os.MkdirAll(a.DataDir, 0o700); err != nil {
			return fmt.Errorf("create %s data directory: %w", a.Name, err)
		}
		c.Agents = append(c.Agents, a)
	}
	return c.writeState()
}

// nodeDataDirs are the data dirs of every node that runs an agent.
func (c *Cluster) nodeDataDirs() []string {
	var out []string
	if c.ServerAgent {
		out = append(out, c.DataDir)
	}
	for _, a := range c.Agents {
		out = append(out, a.DataDir)
	}
	return out
}

// placeImages puts every image tarball into each node's
// <data-dir>/agent/images/, hard-linked when on the same file system (the
// tarballs are large and read-only), copied otherwise.
func (c *Cluster) placeImages(tarballs []string) error {
	if len(tarballs) == 0 {
		return nil
	}
	c.say(fmt.Sprintf("placing %d image tarballs on %d nodes", len(tarballs), len(c.nodeDataDirs())))
	for _, dir := range c.nodeDataDirs() {
		imgDir := filepath.Join(dir, "agent", "images")
		if err := os.MkdirAll(imgDir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", imgDir, err)
		}
		for _, tb := range tarballs {
			if err := linkOrCopy(tb, filepath.Join(imgDir, filepath.Base(tb))); err != nil {
				return fmt.Errorf("image tarball %s: %w (build the images with 'distrobench images')", tb, err)
			}
		}
	}
	return nil
}

func linkOrCopy(src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return err
	}
	_ = os.Remove(dst)
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// startNodes starts every agent and waits until every node is Ready.
func (c *Cluster) startNodes(ctx context.Context) error {
	if len(c.Agents) > 0 {
		tokenFile := filepath.Join(c.DataDir, "server", "node-token")
		if _, err := os.Stat(tokenFile); err != nil {
			return fmt.Errorf("the server is ready but wrote no node token (%s): agents cannot join: %w%s", tokenFile, err, c.tailNote())
		}
	}
	for _, a := range c.Agents {
		if err := c.startAgent(ctx, a); err != nil {
			return err
		}
	}
	if c.WantNodes() == 0 {
		return nil
	}
	if err := c.waitNodes(ctx); err != nil {
		return err
	}
	c.NodesReadyAfter = time.Since(c.StartedAt)
	c.say(fmt.Sprintf("%d nodes ready after %.1fs", c.WantNodes(), c.NodesReadyAfter.Seconds()))
	return nil
}

func (c *Cluster) startAgent(ctx context.Context, a *Agent) error {
	c.say(fmt.Sprintf("starting agent %s (%s)", a.Name, a.IP))
	var h netns.Host
	for _, hh := range c.Network.Hosts {
		if hh.Name == a.Host {
			h = hh
		}
	}
	if err := createCgroup(a.Cgroup); err != nil {
		return fmt.Errorf("agent %s: %w", a.Name, err)
	}
	bin, args := h.Command(c.Binary, a.rawArgs...)
	p, err := c.group.Start(ctx, process.Spec{Name: a.Name, Path: bin, Args: args, Env: a.env, LogPath: a.LogPath, Cgroup: a.Cgroup})
	if err != nil {
		return err
	}
	a.proc = p
	a.PID, a.PGID = p.PID, p.PGID
	a.StartTime, _ = process.StartTime(p.PID)
	if err := c.writeState(); err != nil {
		c.log.Warn("could not record the agent in the state file", "agent", a.Name, "err", err)
	}
	return nil
}

// createCgroup creates a node's own cgroup in the hierarchy that accounts
// CPU time ("" creates nothing).
func createCgroup(p string) error {
	if p == "" {
		return nil
	}
	h, err := cgroup.CPU()
	if err != nil {
		return err
	}
	return h.Create(p)
}

// NodeCgroup says where one running node's processes are accounted.
type NodeCgroup struct {
	// Node is the node's name; "server" for a server that runs no agent.
	Node string
	// PID is the server or agent process.
	PID int
	// Server is true for the server's own node (or the server alone).
	Server bool
	// Cgroup is the node's own cgroup, which its first process was started
	// in ("" when the server runs on the machine itself: no cgroup).
	Cgroup string
	// Pods is the cgroup the node's kubelet puts its pods under ("" when
	// the node runs no kubelet).
	Pods string
}

// NodeCgroups lists the running server and agents and their cgroups, the
// server first.
func (c *Cluster) NodeCgroups() []NodeCgroup {
	var out []NodeCgroup
	if c.ServerPID > 0 {
		s := NodeCgroup{Node: "server", PID: c.ServerPID, Server: true, Cgroup: c.ServerCgroup}
		if c.ServerAgent {
			s.Node = nodeName(0)
			s.Pods = c.ServerCgroupRoot + "/" + podsCgroup
		}
		out = append(out, s)
	}
	for _, a := range c.Agents {
		if a.PID > 0 {
			out = append(out, NodeCgroup{Node: a.Name, PID: a.PID, Cgroup: a.Cgroup, Pods: a.CgroupRoot + "/" + podsCgroup})
		}
	}
	return out
}

// waitNodes polls the node list until WantNodes nodes are Ready, printing
// a progress line whenever the count changes. An agent or server that exits
// ends the wait with its log tail.
func (c *Cluster) waitNodes(ctx context.Context) error {
	want := c.WantNodes()
	c.say(fmt.Sprintf("waiting for %d nodes to be Ready", want))
	cfg, err := c.RESTConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 5 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(c.ReadyTimeout)
	lastMsg, last := "", ""
	for {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		nodes, err := cs.CoreV1().Nodes().List(lctx, metav1.ListOptions{})
		cancel()
		if err != nil {
			last = c.mask(err.Error())
		} else {
			ready := readyNodes(nodes.Items)
			var missing []string
			for _, n := range c.NodeNames() {
				if !slices.Contains(ready, n) {
					missing = append(missing, n)
				}
			}
			if len(missing) == 0 {
				return nil
			}
			last = fmt.Sprintf("%d/%d nodes Ready (waiting for %s)", want-len(missing), want, strings.Join(missing, ", "))
			if last != lastMsg {
				c.say(last)
				lastMsg = last
			}
		}
		if c.server != nil {
			if exited, code := c.server.Exited(); exited {
				return fmt.Errorf("the server exited with code %d while waiting for nodes%s", code, c.tailNote())
			}
		}
		for _, a := range c.Agents {
			if a.proc == nil {
				continue
			}
			if exited, code := a.proc.Exited(); exited {
				return fmt.Errorf("agent %s exited with code %d%s", a.Name, code, c.agentTailNote(a))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cancelled while waiting for nodes: %w", ctx.Err())
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			notes := c.tailNote()
			for _, a := range c.Agents {
				notes += c.agentTailNote(a)
			}
			return fmt.Errorf("nodes not Ready within %s (spec.timeouts.ready): %s%s", c.ReadyTimeout, last, notes)
		}
	}
}

func readyNodes(nodes []corev1.Node) []string {
	var out []string
	for _, n := range nodes {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				out = append(out, n.Name)
			}
		}
	}
	return out
}

func (c *Cluster) agentTailNote(a *Agent) string {
	lines := process.Tail(a.LogPath, tailLines)
	for i := range lines {
		lines[i] = c.mask(lines[i])
	}
	if len(lines) == 0 {
		return fmt.Sprintf("\nthe %s log %s is empty", a.Name, a.LogPath)
	}
	return fmt.Sprintf("\nlast %d lines of the %s log (full log: %s):\n  %s", len(lines), a.Name, a.LogPath, strings.Join(lines, "\n  "))
}

func (c *Cluster) agentsRunning() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, a := range c.Agents {
		switch {
		case a.proc != nil:
			if exited, _ := a.proc.Exited(); !exited {
				n++
			}
		case c.loaded && a.PID > 0 && process.Alive(a.PID):
			if st, err := process.StartTime(a.PID); err == nil && (a.StartTime == 0 || st == a.StartTime) {
				n++
			}
		}
	}
	return n
}

func (c *Cluster) agent(name string) (*Agent, error) {
	for _, a := range c.Agents {
		if a.Name == name {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no agent %q in this cluster (agents: %s)", name, strings.Join(c.NodeNames(), ", "))
}

// StopAgent stops one agent (SIGTERM to its process group, the stop
// timeout, then SIGKILL) and reports its exit code and how long it took
// until every process of its tree (containerd included) had exited;
// processes that had to be killed make it an error. Its pods keep
// running, as with K3s: containerd shims and containers left the agent's
// tree when they started, and live until Down.
func (c *Cluster) StopAgent(ctx context.Context, name string) (exitCode int, took time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	a, err := c.agent(name)
	if err != nil {
		return 0, 0, err
	}
	if a.proc == nil {
		if c.loaded {
			return 0, 0, errors.New("stop agent: this cluster was loaded from its state file; use Down")
		}
		return 0, 0, fmt.Errorf("stop agent %s: not running", name)
	}
	s, err := a.proc.Terminate(c.StopTimeout)
	a.proc = nil
	a.PID, a.StartTime = 0, 0
	if err == nil {
		err = killedError("agent "+name, s, c.StopTimeout, a.LogPath)
	}
	if werr := c.writeState(); werr != nil && err == nil {
		err = werr
	}
	return s.ExitCode, s.Took, err
}

// StartAgent starts a stopped agent again with the same arguments; it does
// not wait for its node to be Ready (poll the node list for that).
func (c *Cluster) StartAgent(ctx context.Context, name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return errors.New("start agent: this cluster was loaded from its state file; start a new one with Up")
	}
	a, err := c.agent(name)
	if err != nil {
		return err
	}
	if a.proc != nil {
		if exited, _ := a.proc.Exited(); !exited {
			return fmt.Errorf("start agent %s: already running", name)
		}
	}
	return c.startAgent(ctx, a)
}

// pointKubeconfig writes dst: src with every cluster's server set to url
// (the server's address on the bridge instead of its loopback).
func pointKubeconfig(src, dst, url string) error {
	cfg, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", src, err)
	}
	if len(cfg.Clusters) == 0 {
		return fmt.Errorf("kubeconfig %s has no cluster yet", src)
	}
	for _, cl := range cfg.Clusters {
		cl.Server = url
	}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", dst, err)
	}
	if err := atomicfile.Write(dst, b, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", dst, err)
	}
	return nil
}

// boolFlag reports whether a K3s boolean flag is set (true) in args:
// "--flag", "--flag=true"; "--flag=false" unsets it; the last one wins.
func boolFlag(args []string, flag string) bool {
	on := false
	for _, a := range args {
		name, val, hasVal := strings.Cut(a, "=")
		if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") {
			name = "-" + name
		}
		if name != flag {
			continue
		}
		if !hasVal {
			on = true
			continue
		}
		b, err := strconv.ParseBool(val)
		on = err == nil && b
	}
	return on
}
