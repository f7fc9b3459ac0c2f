package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/netns"
	"github.com/distrobench/distrobench/internal/profile"
)

func TestChooseHosts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string // server args in the profile
		extra  []string // Options.ExtraServerArgs
		agents int
		want   hosts
	}{
		{"server only", []string{"--disable-agent"}, nil, 0, machineHosts{}},
		{"server only by extra args", nil, []string{"--disable-agent"}, 0, machineHosts{}},
		{"server's own agent", nil, nil, 0, simulatedHosts{agents: 0, serverAgent: true}},
		{"agent re-enabled", []string{"--disable-agent"}, []string{"--disable-agent=false"}, 0, simulatedHosts{serverAgent: true}},
		{"agents only", []string{"--disable-agent"}, nil, 2, simulatedHosts{agents: 2, serverAgent: false}},
		{"server's own agent and agents", nil, nil, 3, simulatedHosts{agents: 3, serverAgent: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &profile.Profile{}
			p.Spec.Server.Args = tc.args
			p.Spec.Nodes.Agents = tc.agents
			got, err := chooseHosts(p, tc.extra)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("chooseHosts = %#v, %v; want %#v", got, err, tc.want)
			}
		})
	}
	for _, n := range []int{-1, profile.MaxAgents + 1} {
		p := &profile.Profile{}
		p.Spec.Nodes.Agents = n
		if h, err := chooseHosts(p, nil); err == nil || !strings.Contains(err.Error(), "spec.nodes.agents") {
			t.Errorf("%d agents: chooseHosts = %#v, %v; want a spec.nodes.agents error", n, h, err)
		}
	}
}

// plannedNetwork is a network of n hosts as netns.Plan lays it out,
// without creating anything.
func plannedNetwork(n int) *netns.Network {
	nw := &netns.Network{ID: "db1234", Bridge: "db1234-br", Subnet: "10.213.7.0/24", Gateway: "10.213.7.1"}
	for i := 0; i < n; i++ {
		nw.Hosts = append(nw.Hosts, netns.Host{Name: fmt.Sprintf("db1234-n%d", i), IP: fmt.Sprintf("10.213.7.%d", 2+i)})
	}
	return nw
}

func TestMachineHostsPlaceTheServerOnLoopback(t *testing.T) {
	c := &Cluster{RunDir: "/run/x"}
	h := machineHosts{}
	ip, port, err := h.serverAddress(c, 0)
	if err != nil || ip != "127.0.0.1" || port <= 0 {
		t.Errorf("serverAddress(0) = %s, %d, %v; want loopback and a free port", ip, port, err)
	}
	if ip, port, _ := h.serverAddress(c, 7443); ip != "127.0.0.1" || port != 7443 {
		t.Errorf("serverAddress(7443) = %s, %d; want the user's port", ip, port)
	}
	args, env, err := h.serverArgs(c, "/run/x/server-token")
	if err != nil || env != nil {
		t.Fatalf("serverArgs: env %q, %v; want no env", env, err)
	}
	if want := []string{"--bind-address", "127.0.0.1", "--token-file", "/run/x/server-token"}; !reflect.DeepEqual(args[:4], want) {
		t.Errorf("serverArgs = %q; want it to start with %q", args, want)
	}
	// The controller-manager and scheduler get free ports of their own.
	if len(args) != 8 || args[4] != "--kube-controller-manager-arg" || args[6] != "--kube-scheduler-arg" ||
		!strings.HasPrefix(args[5], "secure-port=") || args[5] == args[7] {
		t.Errorf("serverArgs = %q; want distinct free component ports", args)
	}
	if extra, err := h.datastoreListen(c); extra != nil || err != nil {
		t.Errorf("datastoreListen = %v, %v; want loopback only", extra, err)
	}
}

func TestSimulatedHostsPlaceTheServerOnNode0(t *testing.T) {
	c := &Cluster{RunDir: "/run/x", Network: plannedNetwork(3), ServerAgent: true, ServerCgroupRoot: "/k3lite/db1234-node0"}
	h := simulatedHosts{agents: 2, serverAgent: true}
	if ip, port, err := h.serverAddress(c, 0); err != nil || ip != "10.213.7.2" || port != defaultHTTPSPort {
		t.Errorf("serverAddress(0) = %s, %d, %v; want node0's address and K3s's port", ip, port, err)
	}
	if _, port, _ := h.serverAddress(c, 7443); port != 7443 {
		t.Errorf("serverAddress(7443) = %d; want the user's port", port)
	}
	args, env, err := h.serverArgs(c, "/run/x/server-token")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"--bind-address", "0.0.0.0", "--advertise-address", "10.213.7.2", "--tls-san", "10.213.7.2",
		"--node-ip", "10.213.7.2", "--node-name", "node0", "--kubelet-arg", "cgroup-root=/k3lite/db1234-node0",
		"--token-file", "/run/x/server-token"}
	if !reflect.DeepEqual(args, want) {
		t.Errorf("serverArgs\n got %q\nwant %q", args, want)
	}
	if want := []string{runDirEnv + "=/run/x"}; !reflect.DeepEqual(env, want) {
		t.Errorf("server env = %q; want %q (so that down finds what the node leaves)", env, want)
	}
	extra, err := h.datastoreListen(c)
	if err != nil || len(extra) != 1 || extra[0].String() != "10.213.7.1/24" {
		t.Errorf("datastoreListen = %v, %v; want the bridge's gateway", extra, err)
	}
}

func TestKubeconfigsPerHosts(t *testing.T) {
	const run = "/run/x"
	for _, tc := range []struct {
		name             string
		h                hosts
		spec             string // spec.kubeconfig
		kubeconfig, srv  string // want c.Kubeconfig, c.ServerKubeconfig
		writeKubeconfigs string // want the server's --write-kubeconfig
	}{
		{"machine", machineHosts{}, "", run + "/kubeconfig.yaml", "", run + "/kubeconfig.yaml"},
		{"machine, spec relative", machineHosts{}, "kc.yaml", run + "/server-data/kc.yaml", "", run + "/server-data/kc.yaml"},
		{"machine, spec absolute", machineHosts{}, "/etc/kc.yaml", "/etc/kc.yaml", "", "/etc/kc.yaml"},
		{"simulated", simulatedHosts{}, "", run + "/kubeconfig.yaml", run + "/server-kubeconfig.yaml", run + "/server-kubeconfig.yaml"},
		{"simulated, spec relative", simulatedHosts{}, "kc.yaml", run + "/kubeconfig.yaml", run + "/server-data/kc.yaml", run + "/server-data/kc.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &profile.Profile{}
			p.Spec.Kubeconfig = tc.spec
			c := &Cluster{RunDir: run, DataDir: filepath.Join(run, "server-data"), Kubeconfig: filepath.Join(run, "kubeconfig.yaml")}
			tc.h.setKubeconfigs(c, specKubeconfig(p, c.DataDir))
			if c.Kubeconfig != tc.kubeconfig || c.ServerKubeconfig != tc.srv {
				t.Errorf("kubeconfig %q, server's %q; want %q, %q", c.Kubeconfig, c.ServerKubeconfig, tc.kubeconfig, tc.srv)
			}
			args := c.baseServerArgs()
			if i := slices.Index(args, "--write-kubeconfig"); i < 0 || args[i+1] != tc.writeKubeconfigs {
				t.Errorf("server args %q; want --write-kubeconfig %s", args, tc.writeKubeconfigs)
			}
		})
	}
}

// recordingHosts runs the server on the machine, as machineHosts does, and
// records each call Up makes with what had started by then; failAt makes
// that call fail.
type recordingHosts struct {
	machineHosts
	c      *Cluster
	calls  []string
	failAt string
	// serverPID is the server's PID at the last call (0: not started).
	serverPID int
}

func (r *recordingHosts) note(what string) error {
	r.serverPID = r.c.ServerPID
	r.calls = append(r.calls, fmt.Sprintf("%s datastore=%v server=%v ready=%v", what, r.c.ds != nil, r.c.server != nil, r.c.ReadyAfter > 0))
	if what == r.failAt {
		return errors.New("injected failure at " + what)
	}
	return nil
}

func (r *recordingHosts) create(*Cluster) error { return r.note("create") }

func (r *recordingHosts) datastoreListen(c *Cluster) ([]netip.Prefix, error) {
	return nil, r.note("datastoreListen")
}

func (r *recordingHosts) serverAddress(c *Cluster, port int) (string, int, error) {
	if err := r.note("serverAddress"); err != nil {
		return "", 0, err
	}
	return r.machineHosts.serverAddress(c, port)
}

func (r *recordingHosts) serverArgs(c *Cluster, tokenFile string) ([]string, []string, error) {
	if err := r.note("serverArgs"); err != nil {
		return nil, nil, err
	}
	return r.machineHosts.serverArgs(c, tokenFile)
}

func (r *recordingHosts) prepareNodes(*Cluster, *profile.Profile, []string) error {
	return r.note("prepareNodes")
}

func (r *recordingHosts) startNodes(context.Context, *Cluster) error { return r.note("startNodes") }

// upWithRecorder plans an Up of the fake server and runs it on a recorder.
func upWithRecorder(t *testing.T, failAt string) (*recordingHosts, *Cluster, error) {
	t.Helper()
	rec := &recordingHosts{failAt: failAt}
	u, err := planUp(Options{Profile: testProfile(nil), RunDir: t.TempDir(), APIReady: func(*Cluster) { _ = rec.note("APIReady") }})
	if err != nil {
		t.Fatal(err)
	}
	rec.c, u.hosts = u.c, rec
	c, err := u.run(context.Background())
	if c != nil {
		t.Cleanup(func() { _ = c.Down(context.Background()) })
	}
	return rec, c, err
}

// TestUpCallsTheHostsInOrder checks when Up calls into the hosts: the
// hosts exist before the datastore starts, the datastore runs before the
// server is placed, the nodes are prepared before the server starts, and
// the agents start only once the server answers (after APIReady).
func TestUpCallsTheHostsInOrder(t *testing.T) {
	rec, c, err := upWithRecorder(t, "")
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	want := []string{
		"create datastore=false server=false ready=false",
		"datastoreListen datastore=false server=false ready=false",
		"serverAddress datastore=true server=false ready=false",
		"serverArgs datastore=true server=false ready=false",
		"prepareNodes datastore=true server=false ready=false",
		"APIReady datastore=true server=true ready=true",
		"startNodes datastore=true server=true ready=true",
	}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", rec.calls, want)
	}
	if c.Network != nil || c.ServerKubeconfig != "" {
		t.Errorf("machine cluster has network %v, server kubeconfig %q", c.Network, c.ServerKubeconfig)
	}
}

// TestUpFailingAfterTheServerTearsDown: a step that fails after the
// server answered (the agents', here) stops the server and its children
// and removes the state file.
func TestUpFailingAfterTheServerTearsDown(t *testing.T) {
	rec, c, err := upWithRecorder(t, "startNodes")
	if err == nil || c != nil || !strings.Contains(err.Error(), "injected failure at startNodes") {
		t.Fatalf("Up = %v, %v; want the injected failure", c, err)
	}
	if rec.serverPID == 0 {
		t.Fatal("the server never started")
	}
	assertGone(t, "after a failed Up", rec.serverPID, childPID(t, rec.c))
	if _, err := os.Stat(filepath.Join(rec.c.RunDir, StateFile)); !os.IsNotExist(err) {
		t.Errorf("state file left after a failed Up: %v", err)
	}
}
