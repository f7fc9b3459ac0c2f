// Package server runs a K3s-style control plane in one process:
// kube-apiserver, kube-controller-manager and kube-scheduler in front of a
// datastore (kine on SQLite/MySQL/PostgreSQL, embedded etcd, or an external
// etcd). With --control-plane=static-pods it runs them in the RKE2 style
// instead, each (and embedded etcd) a static pod of the server's own node
// from k3lite's own image (staticpods.go); the join endpoints then have a
// port of their own (supervisor.go). Unlike RKE2's, that control plane does
// not outlive the server process: its shutdown removes the manifests.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/distrobench/distrobench/distro/pkg/addons"
)

// Defaults of the K3s-shaped server flags.
const (
	DefaultDataDir         = "/var/lib/k3lite"
	DefaultKubeconfigPath  = "/etc/k3lite/k3lite.yaml"
	DefaultKubeconfigMode  = os.FileMode(0o600)
	DefaultBindAddress     = "0.0.0.0"
	DefaultHTTPSListenPort = 6443
	DefaultClusterCIDR     = "10.42.0.0/16"
	DefaultServiceCIDR     = "10.43.0.0/16"
	DefaultClusterDomain   = "cluster.local"
	DefaultFlannelBackend  = "vxlan"
	// DefaultSupervisorPort is where a server in the RKE2 style serves the
	// join endpoints (RKE2's supervisor port).
	DefaultSupervisorPort = 9345
	// clusterDNSIndex: the kube-dns ClusterIP is the 10th address of the
	// service CIDR (10.43.0.10), as in K3s.
	clusterDNSIndex = 10
)

// The process models --control-plane accepts: the K3s style runs the
// control plane in the server process, the RKE2 style as static pods of
// the server's own node.
const (
	ControlPlaneProcess    = "process"
	ControlPlaneStaticPods = "static-pods"
)

// FlannelBackends are the values --flannel-backend accepts.
var FlannelBackends = []string{"vxlan", "host-gw", "none"}

// Config is the resolved `k3lite server` configuration.
type Config struct {
	DataDir             string
	Token               string // --token or the content of --token-file
	WriteKubeconfig     string
	WriteKubeconfigMode os.FileMode
	BindAddress         string
	HTTPSListenPort     int
	AdvertiseAddress    string
	NodeIPs             []string
	TLSSANs             []string
	ClusterCIDR         string
	ServiceCIDR         string
	// ClusterDNS is the kube-dns Service IP; empty means the 10th IP of
	// the service CIDR (see ResolvedClusterDNS).
	ClusterDNS     string
	ClusterDomain  string
	FlannelBackend string
	// Disable lists add-ons not to deploy (--disable, see package addons).
	Disable []string

	KubeAPIServerArgs         []string
	KubeControllerManagerArgs []string
	KubeSchedulerArgs         []string

	DisableAgent bool
	// EmbeddedRegistry turns on every node's read-only registry mirror of
	// its own images (K3s's --embedded-registry); agents learn it from the
	// join configuration (bootstrap.AgentConfig.EmbeddedRegistry).
	EmbeddedRegistry bool
	// Agent holds the agent flags `k3lite server` takes for its own node.
	Agent AgentOptions
	// RunAgent runs the server's own agent (nil: this build has none). The
	// CLI injects it so that this package does not link the node pieces.
	RunAgent AgentRunner

	DatastoreEndpoint     string
	DatastoreCAFile       string
	DatastoreCertFile     string
	DatastoreKeyFile      string
	ClusterInit           bool
	SecretsEncryption     bool
	ProtectKernelDefaults bool

	// ControlPlane is the process model (ControlPlaneProcess or
	// ControlPlaneStaticPods); SupervisorPort serves the join endpoints in
	// the static-pod model, where the apiserver is another process.
	ControlPlane   string
	SupervisorPort int
}

// AgentOptions are the agent flags of `k3lite server` (K3s's server takes
// the agent flags too, for its own node). --node-ip is Config.NodeIPs.
type AgentOptions struct {
	NodeName      string
	NodeLabels    []string
	NodeTaints    []string
	KubeletArgs   []string
	KubeProxyArgs []string
	WithNodeID    bool
	// PrivateRegistry is the registries.yaml of the local node ("" for
	// none) and DisableDefaultRegistryEndpoint K3s's flag of that name.
	PrivateRegistry                string
	DisableDefaultRegistryEndpoint bool
}

// LocalAgent is what the server hands to the agent of its own node.
type LocalAgent struct {
	// ServerURL is https://<loopback>:<https-listen-port>.
	ServerURL string
	// Token is the server's node token (K10...::node:<secret>). Secret:
	// never log it.
	Token   string
	DataDir string
	NodeIPs []string
	AgentOptions
	// StaticPods, when set, is k3lite's own image the node imports for the
	// control plane's static pods: Binary made into the image Ref.
	StaticPods *SelfImage
}

// SelfImage is the running k3lite binary as the image the static pods of
// the RKE2-style control plane run.
type SelfImage struct{ Binary, Ref string }

// AgentRunner runs an agent until ctx is cancelled, then stops it and
// returns (nil after a requested stop). The server starts it once the
// apiserver is ready and stops it before the control plane.
type AgentRunner func(ctx context.Context, a LocalAgent, log *slog.Logger) error

// Default returns a Config with K3s's defaults.
func Default() Config {
	return Config{
		DataDir:             DefaultDataDir,
		WriteKubeconfig:     DefaultKubeconfigPath,
		WriteKubeconfigMode: DefaultKubeconfigMode,
		BindAddress:         DefaultBindAddress,
		HTTPSListenPort:     DefaultHTTPSListenPort,
		ClusterCIDR:         DefaultClusterCIDR,
		ServiceCIDR:         DefaultServiceCIDR,
		ClusterDomain:       DefaultClusterDomain,
		FlannelBackend:      DefaultFlannelBackend,
		ControlPlane:        ControlPlaneProcess,
		SupervisorPort:      DefaultSupervisorPort,
	}
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.HTTPSListenPort < 1 || c.HTTPSListenPort > 65535 {
		errs = append(errs, fmt.Errorf("--https-listen-port %d: must be between 1 and 65535", c.HTTPSListenPort))
	}
	if net.ParseIP(c.BindAddress) == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q: not an IP address", c.BindAddress))
	}
	if c.AdvertiseAddress != "" && net.ParseIP(c.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q: not an IP address", c.AdvertiseAddress))
	}
	for _, ip := range c.NodeIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("--node-ip %q: not an IP address", ip))
		}
	}
	for name, cidr := range map[string]string{"--cluster-cidr": c.ClusterCIDR, "--service-cidr": c.ServiceCIDR} {
		for _, part := range strings.Split(cidr, ",") {
			if _, _, err := net.ParseCIDR(strings.TrimSpace(part)); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", name, cidr, err))
			}
		}
	}
	if c.ClusterInit && c.DatastoreEndpoint != "" {
		errs = append(errs, errors.New("--cluster-init starts an embedded etcd and cannot be combined with --datastore-endpoint: drop one of them"))
	}
	for flag, extra := range map[string][]string{
		"kube-apiserver-arg":          c.KubeAPIServerArgs,
		"kube-controller-manager-arg": c.KubeControllerManagerArgs,
		"kube-scheduler-arg":          c.KubeSchedulerArgs,
		"kubelet-arg":                 c.Agent.KubeletArgs,
		"kube-proxy-arg":              c.Agent.KubeProxyArgs,
	} {
		if err := ValidateExtraArgs(flag, extra); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateNetworking()...)
	errs = append(errs, c.validateControlPlane()...)
	errs = append(errs, c.Agent.validate()...)
	return errors.Join(errs...)
}

func (c *Config) validateNetworking() []error {
	var errs []error
	if !slices.Contains(FlannelBackends, c.FlannelBackend) {
		errs = append(errs, fmt.Errorf("--flannel-backend %q: want one of %s", c.FlannelBackend, strings.Join(FlannelBackends, ", ")))
	}
	if msgs := validation.IsDNS1123Subdomain(c.ClusterDomain); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--cluster-domain %q: %s", c.ClusterDomain, strings.Join(msgs, "; ")))
	}
	if _, err := addons.ParseDisable(c.Disable); err != nil {
		errs = append(errs, err)
	}
	if c.ClusterDNS != "" {
		ip := net.ParseIP(c.ClusterDNS)
		if ip == nil {
			errs = append(errs, fmt.Errorf("--cluster-dns %q: not an IP address", c.ClusterDNS))
		} else if !inAnyCIDR(ip, c.ServiceCIDR) {
			errs = append(errs, fmt.Errorf("--cluster-dns %s is outside --service-cidr %s: the kube-dns Service could not get it", c.ClusterDNS, c.ServiceCIDR))
		}
	}
	return errs
}

func (a *AgentOptions) validate() []error {
	var errs []error
	if a.NodeName != "" {
		if msgs := validation.IsDNS1123Subdomain(a.NodeName); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--node-name %q: %s", a.NodeName, strings.Join(msgs, "; ")))
		}
	}
	for _, l := range a.NodeLabels {
		key, _, ok := strings.Cut(l, "=")
		if !ok {
			errs = append(errs, fmt.Errorf("--node-label %q: want key=value", l))
			continue
		}
		if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--node-label %q: key: %s", l, strings.Join(msgs, "; ")))
		}
	}
	for _, t := range a.NodeTaints {
		kv, effect, ok := strings.Cut(t, ":")
		key, _, _ := strings.Cut(kv, "=")
		switch {
		case !ok || key == "":
			errs = append(errs, fmt.Errorf("--node-taint %q: want key=value:Effect or key:Effect", t))
		case effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute":
			errs = append(errs, fmt.Errorf("--node-taint %q: effect %q is not NoSchedule, PreferNoSchedule or NoExecute", t, effect))
		}
	}
	return errs
}

// ResolvedClusterDNS is --cluster-dns, or the 10th IP of the (first)
// service CIDR when it is not set (10.43.0.10 for 10.43.0.0/16).
func (c *Config) ResolvedClusterDNS() (string, error) {
	if c.ClusterDNS != "" {
		return c.ClusterDNS, nil
	}
	ip, err := nthIP(c.ServiceCIDR, clusterDNSIndex)
	if err != nil {
		return "", fmt.Errorf("--service-cidr %q: %w", c.ServiceCIDR, err)
	}
	return ip.String(), nil
}

func inAnyCIDR(ip net.IP, cidrs string) bool {
	for _, part := range strings.Split(cidrs, ",") {
		if _, n, err := net.ParseCIDR(strings.TrimSpace(part)); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// firstServiceIP returns the first usable IP of the (first) service CIDR,
// the ClusterIP of the "kubernetes" Service.
func firstServiceIP(cidr string) (net.IP, error) { return nthIP(cidr, 1) }

// nthIP returns the network address of the first CIDR in the
// comma-separated list plus n; it fails when that leaves the network.
func nthIP(cidrs string, n int64) (net.IP, error) {
	first, _, _ := strings.Cut(cidrs, ",")
	_, network, err := net.ParseCIDR(strings.TrimSpace(first))
	if err != nil {
		return nil, err
	}
	base := network.IP
	if v4 := base.To4(); v4 != nil {
		base = v4
	}
	sum := new(big.Int).Add(new(big.Int).SetBytes(base), big.NewInt(n))
	b := sum.Bytes()
	if len(b) > len(base) {
		return nil, fmt.Errorf("%s has no address number %d", network, n)
	}
	ip := make(net.IP, len(base))
	copy(ip[len(ip)-len(b):], b)
	if !network.Contains(ip) {
		return nil, fmt.Errorf("%s has no address number %d", network, n)
	}
	return ip, nil
}

// loopbackHost returns the host the in-process clients use to reach the
// apiserver: loopback unless the apiserver binds one specific address.
func loopbackHost(bind string) string {
	ip := net.ParseIP(bind)
	switch {
	case ip == nil, ip.IsUnspecified():
		if ip != nil && ip.To4() == nil {
			return "::1"
		}
		return "127.0.0.1"
	default:
		return bind
	}
}

// advertiseAddress is --advertise-address, else the first --node-ip, else
// the host's default-route address, else 127.0.0.1.
func (c *Config) advertiseAddress() string {
	if c.AdvertiseAddress != "" {
		return c.AdvertiseAddress
	}
	if len(c.NodeIPs) > 0 {
		return c.NodeIPs[0]
	}
	// A loopback bind address cannot be advertised: the apiserver refuses
	// loopback endpoints for the kubernetes Service (K3s falls through too).
	if ip := net.ParseIP(c.BindAddress); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		return c.BindAddress
	}
	if ip := defaultRouteIP(); ip != "" {
		return ip
	}
	return "127.0.0.1"
}

// defaultRouteIP finds the source address the kernel would use to reach a
// public address, without sending a packet (UDP connect only selects a route).
func defaultRouteIP() string {
	conn, err := net.Dial("udp4", "192.0.2.1:9")
	if err != nil {
		return ""
	}
	defer conn.Close()
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && !a.IP.IsLoopback() {
		return a.IP.String()
	}
	return ""
}

func (c *Config) serverDir() string { return filepath.Join(c.DataDir, "server") }

func (c *Config) credPaths() credPaths {
	dir := filepath.Join(c.serverDir(), "cred")
	return credPaths{
		Dir:                  dir,
		AdminKubeconfig:      filepath.Join(dir, "admin.kubeconfig"),
		ControllerKubeconfig: filepath.Join(dir, "controller.kubeconfig"),
		SchedulerKubeconfig:  filepath.Join(dir, "scheduler.kubeconfig"),
		EncryptionConfig:     filepath.Join(dir, "encryption-config.json"),
	}
}

func (c *Config) validateControlPlane() []error {
	switch c.ControlPlane {
	case ControlPlaneProcess, "":
		return nil
	case ControlPlaneStaticPods:
	default:
		return []error{fmt.Errorf("--control-plane %q: want %s (K3s style: one process) or %s (RKE2 style: static pods)",
			c.ControlPlane, ControlPlaneProcess, ControlPlaneStaticPods)}
	}
	var errs []error
	if c.DisableAgent {
		errs = append(errs, errors.New("--control-plane=static-pods runs the control plane as pods of the server's own node: drop --disable-agent"))
	}
	if c.SupervisorPort < 1 || c.SupervisorPort > 65535 || c.SupervisorPort == c.HTTPSListenPort {
		errs = append(errs, fmt.Errorf("--supervisor-port %d: want a port from 1 to 65535 other than --https-listen-port", c.SupervisorPort))
	}
	return errs
}
