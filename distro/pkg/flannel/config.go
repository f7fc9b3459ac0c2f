package flannel

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// Backends a node can use for pod traffic between nodes.
const (
	// BackendVXLAN encapsulates pod traffic in VXLAN (device flannel.1,
	// VNI 1, UDP port 8472): works across any routed network. The default.
	BackendVXLAN = "vxlan"
	// BackendHostGW routes each node's podCIDR via that node's IP: no
	// encapsulation, but every node must be on the same L2 segment.
	BackendHostGW = "host-gw"
)

// VXLAN parameters, fixed as in K3s: flannel.1 on the Linux default port.
const (
	VXLANVNI  = 1
	VXLANPort = 8472
	// VXLANOverhead is what VXLAN encapsulation costs per packet (outer
	// Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8): the overlay MTU is the
	// interface MTU minus this.
	VXLANOverhead = 50
)

// Files Start writes under Config.RunDir.
const (
	// SubnetFile is flannel's subnet.env (FLANNEL_NETWORK, FLANNEL_SUBNET,
	// FLANNEL_MTU, FLANNEL_IPMASQ), read back on restart to recycle stale
	// masquerade rules.
	SubnetFile = "subnet.env"
	// NetConfFile is flannel's net-conf.json, generated from Config; the
	// kube subnet manager reads it from disk.
	NetConfFile = "net-conf.json"
)

// annotationPrefix is flannel's default, so nodes look the same as under
// K3s or a flannel DaemonSet.
const annotationPrefix = "flannel.alpha.coreos.com"

// Config describes the pod network of one node.
type Config struct {
	// Kubeconfig authenticates to the apiserver; its user needs get, list
	// and watch on nodes and patch on nodes and nodes/status
	// (system:k3lite-agent-controller).
	Kubeconfig string
	// NodeName is this node's Node object; its spec.podCIDR, allocated by
	// kube-controller-manager, becomes this node's pod subnet.
	NodeName string
	// NodeIP is the IPv4 address other nodes reach this node on: the VXLAN
	// tunnel endpoint, or the next hop of host-gw routes.
	NodeIP string
	// Backend is BackendVXLAN (default when empty) or BackendHostGW.
	Backend string
	// ClusterCIDR is the IPv4 pod network of the whole cluster
	// (e.g. 10.42.0.0/16); traffic from it to anywhere else is masqueraded.
	ClusterCIDR string
	// RunDir receives subnet.env and net-conf.json (created if missing).
	RunDir string
	// Iface optionally names the interface (or holds the IP of the
	// interface) that carries traffic between nodes; default: the
	// interface holding NodeIP.
	Iface string
	// NFTables makes masquerade and forward rules nftables rules (table
	// flannel-ipv4) instead of iptables rules; set it when the node's
	// kube-proxy runs in nftables mode, so that one node uses one
	// firewall. The zero value (iptables) is what K3s does by default.
	NFTables bool
}

// withDefaults returns a copy of c with empty optional fields filled in.
func (c Config) withDefaults() Config {
	c.Backend = strings.ToLower(strings.TrimSpace(c.Backend))
	if c.Backend == "" {
		c.Backend = BackendVXLAN
	}
	return c
}

// validate reports every problem of c at once, each naming its field.
// It expects c to have been through withDefaults.
func (c Config) validate() error {
	var errs []error
	if c.Kubeconfig == "" {
		errs = append(errs, errors.New("kubeconfig: required (the agent-controller kubeconfig)"))
	} else if _, err := os.Stat(c.Kubeconfig); err != nil {
		errs = append(errs, fmt.Errorf("kubeconfig: %w", err))
	}
	if c.NodeName == "" {
		errs = append(errs, errors.New("NodeName: required"))
	}
	if ip := net.ParseIP(c.NodeIP); ip == nil {
		errs = append(errs, fmt.Errorf("NodeIP: %q is not an IP address", c.NodeIP))
	} else if ip.To4() == nil {
		errs = append(errs, fmt.Errorf("NodeIP: %s: only IPv4 pod networks are supported", c.NodeIP))
	}
	switch c.Backend {
	case BackendVXLAN, BackendHostGW:
	default:
		errs = append(errs, fmt.Errorf("backend: %q is not supported (use %q or %q)", c.Backend, BackendVXLAN, BackendHostGW))
	}
	if _, n, err := net.ParseCIDR(c.ClusterCIDR); err != nil {
		errs = append(errs, fmt.Errorf("ClusterCIDR: %q is not a CIDR (e.g. 10.42.0.0/16)", c.ClusterCIDR))
	} else if n.IP.To4() == nil {
		errs = append(errs, fmt.Errorf("ClusterCIDR: %s: only IPv4 pod networks are supported", c.ClusterCIDR))
	} else if ones, _ := n.Mask.Size(); ones > 28 {
		// flannel's own floor: a smaller network cannot hold four node subnets.
		errs = append(errs, fmt.Errorf("ClusterCIDR: %s is too small (at most /28)", c.ClusterCIDR))
	}
	if c.RunDir == "" {
		errs = append(errs, errors.New("RunDir: required (where subnet.env is written)"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("flannel: invalid config: %w", errors.Join(errs...))
}

// netConf is the part of flannel's net-conf.json k3lite sets (the fields
// are flannel's subnet.Config names).
type netConf struct {
	Network        string          `json:"Network"`
	EnableIPv4     bool            `json:"EnableIPv4"`
	EnableIPv6     bool            `json:"EnableIPv6"`
	EnableNFTables bool            `json:"EnableNFTables"`
	Backend        json.RawMessage `json:"Backend"`
}

// netConfJSON renders flannel's network configuration for c (after
// withDefaults): the cluster network and the backend with its parameters.
func (c Config) netConfJSON() ([]byte, error) {
	var backend any
	switch c.Backend {
	case BackendVXLAN:
		backend = struct {
			Type string `json:"Type"`
			VNI  int    `json:"VNI"`
			Port int    `json:"Port"`
		}{BackendVXLAN, VXLANVNI, VXLANPort}
	case BackendHostGW:
		backend = struct {
			Type string `json:"Type"`
		}{BackendHostGW}
	default:
		return nil, fmt.Errorf("flannel: backend %q is not supported", c.Backend)
	}
	be, err := json.Marshal(backend)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(netConf{
		Network:        c.ClusterCIDR,
		EnableIPv4:     true,
		EnableNFTables: c.NFTables,
		Backend:        be,
	}, "", "  ")
}

// extIfaceHint is what flannel's interface lookup is given: the configured
// interface, or else the node IP (flannel then picks the interface holding it).
func (c Config) extIfaceHint() string {
	if c.Iface != "" {
		return c.Iface
	}
	return c.NodeIP
}

func (c Config) subnetFile() string  { return filepath.Join(c.RunDir, SubnetFile) }
func (c Config) netConfFile() string { return filepath.Join(c.RunDir, NetConfFile) }

// expectedMTU is the pod MTU a backend gives on an interface of ifaceMTU:
// VXLAN loses its encapsulation overhead, host-gw keeps the full MTU.
func expectedMTU(backend string, ifaceMTU int) int {
	if backend == BackendVXLAN {
		return ifaceMTU - VXLANOverhead
	}
	return ifaceMTU
}
