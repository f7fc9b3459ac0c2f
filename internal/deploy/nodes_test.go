package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/cgroup"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/netns"
	"github.com/distrobench/distrobench/internal/profile"
)

func TestBoolFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--disable-agent"}, true},
		{[]string{"-disable-agent"}, true},
		{[]string{"--disable-agent=true"}, true},
		{[]string{"--disable-agent", "--disable-agent=false"}, false},
		{[]string{"--disable-agents"}, false},
		{[]string{"--kube-apiserver-arg", "disable-agent"}, false},
	} {
		if got := boolFlag(tt.args, "--disable-agent"); got != tt.want {
			t.Errorf("boolFlag(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestUnescapeMount(t *testing.T) {
	if got := unescapeMount(`/run/a\040b\134c`); got != `/run/a b\c` {
		t.Errorf("unescapeMount = %q", got)
	}
}

func TestInCgroups(t *testing.T) {
	f := filepath.Join(t.TempDir(), "cgroup")
	if err := os.WriteFile(f, []byte("4:memory:/k3lite/db12ab-node1/kubepods/pod1\n3:cpu:/\n0::/\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !inCgroups(f, []string{"/k3lite/db12ab-node1"}) {
		t.Error("a process below the node's cgroup root was not matched")
	}
	if inCgroups(f, []string{"/k3lite/db12ab-node"}) || inCgroups(f, []string{"/k3lite/db99ff-node1"}) || inCgroups(f, nil) {
		t.Error("matched another run's or a prefix-sharing cgroup root")
	}
}

func TestNodesNeedNoRootWhenServerOnly(t *testing.T) {
	// --disable-agent and no agents: the server runs in the root namespace
	// on loopback, as before simulated hosts existed.
	c := up(t, Options{Profile: testProfile(nil)})
	if c.Network != nil || c.WantNodes() != 0 || !strings.HasPrefix(c.ServerURL, "https://127.0.0.1:") {
		t.Errorf("server-only cluster: network %+v, %d nodes, server %s", c.Network, c.WantNodes(), c.ServerURL)
	}
}

// nodesProfile is the fake server with its own node and n fake agents.
func nodesProfile(n int, agentEnv map[string]string) *profile.Profile {
	p := &profile.Profile{}
	p.Metadata.Name = "fake-nodes"
	p.Spec.Binary = fakeServer
	p.Spec.Agent.Args = []string{"--node-label=role=${RUN_DIR}"}
	p.Spec.Agent.Env = agentEnv
	p.Spec.Nodes.Agents = n
	p.Spec.Timeouts.Ready = "30s"
	p.Spec.Timeouts.Stop = "5s"
	p.SetDefaults()
	return p
}

// hostSnapshot is the machine's own network configuration.
func hostSnapshot(t *testing.T) netns.Snapshot {
	t.Helper()
	snap, err := netns.HostSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func diffSnapshots(t *testing.T, before, after netns.Snapshot) {
	t.Helper()
	for _, d := range before.Diff(after) {
		t.Errorf("the machine's network changed: %s", d)
	}
}

func readFakeNode(t *testing.T, dataDir string) FakeNodeRecord {
	t.Helper()
	var rec FakeNodeRecord
	b, err := os.ReadFile(filepath.Join(dataDir, "fakenode.json"))
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		t.Fatalf("fake node record in %s: %v", dataDir, err)
	}
	return rec
}

// FakeNodeRecord mirrors testdata/fakeserver's FakeNode.
type FakeNodeRecord struct {
	Name         string   `json:"name"`
	IP           string   `json:"ip"`
	ContainerPID int      `json:"containerPID"`
	ShimPID      int      `json:"shimPID"`
	Mounts       []string `json:"mounts"`
	Cgroups      []string `json:"cgroups"`
	Firewall     []string `json:"firewall"`
}

// runLeftovers lists live processes that mention the run directory in
// their command line or environment, or live in one of the run's cgroups.
func runLeftovers(runDir string, cgroupRoots []string) []string {
	var left []string
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		base := filepath.Join("/proc", e.Name())
		if e.Name() == fmt.Sprint(self) || zombie(base) {
			continue
		}
		cl, err := os.ReadFile(filepath.Join(base, "cmdline"))
		if err != nil {
			continue
		}
		env, _ := os.ReadFile(filepath.Join(base, "environ"))
		if bytes.Contains(cl, []byte(runDir)) || bytes.Contains(env, []byte(runDir)) || inCgroups(filepath.Join(base, "cgroup"), cgroupRoots) {
			left = append(left, e.Name()+": "+strings.ReplaceAll(string(cl), "\x00", " "))
		}
	}
	return left
}

func get(ctx context.Context, url string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// inNamespace runs a command inside a host's namespace.
func inNamespace(t *testing.T, h netns.Host, name string, args ...string) string {
	t.Helper()
	path, argv := h.Command(name, args...)
	out, err := exec.Command(path, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in %s: %v: %s", name, h.Name, err, out)
	}
	return string(out)
}

// TestNodesUpDownLeaveHostUnchanged deploys the fake server with its own
// node and two fake agents on simulated hosts, checks the hosts reach each
// other and the harness reaches them, then takes the cluster down from its
// state file (as another 'distrobench down' would) and checks that the
// machine's network is as before and nothing of the run is left.
func TestNodesUpDownLeaveHostUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces, a bridge, mounts and cgroups (needs root, iproute2, iptables, nftables)")
	}
	before := hostSnapshot(t)

	img := t.TempDir()
	var tarballs []string
	for _, n := range []string{"pause.tar", "busybox.tar"} {
		tb := filepath.Join(img, n)
		if err := os.WriteFile(tb, []byte("image "+n), 0o644); err != nil {
			t.Fatal(err)
		}
		tarballs = append(tarballs, tb)
	}
	var msgs []string
	runDir := filepath.Join(t.TempDir(), "run")
	apiReady, agentsAtAPIReady := 0, 0
	c, err := Up(context.Background(), Options{
		Profile: nodesProfile(2, nil), RunDir: runDir, ImageTarballs: tarballs,
		Progress: func(m string) { msgs = append(msgs, m) },
		APIReady: func(c *Cluster) {
			apiReady++
			agentsAtAPIReady = 2 - len(c.Agents) + c.agentsRunning()
		},
	})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if apiReady != 1 || agentsAtAPIReady != 0 {
		t.Errorf("APIReady called %d times with %d agents started or missing; want once, before any agent starts", apiReady, agentsAtAPIReady)
	}
	downed := false
	t.Cleanup(func() {
		if !downed {
			_ = c.Down(context.Background())
		}
	})
	nw := c.Network
	if nw == nil || len(nw.Hosts) != 3 || !c.ServerAgent || len(c.Agents) != 2 {
		t.Fatalf("cluster: network %+v, server agent %v, agents %d; want 3 hosts, server agent, 2 agents", nw, c.ServerAgent, len(c.Agents))
	}
	if c.ServerURL != "https://"+nw.Hosts[0].IP+":6443" {
		t.Errorf("ServerURL %s, want the server's bridge address", c.ServerURL)
	}
	if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "3 nodes ready") }) {
		t.Errorf("no progress line about the nodes being ready: %q", msgs)
	}
	st := c.Status(context.Background())
	if !st.Ready || st.Nodes != 3 || st.ReadyNodes != 3 || st.WantNodes != 3 || st.AgentsRunning != 2 {
		t.Errorf("Status = %+v, want 3 of 3 nodes ready, 2 agents running", st)
	}
	// The agents' arguments: joined to the server's bridge address with the
	// server's node token, each with its own IP and cgroup root.
	for i, a := range c.Agents {
		h := nw.Hosts[i+1]
		want := []string{"agent", "--server", c.ServerURL, "--token-file", filepath.Join(c.DataDir, "server", "node-token"),
			"--data-dir", filepath.Join(c.NodesDir, a.Name), "--node-name", a.Name, "--node-ip", h.IP,
			"--kubelet-arg", "cgroup-root=/k3lite/" + nw.ID + "-" + a.Name,
			"--private-registry", filepath.Join(c.RunDir, "registries.yaml"), "--disable-default-registry-endpoint",
			"--node-label=role=" + c.RunDir}
		if !slices.Equal(a.Args, want) {
			t.Errorf("agent %d args\n got %q\nwant %q", i+1, a.Args, want)
		}
	}
	for _, flag := range []string{"--node-ip", "--advertise-address", "--tls-san"} {
		if got := serverArg(t, c, flag); got != nw.Hosts[0].IP {
			t.Errorf("server %s = %q, want %s", flag, got, nw.Hosts[0].IP)
		}
	}
	if got := serverArg(t, c, "--kubelet-arg"); got != "cgroup-root=/k3lite/"+nw.ID+"-node0" {
		t.Errorf("server --kubelet-arg = %q", got)
	}
	// Every node pulls through its own embedded registry mirror only.
	if got := serverArg(t, c, "--private-registry"); got != c.RegistriesFile || c.RegistriesFile != filepath.Join(c.RunDir, "registries.yaml") {
		t.Errorf("server --private-registry = %q, registries file %q", got, c.RegistriesFile)
	}
	if sa := serverArgs(t, c); !slices.Contains(sa, "--embedded-registry") || !slices.Contains(sa, "--disable-default-registry-endpoint") {
		t.Errorf("server args %q lack --embedded-registry and --disable-default-registry-endpoint", sa)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var recs []FakeNodeRecord
	var mounts, cgroups []string
	for i, dir := range []string{c.DataDir, c.Agents[0].DataDir, c.Agents[1].DataDir} {
		h := nw.Hosts[i]
		rec := readFakeNode(t, dir)
		recs = append(recs, rec)
		mounts = append(mounts, rec.Mounts...)
		cgroups = append(cgroups, rec.Cgroups...)
		// The harness (root namespace) reaches every node's IP.
		if body, err := get(ctx, "http://"+net.JoinHostPort(h.IP, "10250")+"/"); err != nil || body != "node "+rec.Name {
			t.Errorf("root namespace -> %s: %q, %v", h.IP, body, err)
		}
		// Every node reaches every other node.
		for j, other := range nw.Hosts {
			if j == i {
				continue
			}
			conn, err := h.Dial(ctx, net.JoinHostPort(other.IP, "10250"))
			if err != nil {
				t.Errorf("node %d -> node %d: %v", i, j, err)
				continue
			}
			conn.Close()
		}
		// Firewall rules were added inside the node's namespace only.
		if len(rec.Firewall) != 2 {
			t.Errorf("fake node %s added %q, want an nft table and an iptables chain", rec.Name, rec.Firewall)
		}
		if out := inNamespace(t, h, "nft", "list", "tables"); !strings.Contains(out, "distrobench_fake") {
			t.Errorf("nft tables in %s: %q", h.Name, out)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "agent", "images", "pause.tar")); err != nil || string(b) != "image pause.tar" {
			t.Errorf("image tarball not placed in %s: %q, %v", dir, b, err)
		}
	}
	// Nothing of it in the root namespace, while the cluster runs.
	if out, _ := exec.Command("nft", "list", "tables").CombinedOutput(); strings.Contains(string(out), "distrobench_fake") {
		t.Error("a node's nft table is visible in the root namespace")
	}
	if len(mounts) != 6 || len(cgroups) == 0 {
		t.Fatalf("fake nodes made mounts %q cgroups %q", mounts, cgroups)
	}
	// Every node's process and its shim (double-forked, re-parented to
	// init) are members of the node's own cgroup, which accounts their CPU.
	own := assertNodeCgroups(t, c, recs)

	// Down from the state file, as 'distrobench down' in another process.
	loaded, err := Load(c.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Down(context.Background()); err != nil {
		t.Fatalf("Down: %v", err)
	}
	// The original handle's processes are gone; its Down must be a no-op.
	downed = true
	_ = c.Down(context.Background())

	for _, rec := range recs {
		assertGone(t, "container of "+rec.Name, rec.ContainerPID)
		assertGone(t, "shim of "+rec.Name, rec.ShimPID)
	}
	if _, err := os.Stat(c.NodesDir); !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(c.NodesDir, NodesBase+"/") {
		t.Errorf("the nodes' data %q must be removed by down: %v", c.NodesDir, err)
	}
	if left := runLeftovers(c.RunDir, c.cgroupRoots()); len(left) > 0 {
		t.Errorf("processes of the run left after Down:\n  %s", strings.Join(left, "\n  "))
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); bytes.Contains(b, []byte(c.RunDir)) {
		t.Errorf("mounts under %s left after Down", c.RunDir)
	}
	for _, cg := range append(cgroups, own...) {
		if _, err := os.Stat(cg); err == nil {
			t.Errorf("cgroup %s left after Down", cg)
		}
	}
	for _, h := range nw.Hosts {
		if h.Exists() {
			t.Errorf("namespace %s left after Down", h.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(c.RunDir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file left after Down: %v", err)
	}
	diffSnapshots(t, before, hostSnapshot(t))
	if err := loaded.Down(context.Background()); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

// assertNodeCgroups checks that every node's process and its fake shim
// are members of the node's own cgroup, and returns those cgroups'
// directories.
func assertNodeCgroups(t *testing.T, c *Cluster, recs []FakeNodeRecord) []string {
	t.Helper()
	h, err := cgroup.CPU()
	if err != nil {
		t.Fatal(err)
	}
	nodes := c.NodeCgroups()
	if len(nodes) != len(recs) {
		t.Fatalf("NodeCgroups = %+v, want one per node (%d)", nodes, len(recs))
	}
	var dirs []string
	for i, n := range nodes {
		if n.Cgroup == "" || n.Pods != path.Dir(n.Cgroup)+"/kubepods" || n.Server != (i == 0) {
			t.Errorf("node %d: %+v, want its own cgroup beside the kubelet's pods", i, n)
			continue
		}
		members, err := h.Procs(n.Cgroup)
		if err != nil {
			t.Errorf("node %s: %v", n.Node, err)
			continue
		}
		if !slices.Contains(members, n.PID) || !slices.Contains(members, recs[i].ShimPID) {
			t.Errorf("node %s: members of %s = %v, want its process %d and its shim %d", n.Node, n.Cgroup, members, n.PID, recs[i].ShimPID)
		}
		dirs = append(dirs, h.Dir(n.Cgroup))
	}
	return dirs
}

// TestNodesAgentFailureCleansUp: an agent that exits fails Up with its log
// tail, and Up removes everything it made.
func TestNodesAgentFailureCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces (needs root)")
	}
	before := hostSnapshot(t)
	cgBefore, _ := filepath.Glob("/sys/fs/cgroup/*/k3lite/db*")
	runDir := filepath.Join(t.TempDir(), "run")
	_, err := Up(context.Background(), Options{Profile: nodesProfile(1, map[string]string{"FAKEAGENT_EXIT": "4"}), RunDir: runDir})
	if err == nil || !strings.Contains(err.Error(), "agent node1 exited with code 4") || !strings.Contains(err.Error(), "exiting with 4 as told") {
		t.Fatalf("Up with a failing agent: %v; want the agent's exit code and log tail", err)
	}
	if left := runLeftovers(runDir, nil); len(left) > 0 {
		t.Errorf("processes left after a failed Up:\n  %s", strings.Join(left, "\n  "))
	}
	if _, err := os.Stat(filepath.Join(runDir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file left after a failed Up: %v", err)
	}
	// The server's fake container lived in node0's cgroup, which only the
	// (now deleted) state knew: no run's cgroup may have appeared.
	if cgAfter, _ := filepath.Glob("/sys/fs/cgroup/*/k3lite/db*"); !slices.Equal(cgBefore, cgAfter) {
		t.Errorf("cgroups changed by a failed Up:\nbefore %q\nafter  %q", cgBefore, cgAfter)
	}
	diffSnapshots(t, before, hostSnapshot(t))
}

// TestNodesDownAfterCrash: the harness dies right after Up (nothing
// stopped); a later Down from the state file still removes everything.
func TestNodesDownAfterCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces (needs root)")
	}
	before := hostSnapshot(t)
	c, err := Up(context.Background(), Options{Profile: nodesProfile(1, nil), RunDir: filepath.Join(t.TempDir(), "run")})
	if err != nil {
		t.Fatal(err)
	}
	// Crash: the node processes die abruptly; shims, containers, mounts,
	// cgroups and the network stay.
	for _, pgid := range []int{c.Agents[0].PGID, c.ServerPGID} {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	loaded, err := Load(c.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Down(context.Background()); err != nil {
		t.Fatalf("Down after a crash: %v", err)
	}
	_ = c.Down(context.Background())
	if left := runLeftovers(c.RunDir, c.cgroupRoots()); len(left) > 0 {
		t.Errorf("processes left:\n  %s", strings.Join(left, "\n  "))
	}
	diffSnapshots(t, before, hostSnapshot(t))
}

// TestNodesDatastoreOnLoopback: a server on a simulated host cannot reach
// the machine's loopback. A datastore listening on every address is given
// to the server at the bridge's gateway address; one listening on loopback
// only is refused up front with what to do, and without its password.
func TestNodesDatastoreOnLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates network namespaces (needs root)")
	}
	accept := func(l net.Listener) {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}
	lo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Close()
	go accept(lo)
	p := nodesProfile(0, nil)
	before := hostSnapshot(t)
	_, err = Up(context.Background(), Options{Profile: p, RunDir: t.TempDir(), Datastore: dstype.MySQL,
		Endpoint: fmt.Sprintf("mysql://kine:hunter2@tcp(%s)/kine", lo.Addr())})
	if err == nil || !strings.Contains(err.Error(), "not reachable from the server's simulated host") || !strings.Contains(err.Error(), "must listen on that address") {
		t.Fatalf("Up with a loopback-only datastore: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the datastore password: %v", err)
	}
	diffSnapshots(t, before, hostSnapshot(t))

	all, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	go accept(all)
	port := all.Addr().(*net.TCPAddr).Port
	c := up(t, Options{Profile: p, Datastore: dstype.MySQL, Endpoint: fmt.Sprintf("mysql://kine:hunter2@tcp(127.0.0.1:%d)/kine", port)})
	want := fmt.Sprintf("mysql://kine:hunter2@tcp(%s:%d)/kine", c.Network.Gateway, port)
	if got := received(t, c).Endpoint; got != want {
		t.Errorf("server's datastore endpoint %q, want %q", got, want)
	}
}
