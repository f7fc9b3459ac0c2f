package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/distro/pkg/bootstrap"
	"github.com/distrobench/distrobench/distro/pkg/flannel"
	"github.com/distrobench/distrobench/distro/pkg/token"
)

// BackendNone is the flannel backend value that disables the agent's pod
// network between nodes.
const BackendNone = "none"

// Run joins the server and runs the node until ctx is done, then stops
// what it started: kube-proxy and the kubelet (pods keep running, as with
// K3s), then the containerd child (SIGTERM, SIGKILL after 10 s). The shims,
// and so the containers, survive; a restarted agent picks them up again.
//
// It returns an error when joining fails (a wrong token or CA is reported at
// once; an unreachable server is retried until ctx ends) or when a
// component stops by itself.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return err
	}
	tok, err := token.Parse(cfg.Token)
	if err != nil {
		return fmt.Errorf("--token: %w", err)
	}
	// A bad registries.yaml fails at once, before joining.
	regs, err := LoadRegistries(cfg.PrivateRegistry)
	if err != nil {
		return err
	}
	p := newPaths(cfg.DataDir)
	for _, d := range []string{p.agent, p.etc, p.cniConfDir, p.images, p.podLogs, p.kubeletRoot, p.podManifests} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	node, err := nodeName(cfg.NodeName, cfg.WithNodeID, p.nodeID)
	if err != nil {
		return err
	}
	ips, err := nodeIPs(cfg.NodeIPs)
	if err != nil {
		return err
	}
	log = log.With("node", node)
	log.Info("starting agent", "server", cfg.ServerURL, "nodeIP", ipStrings(ips), "dataDir", cfg.DataDir)

	// 1. Join: pin the CA, read the cluster settings, get certificates.
	client, cluster, err := join(ctx, cfg.ServerURL, tok, log)
	if err != nil {
		return err
	}
	dnsNames := []string{node}
	if h, err := os.Hostname(); err == nil && strings.ToLower(h) != node {
		dnsNames = append(dnsNames, strings.ToLower(h))
	}
	if err := retry(ctx, log, "certificates", func() error {
		return obtainCerts(ctx, client, p, node, ips, dnsNames)
	}); err != nil {
		return err
	}
	api, err := apiServerURL(cfg.ServerURL, cluster.APIServerPort)
	if err != nil {
		return err
	}
	if err := writeKubeconfigs(p, api); err != nil {
		return err
	}

	// 2. Host preparation inside this node's network namespace.
	setNetworkSysctls(log)
	cgroupRoot, _ := lastArg(cfg.KubeletArgs, "cgroup-root")
	if err := ensureCgroupRoot(cgroupRoot); err != nil {
		return fmt.Errorf("kubelet cgroup root %q: %w", cgroupRoot, err)
	}

	// 3. Container runtime and images.
	endpoint := cfg.ContainerRuntimeEndpoint
	if endpoint == "" {
		// The embedded registry's port is taken before containerd starts,
		// so that it goes into the hosts directory.
		var mirror net.Listener
		if cluster.EmbeddedRegistry {
			if mirror, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return fmt.Errorf("embedded registry: listen on 127.0.0.1: %w", err)
			}
			defer mirror.Close()
		}
		if err := configureRegistries(p, regs, cfg, mirror, log); err != nil {
			return err
		}
		ctrd, err := startContainerd(ctx, p, cfg.DataDir, cluster.SandboxImage, criRegistryAuths(regs), log)
		if err != nil {
			return err
		}
		// Deferred first, so it runs after containerd has stopped.
		defer removeFallbackSocketDir(p.containerdSocket, log)
		defer ctrd.Stop()
		if mirror != nil {
			stopMirror, err := serveEmbeddedRegistry(mirror, p.containerdSocket, log)
			if err != nil {
				return err
			}
			defer stopMirror()
		}
		if err := importImages(ctx, p.containerdSocket, p, log); err != nil {
			return err
		}
		if cfg.SelfImage != nil {
			if err := importSelfImage(ctx, p.containerdSocket, *cfg.SelfImage, log); err != nil {
				return err
			}
		}
		endpoint = "unix://" + p.containerdSocket
	} else {
		if cfg.PrivateRegistry != "" || cluster.EmbeddedRegistry {
			log.Warn("--container-runtime-endpoint: the private registry configuration and the embedded registry apply to the embedded containerd only; ignoring them", "privateRegistry", cfg.PrivateRegistry, "embeddedRegistry", cluster.EmbeddedRegistry)
		}
		if !strings.HasPrefix(endpoint, "unix://") {
			endpoint = "unix://" + endpoint
		}
	}

	// 4. kubelet and kube-proxy, parsed and validated before either runs.
	resolv, err := kubeletResolvConf(p, "/etc/resolv.conf")
	if err != nil {
		return err
	}
	kc, err := encodeKubeletConfiguration(kubeletConfiguration(p, cluster, endpoint, resolv))
	if err != nil {
		return err
	}
	if err := writeIfChanged(p.kubeletConfig, kc, 0o600); err != nil {
		return err
	}
	kargs, err := kubeletArgs(p, node, ips, cfg.NodeLabels, cfg.NodeTaints, cfg.KubeletArgs)
	if err != nil {
		return err
	}
	kubelet, err := prepareKubelet(p.kubeletConfig, kargs)
	if err != nil {
		return err
	}
	pargs, err := kubeProxyArgs(p, node, cluster.ClusterCIDR, cfg.KubeProxyArgs)
	if err != nil {
		return err
	}
	proxy, err := prepareKubeProxy(pargs)
	if err != nil {
		return err
	}
	restCfg, err := clientcmd.BuildConfigFromFlags("", p.kubeletKubeconfig)
	if err != nil {
		return fmt.Errorf("kubelet kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubelet client: %w", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	goRun := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn(runCtx)
			if err == nil && runCtx.Err() == nil {
				err = fmt.Errorf("%s stopped unexpectedly", name)
			}
			if err != nil && runCtx.Err() == nil {
				errc <- err
			}
		}()
	}
	goRun("kubelet", kubelet.run)
	goRun("kube-proxy", func(ctx context.Context) error { return runKubeProxy(ctx, proxy) })
	goRun("pod network", func(ctx context.Context) error {
		return runPodNetwork(ctx, cfg, cs, p, node, ips[0].String(), cluster, log)
	})
	go logWhenReady(runCtx, cs, node, start, log)

	select {
	case <-ctx.Done():
		err = nil
		log.Info("stopping agent")
	case err = <-errc:
		log.Error("agent component failed; stopping the agent", "err", err)
	}
	stop()
	// kubelet and kube-proxy return as soon as their context ends; bound
	// the wait anyway so containerd is always stopped.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		log.Warn("agent components did not stop within 15s; stopping containerd anyway")
	}
	return err
}

// join pins the server's CA and reads the cluster settings, retrying while
// the server is unreachable or starting.
func join(ctx context.Context, serverURL string, tok token.Token, log *slog.Logger) (*bootstrap.Client, *bootstrap.AgentConfig, error) {
	var client *bootstrap.Client
	var cluster *bootstrap.AgentConfig
	err := retry(ctx, log, "join", func() error {
		c, err := bootstrap.NewClient(ctx, serverURL, tok, log)
		if err != nil {
			return err
		}
		cfg, err := c.Config(ctx)
		if err != nil {
			return err
		}
		client, cluster = c, cfg
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if cluster.SandboxImage == "" {
		cluster.SandboxImage = bootstrap.PauseImage
	}
	if cluster.FlannelBackend == "" {
		cluster.FlannelBackend = "vxlan"
	}
	log.Info("joined the cluster", "clusterCIDR", cluster.ClusterCIDR, "clusterDNS", cluster.ClusterDNS, "flannelBackend", cluster.FlannelBackend)
	return client, cluster, nil
}

// retry calls fn until it succeeds, fails for good (bootstrap.Retryable
// false) or ctx ends; it logs while it waits.
func retry(ctx context.Context, log *slog.Logger, what string, fn func() error) error {
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !bootstrap.Retryable(err) {
			return err
		}
		if attempt == 1 || attempt%10 == 0 {
			log.Info("waiting for the server", "step", what, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (gave up: %w)", what, err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func startContainerd(ctx context.Context, p paths, dataDir, sandboxImage string, registryAuths map[string]any, log *slog.Logger) (*containerdProcess, error) {
	binDir, err := extractHelpers(dataDir, log)
	if err != nil {
		return nil, fmt.Errorf("helper binaries: %w", err)
	}
	conf, err := containerdConfig(p, binDir, sandboxImage, registryAuths)
	if err != nil {
		return nil, err
	}
	if err := writeIfChanged(p.containerdConfig, conf, 0o600); err != nil {
		return nil, err
	}
	ctrd := newContainerdProcess(p, binDir, log)
	if err := ctrd.Start(); err != nil {
		return nil, err
	}
	if err := ctrd.WaitReady(ctx, 2*time.Minute); err != nil {
		ctrd.Stop()
		return nil, err
	}
	return ctrd, nil
}

// runPodNetwork waits for the node's podCIDR, starts flannel (unless the
// backend is none) and writes the CNI config; it then runs until ctx ends
// or flannel fails.
func runPodNetwork(ctx context.Context, cfg Config, cs kubernetes.Interface, p paths, node, nodeIP string, cluster *bootstrap.AgentConfig, log *slog.Logger) error {
	cidrs, err := waitPodCIDRs(ctx, cs, node)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	mtu, ipMasq := defaultMTU, true
	var flannelDone <-chan error
	if cluster.FlannelBackend == BackendNone {
		log.Info("flannel backend none: pods get a bridge network on this node only")
	} else {
		proxyMode, _ := lastArg(cfg.KubeProxyArgs, "proxy-mode")
		nw, err := startFlannel(ctx, flannel.Config{
			Kubeconfig: p.controllerKubeconfig, NodeName: node, NodeIP: nodeIP,
			Backend: cluster.FlannelBackend, ClusterCIDR: cluster.ClusterCIDR, RunDir: p.flannelRun,
			Iface: cfg.FlannelIface,
			// One node, one firewall: flannel's rules follow kube-proxy's mode.
			NFTables: proxyMode == "nftables",
		}, log)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("flannel: %w", err)
		}
		// flannel masquerades traffic leaving the cluster CIDR itself.
		mtu, ipMasq, flannelDone = nw.MTU, false, nw.Done
	}
	if err := writeCNIConfig(p, cidrs, mtu, ipMasq); err != nil {
		return err
	}
	log.Info("pod network configured", "podCIDRs", cidrs, "mtu", mtu, "cni", filepath.Join(p.cniConfDir, cniConfName))
	select {
	case <-ctx.Done():
		return nil
	case err := <-flannelDone:
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		return fmt.Errorf("flannel: %w", err)
	}
}

// logWhenReady logs once when the node is Ready, with the time since the
// agent started. Only a heartbeat of this agent's kubelet counts: after a
// restart the Node still shows the Ready of the previous run for a while.
func logWhenReady(ctx context.Context, cs kubernetes.Interface, node string, start time.Time, log *slog.Logger) {
	_ = wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			return false, nil //nolint:nilerr // not registered yet
		}
		for _, c := range n.Status.Conditions {
			// Heartbeats have a resolution of one second.
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && !c.LastHeartbeatTime.Before(&metav1.Time{Time: start.Truncate(time.Second)}) {
				log.Info("node is Ready", "sinceAgentStart", time.Since(start).Round(time.Millisecond))
				return true, nil
			}
		}
		return false, nil
	})
}

// setNetworkSysctls enables what pods and kube-proxy need in this node's
// network namespace (K3s does the same): IP forwarding, and bridged traffic
// passing iptables so Services work between pods on one bridge. Failures
// are logged, not fatal.
func setNetworkSysctls(log *slog.Logger) {
	for _, s := range []string{
		"net/ipv4/ip_forward",
		"net/ipv6/conf/all/forwarding",
		"net/bridge/bridge-nf-call-iptables",
		"net/bridge/bridge-nf-call-ip6tables",
	} {
		f := filepath.Join("/proc/sys", s)
		have, err := os.ReadFile(f)
		if err != nil {
			log.Debug("sysctl not available", "sysctl", s, "err", err)
			continue
		}
		if strings.TrimSpace(string(have)) == "1" {
			continue
		}
		if err := os.WriteFile(f, []byte("1"), 0o644); err != nil {
			log.Warn("could not set sysctl", "sysctl", strings.ReplaceAll(s, "/", "."), "err", err)
		}
	}
}
