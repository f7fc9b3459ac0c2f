package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/distro/pkg/server"
)

func TestServerNodeFlags(t *testing.T) {
	t.Setenv(EnvNodeNameServer, "from-env")
	o := newServerOptions()
	cmd := newServerCommandWith(o, &bytes.Buffer{})
	err := cmd.Flags().Parse([]string{
		"--cluster-dns", "10.43.0.53", "--cluster-domain", "k3lite.test", "--flannel-backend", "host-gw",
		"--disable", "coredns", "--disable", "coredns,", "--node-ip", "192.0.2.4",
		"--node-label", "a=b", "--node-label", "c=d,e", "--node-taint", "k=v:NoSchedule", "--with-node-id",
		"--kubelet-arg", "cgroup-root=/k3lite/s", "--kubelet-arg", "eviction-hard=memory.available<1%,nodefs.available<1%",
		"--kube-proxy-arg", "proxy-mode=nftables",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.complete(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.ClusterDNS != "10.43.0.53" || c.ClusterDomain != "k3lite.test" || c.FlannelBackend != "host-gw" {
		t.Errorf("networking flags: %q %q %q", c.ClusterDNS, c.ClusterDomain, c.FlannelBackend)
	}
	if !slices.Equal(c.Disable, []string{"coredns", "coredns", ""}) {
		t.Errorf("--disable %q: want the comma-split values (deduplicated later)", c.Disable)
	}
	a := c.Agent
	if a.NodeName != "from-env" {
		t.Errorf("node name %q: %s must fill an unset --node-name", a.NodeName, EnvNodeNameServer)
	}
	if !a.WithNodeID || !slices.Equal(a.NodeLabels, []string{"a=b", "c=d,e"}) || !slices.Equal(a.NodeTaints, []string{"k=v:NoSchedule"}) {
		t.Errorf("agent flags %+v", a)
	}
	if !slices.Equal(a.KubeletArgs, []string{"cgroup-root=/k3lite/s", "eviction-hard=memory.available<1%,nodefs.available<1%"}) {
		t.Errorf("--kubelet-arg must keep commas inside a value: %q", a.KubeletArgs)
	}
	if !slices.Equal(a.KubeProxyArgs, []string{"proxy-mode=nftables"}) || !slices.Equal(c.NodeIPs, []string{"192.0.2.4"}) {
		t.Errorf("kube-proxy args %q, node IPs %q", a.KubeProxyArgs, c.NodeIPs)
	}
	if c.RunAgent == nil {
		t.Error("k3lite server has no agent runner")
	}
	if err := c.Validate(); err != nil {
		t.Errorf("valid flags refused: %v", err)
	}

	o = newServerOptions()
	cmd = newServerCommandWith(o, &bytes.Buffer{})
	if err := cmd.Flags().Parse([]string{"--node-name", "flag-wins"}); err != nil {
		t.Fatal(err)
	}
	if err := o.complete(cmd.Flags()); err != nil {
		t.Fatal(err)
	}
	if o.cfg.Agent.NodeName != "flag-wins" {
		t.Errorf("node name %q: the flag wins over %s", o.cfg.Agent.NodeName, EnvNodeNameServer)
	}
	if o.cfg.ClusterDomain != "cluster.local" || o.cfg.FlannelBackend != "vxlan" || o.cfg.ClusterDNS != "" {
		t.Errorf("defaults: domain %q backend %q dns %q", o.cfg.ClusterDomain, o.cfg.FlannelBackend, o.cfg.ClusterDNS)
	}
}

func TestServerRefusesUnknownAddonBeforeStarting(t *testing.T) {
	var out, errOut bytes.Buffer
	code := Main(context.Background(), &out, &errOut, []string{"k3lite", "server", "--config", "/dev/null", "--data-dir", t.TempDir(),
		"--https-listen-port", "1", "--disable", "coredns,traefik", "--flannel-backend", "wireguard"})
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, want := range []string{`unknown add-on "traefik"`, "valid add-ons are coredns", "--flannel-backend"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not mention %q: %s", want, errOut.String())
		}
	}
}

func TestAgentConfigForLocalAgent(t *testing.T) {
	la := server.LocalAgent{
		ServerURL: "https://127.0.0.1:6443", Token: "K10x::node:y", DataDir: "/d", NodeIPs: []string{"192.0.2.1"},
		AgentOptions: server.AgentOptions{NodeName: "n", WithNodeID: true, NodeLabels: []string{"a=b"}, NodeTaints: []string{"k:NoSchedule"},
			KubeletArgs: []string{"v=2"}, KubeProxyArgs: []string{"v=3"}},
	}
	c := agentConfigFor(la)
	if c.ServerURL != la.ServerURL || c.Token != la.Token || c.DataDir != "/d" || c.NodeName != "n" || !c.WithNodeID ||
		!slices.Equal(c.NodeIPs, la.NodeIPs) || !slices.Equal(c.NodeLabels, la.NodeLabels) || !slices.Equal(c.NodeTaints, la.NodeTaints) ||
		!slices.Equal(c.KubeletArgs, la.KubeletArgs) || !slices.Equal(c.KubeProxyArgs, la.KubeProxyArgs) {
		t.Errorf("agent config %+v does not carry %+v", c, la)
	}
}
