// Package server runs a K3s-style control plane in one process:
// kube-apiserver, kube-controller-manager and kube-scheduler in front of a
// datastore (kine on SQLite/MySQL/PostgreSQL, embedded etcd, or an external
// etcd).
package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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
)

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

	KubeAPIServerArgs         []string
	KubeControllerManagerArgs []string
	KubeSchedulerArgs         []string

	DisableAgent          bool
	DatastoreEndpoint     string
	DatastoreCAFile       string
	DatastoreCertFile     string
	DatastoreKeyFile      string
	ClusterInit           bool
	SecretsEncryption     bool
	ProtectKernelDefaults bool
}

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
	} {
		if err := ValidateExtraArgs(flag, extra); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// firstServiceIP returns the first usable IP of the (first) service CIDR,
// the ClusterIP of the "kubernetes" Service.
func firstServiceIP(cidr string) (net.IP, error) {
	first, _, _ := strings.Cut(cidr, ",")
	_, n, err := net.ParseCIDR(strings.TrimSpace(first))
	if err != nil {
		return nil, err
	}
	ip := make(net.IP, len(n.IP))
	copy(ip, n.IP)
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
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
