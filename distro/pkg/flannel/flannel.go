// Package flannel runs flannel (github.com/flannel-io/flannel) inside the
// k3lite agent process, as K3s does: the kube subnet manager takes this
// node's podCIDR (allocated by kube-controller-manager) as its subnet lease
// and publishes the node's backend data and public IP as Node annotations;
// the VXLAN or host-gw backend keeps routes, ARP and FDB entries in step
// with the other nodes' annotations; flannel's traffic manager masquerades
// pod traffic that leaves the cluster network.
//
// The orchestration is k3lite's own, written after the order of flannel's
// main.go (subnet manager, network config, external interface, backend,
// traffic rules, subnet.env, backend run loop). It writes no CNI config: the
// agent writes its bridge + host-local conflist from Network.Subnet and
// Network.MTU.
//
// flannel logs through klog, which the k3lite process routes to slog.
package flannel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flannel-io/flannel/pkg/backend"
	"github.com/flannel-io/flannel/pkg/backend/hostgw"
	"github.com/flannel-io/flannel/pkg/backend/vxlan"
	"github.com/flannel-io/flannel/pkg/ip"
	"github.com/flannel-io/flannel/pkg/ipmatch"
	"github.com/flannel-io/flannel/pkg/subnet"
	"github.com/flannel-io/flannel/pkg/subnet/kube"
	"github.com/flannel-io/flannel/pkg/trafficmngr"
	"github.com/flannel-io/flannel/pkg/trafficmngr/iptables"
	"github.com/flannel-io/flannel/pkg/trafficmngr/nftables"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Network is the pod network of this node once flannel is up.
type Network struct {
	// MTU for pod interfaces (the CNI bridge): the VXLAN device's MTU
	// (interface MTU - 50) or, with host-gw, the interface's MTU.
	MTU int
	// Subnet is this node's podCIDR, e.g. 10.42.1.0/24.
	Subnet string
	// Done receives one value when flannel has stopped, then is closed:
	// nil after ctx was cancelled, an error if the backend stopped on its own.
	Done <-chan error
}

// resyncSeconds is how often the traffic manager re-checks its rules
// (flannel's --iptables-resync default).
const resyncSeconds = 5

// lookPath is exec.LookPath; tests replace it.
var lookPath = exec.LookPath

// nodeWaitLogEvery spaces the "still waiting for the podCIDR" messages.
const nodeWaitLogEvery = 15 * time.Second

// backends maps Config.Backend to flannel's constructors; only these two
// backend packages are linked in.
var backends = map[string]backend.BackendCtor{
	BackendVXLAN:  vxlan.New,
	BackendHostGW: hostgw.New,
}

// Start brings up this node's pod network and returns once its subnet
// lease is acquired, the backend device or routes exist, the traffic rules
// are installed and subnet.env is written. Routes and FDB entries then
// follow the other nodes' leases in a goroutine until ctx is done;
// Network.Done reports the end.
//
// Start waits (bounded only by ctx) for the Node object to exist and to
// have a podCIDR, so it may be called before the kubelet has registered.
// It sets the NODE_NAME environment variable of the process: flannel's kube
// subnet manager takes the node name from there. Only one Start may run per
// process.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*Network, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if !running.CompareAndSwap(false, true) {
		return nil, errors.New("flannel: already running in this process (NODE_NAME and the flannel.1 device are per process)")
	}
	log = log.With("component", "flannel", "node", cfg.NodeName, "backend", cfg.Backend)
	nw, err := startOnce(ctx, cfg, log)
	if err != nil {
		running.Store(false)
		return nil, err
	}
	return nw, nil
}

func startOnce(ctx context.Context, cfg Config, log *slog.Logger) (*Network, error) {
	if err := checkTools(cfg.NFTables, lookPath); err != nil {
		return nil, err
	}
	if err := prepareRunDir(cfg); err != nil {
		return nil, err
	}
	if err := waitForPodCIDR(ctx, cfg, log); err != nil {
		return nil, err
	}
	// Everything flannel starts runs under runCtx; a failed Start cancels
	// it, so no informer or resync goroutine outlives the error.
	runCtx, cancel := context.WithCancel(ctx)
	nw, err := start(runCtx, func() { cancel(); running.Store(false) }, cfg, log)
	if err != nil {
		cancel()
		return nil, err
	}
	return nw, nil
}

// running guards the one flannel a process may run.
var running atomic.Bool

func start(ctx context.Context, cancel context.CancelFunc, cfg Config, log *slog.Logger) (*Network, error) {
	if prev, ok := os.LookupEnv("NODE_NAME"); ok && prev != cfg.NodeName {
		log.Warn("overriding NODE_NAME for flannel's subnet manager", "was", prev)
	}
	if err := os.Setenv("NODE_NAME", cfg.NodeName); err != nil {
		return nil, fmt.Errorf("flannel: set NODE_NAME: %w", err)
	}
	// setNodeNetworkUnavailable=false as in K3s: without a cloud provider
	// nothing sets the NetworkUnavailable condition, so there is none to clear.
	sm, err := kube.NewSubnetManager(ctx, "", cfg.Kubeconfig, annotationPrefix, cfg.netConfFile(), false)
	if err != nil {
		return nil, fmt.Errorf("flannel: kube subnet manager for node %q: %w", cfg.NodeName, err)
	}
	config, err := sm.GetNetworkConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("flannel: network config: %w", err)
	}
	if !config.EnableNFTables {
		// flannel's own check: without br_netfilter, iptables never sees
		// bridged pod traffic and Services break in confusing ways.
		if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err != nil {
			return nil, fmt.Errorf("flannel: br_netfilter is not available (%w): load it with `modprobe br_netfilter`", err)
		}
	}

	extIface, err := lookupExtIface(ctx, cfg, sm, log)
	if err != nil {
		return nil, err
	}
	be, err := backends[cfg.Backend](sm, extIface)
	if err != nil {
		return nil, fmt.Errorf("flannel: %s backend on %s: %w", cfg.Backend, extIface.IfaceName, err)
	}
	var wg sync.WaitGroup
	bn, err := be.RegisterNetwork(ctx, &wg, config)
	if err != nil {
		return nil, fmt.Errorf("flannel: %s backend on %s: %w", cfg.Backend, extIface.IfaceName, err)
	}
	lease := bn.Lease()
	if want := expectedMTU(cfg.Backend, extIface.Iface.MTU); bn.MTU() != want {
		// Happens when a device left by an earlier run keeps its old MTU.
		log.Warn("pod MTU differs from the interface MTU minus the backend overhead",
			"mtu", bn.MTU(), "want", want, "iface", extIface.IfaceName, "ifaceMTU", extIface.Iface.MTU)
	}

	if err := setupTrafficRules(ctx, cfg, config, lease.Subnet, bn, log); err != nil {
		return nil, err
	}
	if err := sm.HandleSubnetFile(cfg.subnetFile(), config, true, lease.Subnet, lease.IPv6Subnet, bn.MTU()); err != nil {
		return nil, fmt.Errorf("flannel: write %s: %w", cfg.subnetFile(), err)
	}

	done := make(chan error, 1)
	go func() {
		bn.Run(ctx)
		wg.Wait()
		var err error
		if ctx.Err() == nil {
			err = fmt.Errorf("flannel: %s backend stopped unexpectedly", cfg.Backend)
		} else {
			log.Info("pod network stopped")
		}
		cancel() // also lets a later Start run
		done <- err
		close(done)
	}()
	if err := sm.CompleteLease(ctx, lease, &wg); err != nil {
		return nil, fmt.Errorf("flannel: complete lease of node %q: %w", cfg.NodeName, err)
	}

	nw := &Network{MTU: bn.MTU(), Subnet: lease.Subnet.String(), Done: done}
	log.Info("pod network up", "subnet", nw.Subnet, "mtu", nw.MTU,
		"iface", extIface.IfaceName, "publicIP", extIface.ExtAddr.String(), "nftables", cfg.NFTables)
	return nw, nil
}

// checkTools fails early when the traffic manager's binaries are missing:
// flannel's iptables manager would otherwise only log the problem and run
// without masquerade rules.
func checkTools(nft bool, lookPath func(string) (string, error)) error {
	var missing []string
	for _, tool := range requiredTools(nft) {
		if _, err := lookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	mode := "iptables"
	if nft {
		mode = "nftables"
	}
	return fmt.Errorf("flannel: %s mode needs %v in PATH (Debian: apt-get install %s)", mode, missing, mode)
}

// requiredTools lists the binaries flannel's traffic manager executes.
func requiredTools(nft bool) []string {
	if nft {
		return []string{"nft"}
	}
	return []string{"iptables", "iptables-restore"}
}

// newTrafficManager picks flannel's iptables or nftables implementation.
func newTrafficManager(nft bool) trafficmngr.TrafficManager {
	if nft {
		return &nftables.NFTablesManager{}
	}
	return &iptables.IPTablesManager{}
}

func prepareRunDir(cfg Config) error {
	if err := os.MkdirAll(cfg.RunDir, 0o755); err != nil {
		return fmt.Errorf("flannel: run dir: %w", err)
	}
	conf, err := cfg.netConfJSON()
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.netConfFile(), conf, 0o644); err != nil {
		return fmt.Errorf("flannel: write %s: %w", cfg.netConfFile(), err)
	}
	return nil
}

// waitForPodCIDR polls the Node until kube-controller-manager has given it
// a podCIDR. flannel's AcquireLease fails at once on a node without one and
// gives up after 30 s on a node that does not exist yet; the kubelet may
// still be registering when the agent calls Start.
func waitForPodCIDR(ctx context.Context, cfg Config, log *slog.Logger) error {
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return fmt.Errorf("flannel: kubeconfig %s: %w", cfg.Kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("flannel: client for %s: %w", rc.Host, err)
	}
	var lastErr error
	lastLog := time.Now()
	err = wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
		node, err := cs.CoreV1().Nodes().Get(ctx, cfg.NodeName, metav1.GetOptions{})
		switch {
		case err != nil:
			lastErr = err
		case node.Spec.PodCIDR == "":
			lastErr = errors.New("no podCIDR allocated yet")
		default:
			return true, nil
		}
		if time.Since(lastLog) >= nodeWaitLogEvery {
			log.Info("waiting for the node's podCIDR", "reason", lastErr)
			lastLog = time.Now()
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("flannel: node %q has no podCIDR (is kube-controller-manager running with --allocate-node-cidrs, and the node registered?): last: %v: %w",
			cfg.NodeName, lastErr, err) //nolint:errorlint // lastErr (may be nil) is context; err is wrapped
	}
	return nil
}

// lookupExtIface finds the interface that carries traffic between nodes
// and the public IP other nodes use, as flannel's main does: a
// flannel.alpha.coreos.com/node-public-ip annotation on the Node wins over
// cfg.NodeIP.
func lookupExtIface(ctx context.Context, cfg Config, sm subnet.Manager, log *slog.Logger) (*backend.ExternalInterface, error) {
	publicIP := cfg.NodeIP
	if annotated, _ := sm.GetStoredPublicIP(ctx); annotated != "" && annotated != publicIP {
		log.Info("using the public IP annotated on the node", "publicIP", annotated)
		publicIP = annotated
	}
	stack, err := ipmatch.GetIPFamily(true, false)
	if err != nil {
		return nil, fmt.Errorf("flannel: %w", err)
	}
	hint := cfg.extIfaceHint()
	ext, err := ipmatch.LookupExtIface(hint, "", "", stack, ipmatch.PublicIPOpts{PublicIP: publicIP})
	if err != nil {
		return nil, fmt.Errorf("flannel: no usable interface for %s (set the flannel interface explicitly?): %w", hint, err)
	}
	return ext, nil
}

// setupTrafficRules installs masquerade and forward rules the way flannel's
// main does with --ip-masq: clear the other firewall's flannel rules, then
// set up (and keep re-checking) this one's.
func setupTrafficRules(ctx context.Context, cfg Config, config *subnet.Config, sn ip.IP4Net, bn backend.Network, log *slog.Logger) error {
	// Rules of the other implementation are left over only if an earlier
	// run used it; failing to clear them (e.g. no iptables binary on an
	// nftables node) must not stop the network.
	if err := newTrafficManager(!cfg.NFTables).CleanUp(ctx); err != nil {
		log.Warn("could not clean up the unused traffic manager's rules", "err", err)
	}
	tm := newTrafficManager(cfg.NFTables)
	if err := tm.Init(ctx); err != nil {
		return fmt.Errorf("flannel: traffic manager: %w", err)
	}
	prev, err := readPreviousLease(cfg.subnetFile())
	if err != nil {
		// A corrupt file only costs the recycling of stale rules.
		log.Warn("ignoring unreadable subnet file", "err", err)
	}
	var noV6 ip.IP6Net
	if err := tm.SetupAndEnsureMasqRules(ctx, config.Network, prev.Subnet, prev.Network,
		config.IPv6Network, noV6, noV6, bn.Lease(), resyncSeconds, false); err != nil {
		return fmt.Errorf("flannel: masquerade rules for %s: %w", sn, err)
	}
	tm.SetupAndEnsureForwardRules(ctx, config.Network, config.IPv6Network, resyncSeconds)
	return nil
}
