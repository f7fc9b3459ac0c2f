package server

import (
	"slices"
	"strings"
	"testing"
)

func TestResolvedClusterDNS(t *testing.T) {
	for cidr, want := range map[string]string{
		"10.43.0.0/16":             "10.43.0.10",
		"10.96.0.0/12,fd00::/108":  "10.96.0.10",
		"fd00:10:96::/108":         "fd00:10:96::a",
		"192.168.255.0/24":         "192.168.255.10",
		"10.0.0.0/8, 10.1.0.0/16 ": "10.0.0.10",
	} {
		c := Default()
		c.ServiceCIDR = cidr
		got, err := c.ResolvedClusterDNS()
		if err != nil || got != want {
			t.Errorf("service CIDR %q: %q, %v; want %s", cidr, got, err, want)
		}
	}
	c := Default()
	c.ServiceCIDR = "10.43.0.0/29" // 8 addresses: no 10th
	if _, err := c.ResolvedClusterDNS(); err == nil {
		t.Error("a /29 has no 10th address; want an error")
	}
	c.ClusterDNS = "10.43.0.3"
	if got, err := c.ResolvedClusterDNS(); err != nil || got != "10.43.0.3" {
		t.Errorf("explicit --cluster-dns: %q, %v", got, err)
	}
}

func TestValidateNodeFlags(t *testing.T) {
	c := Default()
	c.ClusterDNS = "10.44.0.10"
	c.ClusterDomain = "Not A Domain"
	c.FlannelBackend = "wireguard"
	c.Disable = []string{"coredns,traefik"}
	c.Agent = AgentOptions{
		NodeName:    "Bad_Name",
		NodeLabels:  []string{"novalue", "ok=1"},
		NodeTaints:  []string{"k=v:Sometimes", "noeffect", "k:NoSchedule"},
		KubeletArgs: []string{"=x"},
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{
		"--cluster-dns 10.44.0.10 is outside --service-cidr", "--cluster-domain", "--flannel-backend \"wireguard\": want one of vxlan, host-gw, none",
		`unknown add-on "traefik"`, "--node-name", `--node-label "novalue"`, `--node-taint "k=v:Sometimes"`, `--node-taint "noeffect"`, "--kubelet-arg",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	for _, unwanted := range []string{`"ok=1"`, `"k:NoSchedule"`} {
		if strings.Contains(err.Error(), unwanted) {
			t.Errorf("valid value %s reported:\n%v", unwanted, err)
		}
	}

	good := Default()
	good.DataDir = "/data"
	good.Disable = []string{"coredns"}
	good.FlannelBackend = "host-gw"
	good.Agent = AgentOptions{NodeName: "node-1", NodeLabels: []string{"example.com/role=db"}, NodeTaints: []string{"dedicated=db:NoExecute"}}
	if err := good.Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestControllerManagerAllocatesNodeCIDRs(t *testing.T) {
	for cidr, want := range map[string]map[string]string{
		"10.42.0.0/16":              {"node-cidr-mask-size": "24"},
		"fd00:42::/56":              {"node-cidr-mask-size": "64"},
		"10.42.0.0/16,fd00:42::/56": {"node-cidr-mask-size-ipv4": "24", "node-cidr-mask-size-ipv6": "64"},
	} {
		args := controllerManagerArgs(testInputs(func(c *Config) { c.ClusterCIDR = cidr }))
		want["allocate-node-cidrs"] = "true"
		want["cluster-cidr"] = cidr
		for name, v := range want {
			if got, ok := lastFlagValue(args, name); !ok || got != v {
				t.Errorf("cluster CIDR %s: --%s = %q (set %v), want %q", cidr, name, got, ok, v)
			}
		}
	}
	api := apiServerArgs(testInputs(nil))
	if got, _ := lastFlagValue(api, "kubelet-preferred-address-types"); !strings.HasPrefix(got, "InternalIP,") {
		t.Errorf("kubelet-preferred-address-types %q does not prefer InternalIP", got)
	}
	if got, _ := lastFlagValue(api, "enable-admission-plugins"); !strings.Contains(got, "NodeRestriction") {
		t.Errorf("NodeRestriction not enabled: %q", got)
	}
}

func TestLocalAgent(t *testing.T) {
	c := Default()
	c.DataDir = "/data"
	c.BindAddress = "0.0.0.0"
	c.HTTPSListenPort = 16443
	c.NodeIPs = []string{"192.0.2.5"}
	c.ProtectKernelDefaults = true
	c.Agent = AgentOptions{NodeName: "n1", KubeletArgs: []string{"cgroup-root=/k3lite/n1"}, WithNodeID: true}
	a := localAgent(&c, "K10abc::node:secret")
	if a.ServerURL != "https://127.0.0.1:16443" || a.Token != "K10abc::node:secret" || a.DataDir != "/data" || a.NodeName != "n1" || !a.WithNodeID {
		t.Errorf("local agent %+v", a)
	}
	if !slices.Equal(a.NodeIPs, []string{"192.0.2.5"}) {
		t.Errorf("node IPs %v", a.NodeIPs)
	}
	if !slices.Equal(a.KubeletArgs, []string{"protect-kernel-defaults=true", "cgroup-root=/k3lite/n1"}) {
		t.Errorf("kubelet args %v", a.KubeletArgs)
	}
	if len(c.Agent.KubeletArgs) != 1 {
		t.Error("localAgent modified the server's config")
	}
}
