package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

const (
	// cniConfName is the file containerd's CRI plugin picks up.
	cniConfName = "10-k3lite.conflist"
	// cniBridge is the bridge pods of a node attach to (one per network
	// namespace, so simulated hosts do not collide).
	cniBridge = "cni0"
	// defaultMTU is used when no overlay lowers it.
	defaultMTU = 1500
)

// cniConflist renders the node's CNI network: a bridge with host-local
// IPAM over the node's podCIDRs, keeping its allocations in ipamDir (the
// node's own), plus portmap (hostPort). flannel's own CNI
// plugin is not used (it is not available as a module here): flannel only
// routes between nodes, and this bridge is what its plugin would have
// delegated to. ipMasq is set only when flannel does not run: flannel
// masquerades traffic leaving the cluster CIDR itself, and a bridge
// masquerade would hide pod IPs from pods on other nodes.
func cniConflist(podCIDRs []string, mtu int, ipMasq bool, ipamDir string) ([]byte, error) {
	if len(podCIDRs) == 0 {
		return nil, fmt.Errorf("no podCIDR for this node yet")
	}
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, c := range podCIDRs {
		ip, _, err := net.ParseCIDR(c)
		if err != nil {
			return nil, fmt.Errorf("podCIDR %q: %w", c, err)
		}
		ranges = append(ranges, []map[string]string{{"subnet": c}})
		if ip.To4() != nil {
			routes = append(routes, map[string]string{"dst": "0.0.0.0/0"})
		} else {
			routes = append(routes, map[string]string{"dst": "::/0"})
		}
	}
	if mtu <= 0 {
		mtu = defaultMTU
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "k3lite",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      cniBridge,
				"isGateway":   true,
				"ipMasq":      ipMasq,
				"hairpinMode": true,
				"mtu":         mtu,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  ranges,
					"routes":  routes,
					"dataDir": ipamDir,
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]bool{"portMappings": true},
			},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render CNI config: %w", err)
	}
	return append(b, '\n'), nil
}

// writeCNIConfig writes the conflist into p.cniConfDir (atomically:
// containerd watches the directory and must never read half a file).
func writeCNIConfig(p paths, podCIDRs []string, mtu int, ipMasq bool) error {
	b, err := cniConflist(podCIDRs, mtu, ipMasq, p.cniIPAM)
	if err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(p.cniConfDir, cniConfName), b, 0o644)
}

// waitPodCIDRs waits until the node is registered and the
// controller-manager has assigned its podCIDRs.
func waitPodCIDRs(ctx context.Context, cs kubernetes.Interface, node string) ([]string, error) {
	var cidrs []string
	err := wait.PollUntilContextCancel(ctx, 500*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, nil //nolint:nilerr // transient: keep polling until ctx ends
		}
		cidrs = n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		return len(cidrs) > 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("wait for node %s to get a podCIDR (is the controller-manager allocating node CIDRs?): %w", node, err)
	}
	return cidrs, nil
}
