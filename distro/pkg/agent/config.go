// Package agent runs a k3lite node, as `k3s agent` does: it joins a server
// with a K10 token (pinning the server's CA by the hash inside the token),
// obtains its kubelet and kube-proxy certificates from the server, starts
// containerd v2 as a supervised child process (`k3lite containerd`), imports
// the air-gapped image tarballs, and runs kubelet, kube-proxy and flannel
// in-process.
//
// Registries (registries.go, mirror.go): --private-registry (K3s's
// registries.yaml) becomes containerd's hosts directory
// <data-dir>/agent/etc/containerd/certs.d, rewritten at every start. When
// the server runs with --embedded-registry, the agent also serves its own
// containerd's images read-only on 127.0.0.1:<port> of the node's network
// namespace (package registry) and lists that mirror first for every
// registry under mirrors:.
//
// Everything a node keeps lives under <data-dir>/agent (unlike K3s, which
// uses /var/lib/kubelet and /run/k3s), so several nodes can share one host
// in separate network namespaces.
//
// Processes and cleanup. The agent's own process runs kubelet, kube-proxy
// and flannel. containerd is its child in a process group of its own (so a
// Ctrl-C on the terminal reaches only the agent, which stops containerd
// after the kubelet); it gets PR_SET_PDEATHSIG=SIGKILL, so it also dies when
// the agent is killed, group kill included. containerd-shim-runc-v2
// processes put themselves in their own process groups (Setpgid) and are
// re-parented to init: like K3s, containers survive an agent restart. To
// remove a node completely (`down`), after killing the agent's group:
//   - kill every process in the node's cgroup root (the kubelet's
//     --cgroup-root, e.g. /k3lite/<node>, in every v1 hierarchy): the
//     containers and pause processes; then remove those cgroups bottom-up;
//   - kill the shims: processes named containerd-shim-runc-v2 whose command
//     line holds "-address <data-dir>/agent/run/containerd/containerd.sock";
//   - unmount everything mounted below <data-dir> (overlay rootfs under
//     agent/run/containerd, pod network namespaces bind-mounted under
//     agent/run/containerd (netns_mounts_under_state_dir), kubelet volumes
//     under agent/kubelet), deepest first, then delete the data dir;
//   - delete the node's network namespace (cni0, flannel.1, veths and the
//     iptables/nftables rules of kube-proxy and flannel live in it).
//
// Shim sockets are in /run/containerd/s/<sha256> (containerd's fixed
// default), the hash being the SHA-256 of "<containerd socket>/k8s.io/<id>"
// (the shim's -address, -namespace and -id): two nodes on one host never
// collide. A shim removes its socket when it exits normally; after killing
// shims with SIGKILL, `down` removes their sockets by that hash.
package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
)

// maxSocketPath is the longest unix socket path containerd accepts for its
// sockets: 104 bytes on some platforms, and it appends ".ttrpc" to the
// main socket's path for its second endpoint.
const maxSocketPath = 104 - len(".ttrpc")

// socketFallbackDir holds containerd sockets whose natural place under the
// data dir is too long a path (deep data dirs, e.g. a harness's run dirs).
const socketFallbackDir = "/run/k3lite"

// removeFallbackSocketDir removes containerd's socket directory when it is
// the /run/k3lite fallback (outside the data dir), once containerd stopped;
// a restarted containerd creates it again.
func removeFallbackSocketDir(socket string, log interface{ Debug(string, ...any) }) {
	dir := filepath.Dir(socket)
	if filepath.Dir(dir) != socketFallbackDir {
		return
	}
	if err := os.RemoveAll(dir); err == nil {
		log.Debug("removed containerd's socket directory", "dir", dir)
	}
}

// containerdSocketPath keeps containerd's socket under the data dir when the
// path fits the unix socket limit, and otherwise moves it to
// /run/k3lite/<hash of the wanted path>/containerd.sock: one stable,
// node-unique short path per data dir, like K3s's /run/k3s/containerd.
func containerdSocketPath(want string) string {
	if len(want) <= maxSocketPath {
		return want
	}
	sum := sha256.Sum256([]byte(want))
	return filepath.Join(socketFallbackDir, hex.EncodeToString(sum[:6]), "containerd.sock")
}

// DefaultDataDir is K3s's /var/lib/rancher/k3s counterpart.
const DefaultDataDir = "/var/lib/k3lite"

// Config is the resolved `k3lite agent` configuration. `k3lite server` fills
// one for its own node.
type Config struct {
	// ServerURL is https://HOST:PORT of a k3lite server (--server).
	ServerURL string
	// Token is a K10 token (or a bare secret) from the server's node-token
	// file (--token). It is a secret: never log it.
	Token string
	// DataDir holds the agent's state in DataDir/agent (--data-dir).
	DataDir string
	// NodeName defaults to the lower-cased hostname (--node-name).
	NodeName string
	// WithNodeID appends -<8 hex> (kept in DataDir/agent/node-id) to the
	// node name (--with-node-id).
	WithNodeID bool
	// NodeIPs default to the address of the interface that holds the
	// default route in the agent's network namespace (--node-ip).
	NodeIPs []string
	// NodeLabels (key=value) and NodeTaints (key=value:Effect) are set when
	// the kubelet registers the node (--node-label, --node-taint).
	NodeLabels []string
	NodeTaints []string
	// KubeletArgs and KubeProxyArgs are key=value flags passed last, so
	// they win over k3lite's (--kubelet-arg, --kube-proxy-arg).
	KubeletArgs   []string
	KubeProxyArgs []string
	// ContainerRuntimeEndpoint, when set, is the CRI socket of a container
	// runtime that is already running (K3s's --container-runtime-endpoint);
	// the agent then starts no containerd and imports no images.
	ContainerRuntimeEndpoint string
	// FlannelIface is the interface (or its IP) flannel uses between nodes
	// (default: the one holding the node IP) (--flannel-iface).
	FlannelIface string
	// PrivateRegistry is a registries.yaml in K3s's shape (mirrors and
	// per-host TLS and credentials) turned into containerd's hosts
	// directory at every start; "" for none (--private-registry).
	PrivateRegistry string
	// DisableDefaultRegistryEndpoint: a registry that has mirrors is never
	// contacted itself, only its mirrors (--disable-default-registry-endpoint).
	DisableDefaultRegistryEndpoint bool
	// SelfImage, when set, is imported into containerd before the kubelet
	// starts: the image of the static pods a server in the RKE2 style
	// writes into PodManifestsDir.
	SelfImage *SelfImage
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.ServerURL == "" {
		errs = append(errs, errors.New("--server is required (https://HOST:6443 of a k3lite server)"))
	} else if !strings.HasPrefix(c.ServerURL, "https://") {
		errs = append(errs, fmt.Errorf("--server %q: want https://HOST:PORT", c.ServerURL))
	}
	if strings.TrimSpace(c.Token) == "" {
		errs = append(errs, errors.New("--token or --token-file is required (the server's node-token)"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.NodeName != "" {
		if err := validateNodeName(c.NodeName); err != nil {
			errs = append(errs, fmt.Errorf("--node-name: %w", err))
		}
	}
	for _, ip := range c.NodeIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("--node-ip %q: not an IP address", ip))
		}
	}
	for _, l := range c.NodeLabels {
		if k, _, ok := strings.Cut(l, "="); !ok || k == "" {
			errs = append(errs, fmt.Errorf("--node-label %q: want key=value", l))
		}
	}
	for _, t := range c.NodeTaints {
		if _, err := parseTaint(t); err != nil {
			errs = append(errs, fmt.Errorf("--node-taint %q: %w", t, err))
		}
	}
	for _, set := range []struct {
		flag string
		args []string
	}{{"--kubelet-arg", c.KubeletArgs}, {"--kube-proxy-arg", c.KubeProxyArgs}} {
		if _, err := componentFlags(set.args); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", set.flag, err))
		}
	}
	if c.ContainerRuntimeEndpoint != "" && !strings.HasPrefix(c.ContainerRuntimeEndpoint, "unix://") && !filepath.IsAbs(c.ContainerRuntimeEndpoint) {
		errs = append(errs, fmt.Errorf("--container-runtime-endpoint %q: want unix:///path/to/socket", c.ContainerRuntimeEndpoint))
	}
	if c.SelfImage != nil && c.ContainerRuntimeEndpoint != "" {
		errs = append(errs, errors.New("the static-pod control plane imports k3lite's own image into the node's embedded containerd: drop --container-runtime-endpoint"))
	}
	return errors.Join(errs...)
}

// parseTaint checks key[=value]:Effect.
func parseTaint(s string) (string, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok || kv == "" || strings.HasPrefix(kv, "=") {
		return "", errors.New("want key=value:Effect")
	}
	switch effect {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
		return s, nil
	}
	return "", fmt.Errorf("effect %q: want NoSchedule, PreferNoSchedule or NoExecute", effect)
}

// componentFlags turns key=value items (K3s's --kubelet-arg form; a
// leading "--" is tolerated) into --key=value flags.
func componentFlags(items []string) ([]string, error) {
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = strings.TrimLeft(it, "-")
		k, v, ok := strings.Cut(it, "=")
		if k == "" {
			return nil, fmt.Errorf("%q: want key=value", it)
		}
		if !ok {
			// A bare key is a boolean flag, as in K3s (--kubelet-arg=v).
			out = append(out, "--"+k)
			continue
		}
		out = append(out, "--"+k+"="+v)
	}
	return out, nil
}

// lastArg returns the value of the last key=value item whose key is one of
// names ('-' and '_' are the same, as in the components' flag parsing).
func lastArg(items []string, names ...string) (string, bool) {
	norm := func(s string) string { return strings.ReplaceAll(strings.TrimLeft(s, "-"), "_", "-") }
	val, found := "", false
	for _, it := range items {
		k, v, _ := strings.Cut(it, "=")
		for _, n := range names {
			if norm(k) == n {
				val, found = v, true
			}
		}
	}
	return val, found
}

// paths are the files and directories of one agent, all under DataDir.
type paths struct {
	agent, etc, nodeID string

	clientCA, serverCA                    string
	kubeletClientCert, kubeletClientKey   string
	kubeletServingCert, kubeletServingKey string
	kubeProxyCert, kubeProxyKey           string
	controllerCert, controllerKey         string

	kubeletKubeconfig, kubeProxyKubeconfig, controllerKubeconfig string

	kubeletConfig, kubeletRoot, podLogs, resolvConf string
	// podManifests is the kubelet's static pod directory, as in K3s
	// (agent/pod-manifests): the RKE2-style control plane's manifests.
	podManifests string

	containerdConfig, containerdRoot, containerdState string
	containerdSocket, containerdLog                   string
	// registryHosts is containerd's hosts directory (config_path).
	registryHosts string

	cniConfDir, images, importedRecord, flannelRun string
	// cniIPAM is host-local's dataDir: the pod IPs this node handed out.
	// Its default, /var/lib/cni/networks, is one directory for the whole
	// machine, which simulated hosts share: nodes would draw from one pool,
	// and a node stopped without deleting its pods would leave its IPs
	// taken for every later node until the range ran out.
	cniIPAM string
}

func newPaths(dataDir string) paths {
	a := filepath.Join(dataDir, "agent")
	j := func(p ...string) string { return filepath.Join(append([]string{a}, p...)...) }
	return paths{
		agent:                a,
		nodeID:               j("node-id"),
		clientCA:             j("client-ca.crt"),
		serverCA:             j("server-ca.crt"),
		kubeletClientCert:    j("client-kubelet.crt"),
		kubeletClientKey:     j("client-kubelet.key"),
		kubeletServingCert:   j("serving-kubelet.crt"),
		kubeletServingKey:    j("serving-kubelet.key"),
		kubeProxyCert:        j("client-kube-proxy.crt"),
		kubeProxyKey:         j("client-kube-proxy.key"),
		controllerCert:       j("client-k3lite-controller.crt"),
		controllerKey:        j("client-k3lite-controller.key"),
		kubeletKubeconfig:    j("kubelet.kubeconfig"),
		kubeProxyKubeconfig:  j("kubeproxy.kubeconfig"),
		controllerKubeconfig: j("k3lite-controller.kubeconfig"),
		kubeletConfig:        j("etc", "kubelet.conf.yaml"),
		kubeletRoot:          j("kubelet"),
		podLogs:              j("pod-logs"),
		podManifests:         bootstrap.PodManifestsDir(dataDir),
		resolvConf:           j("etc", "resolv.conf"),
		etc:                  j("etc"),
		containerdConfig:     j("etc", "containerd", "config.toml"),
		containerdRoot:       j("containerd"),
		containerdState:      j("run", "containerd"),
		containerdSocket:     containerdSocketPath(j("run", "containerd", "containerd.sock")),
		containerdLog:        j("containerd", "containerd.log"),
		registryHosts:        j("etc", "containerd", "certs.d"),
		cniConfDir:           j("etc", "cni", "net.d"),
		cniIPAM:              j("cni", "networks"),
		images:               j("images"),
		importedRecord:       j("images", ".imported"),
		flannelRun:           j("run", "flannel"),
	}
}
