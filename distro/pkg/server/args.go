package server

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/pki"
)

// Ports the in-process controller-manager and scheduler serve their
// health endpoints on (upstream defaults), bound to loopback as in K3s.
const (
	ControllerManagerSecurePort = 10257
	SchedulerSecurePort         = 10259
)

// ServiceAccountIssuer is the issuer of projected service-account tokens.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// componentInputs is everything the argument builders need; it keeps them
// pure functions of their input so they can be tested without a cluster.
type componentInputs struct {
	cfg       *Config
	pki       *pki.Bundle
	store     *datastore.Datastore
	cred      credPaths
	advertise string
}

// credPaths are the files under <data-dir>/server/cred.
type credPaths struct {
	Dir                  string
	AdminKubeconfig      string
	ControllerKubeconfig string
	SchedulerKubeconfig  string
	EncryptionConfig     string
}

// flagMap holds "--name=value" arguments keyed by name; a name may repeat
// (the value slice), which the flag parsers of the components accept for
// list flags and resolve as "last wins" for scalars.
type flagMap struct {
	order  []string
	values map[string][]string
}

func newFlagMap() *flagMap { return &flagMap{values: map[string][]string{}} }

func (m *flagMap) set(name, value string) {
	if _, ok := m.values[name]; !ok {
		m.order = append(m.order, name)
	}
	m.values[name] = []string{value}
}

// args renders the defaults first (in insertion order) and then the user's
// extra arguments verbatim, so that for any flag the user sets, the user's
// value is the last one the parser sees and wins. Scalars given by the user
// also replace the default outright, so the default is not even visible.
func (m *flagMap) args(extra []string) []string {
	userSet := map[string]bool{}
	for _, e := range extra {
		name, _, _ := strings.Cut(strings.TrimLeft(e, "-"), "=")
		userSet[name] = true
	}
	var out []string
	for _, name := range m.order {
		if userSet[name] {
			continue
		}
		for _, v := range m.values[name] {
			out = append(out, "--"+name+"="+v)
		}
	}
	for _, e := range extra {
		out = append(out, "--"+strings.TrimLeft(e, "-"))
	}
	return out
}

// ValidateExtraArgs checks the shape of --kube-*-arg values: key=value (or a
// bare key for boolean flags), no empty key.
func ValidateExtraArgs(flagName string, extra []string) error {
	for _, e := range extra {
		name, _, _ := strings.Cut(strings.TrimLeft(e, "-"), "=")
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("--%s %q: expected key=value, for example --%s=v=2", flagName, e, flagName)
		}
	}
	return nil
}

func apiServerArgs(in componentInputs) []string {
	c, b := in.cfg, in.pki
	m := newFlagMap()
	m.set("advertise-address", in.advertise)
	m.set("bind-address", c.BindAddress)
	m.set("secure-port", strconv.Itoa(c.HTTPSListenPort))
	m.set("allow-privileged", "true")
	m.set("authorization-mode", "Node,RBAC")
	m.set("enable-admission-plugins", "NodeRestriction")
	m.set("anonymous-auth", "true")
	m.set("client-ca-file", b.CACert)
	m.set("tls-cert-file", b.ServingCert)
	m.set("tls-private-key-file", b.ServingKey)
	m.set("kubelet-client-certificate", b.APIServerKubeletClientCert)
	m.set("kubelet-client-key", b.APIServerKubeletClientKey)
	m.set("kubelet-preferred-address-types", "InternalIP,ExternalIP,Hostname")
	m.set("proxy-client-cert-file", b.FrontProxyClientCert)
	m.set("proxy-client-key-file", b.FrontProxyClientKey)
	m.set("requestheader-client-ca-file", b.FrontProxyCACert)
	m.set("requestheader-allowed-names", pki.FrontProxyClientCN)
	m.set("requestheader-extra-headers-prefix", "X-Remote-Extra-")
	m.set("requestheader-group-headers", "X-Remote-Group")
	m.set("requestheader-username-headers", "X-Remote-User")
	m.set("service-account-issuer", ServiceAccountIssuer)
	m.set("api-audiences", ServiceAccountIssuer+",k3lite")
	m.set("service-account-key-file", b.ServiceAccountPub)
	m.set("service-account-signing-key-file", b.ServiceAccountKey)
	m.set("service-cluster-ip-range", c.ServiceCIDR)
	m.set("service-node-port-range", "30000-32767")
	m.set("storage-backend", "etcd3")
	m.set("etcd-servers", strings.Join(in.store.Endpoints, ","))
	// In one process setStorage fills these in; a static pod has only its
	// arguments.
	for flag, file := range map[string]string{"etcd-cafile": in.store.TLS.CAFile, "etcd-certfile": in.store.TLS.CertFile, "etcd-keyfile": in.store.TLS.KeyFile} {
		if file != "" {
			m.set(flag, file)
		}
	}
	if c.SecretsEncryption {
		m.set("encryption-provider-config", in.cred.EncryptionConfig)
	}
	// The in-process clients (controller-manager, scheduler, the
	// apiserver's own informers) hold watches open; with this mode the HTTP
	// server's shutdown timeout drops from --request-timeout (60 s) to 2 s
	// once in-flight requests have drained, which keeps SIGTERM under 10 s.
	m.set("shutdown-send-retry-after", "true")
	m.set("profiling", "false")
	return m.args(c.KubeAPIServerArgs)
}

func controllerManagerArgs(in componentInputs) []string {
	c, b := in.cfg, in.pki
	m := newFlagMap()
	m.set("kubeconfig", in.cred.ControllerKubeconfig)
	m.set("authentication-kubeconfig", in.cred.ControllerKubeconfig)
	m.set("authorization-kubeconfig", in.cred.ControllerKubeconfig)
	m.set("bind-address", "127.0.0.1")
	m.set("secure-port", strconv.Itoa(ControllerManagerSecurePort))
	m.set("leader-elect", "true")
	m.set("controllers", "*,tokencleaner")
	m.set("allocate-node-cidrs", "true")
	m.set("cluster-cidr", c.ClusterCIDR)
	// Every node gets a /24 (IPv4) or /64 (IPv6) of the cluster CIDR as
	// its podCIDR; the agent's CNI config is built from it.
	v4, v6 := cidrFamilies(c.ClusterCIDR)
	switch {
	case v4 && v6:
		m.set("node-cidr-mask-size-ipv4", "24")
		m.set("node-cidr-mask-size-ipv6", "64")
	case v6:
		m.set("node-cidr-mask-size", "64")
	default:
		m.set("node-cidr-mask-size", "24")
	}
	m.set("service-cluster-ip-range", c.ServiceCIDR)
	m.set("cluster-signing-cert-file", b.CACert)
	m.set("cluster-signing-key-file", b.CAKey)
	m.set("root-ca-file", b.CACert)
	m.set("service-account-private-key-file", b.ServiceAccountKey)
	m.set("use-service-account-credentials", "true")
	m.set("terminated-pod-gc-threshold", "1000")
	m.set("profiling", "false")
	return m.args(c.KubeControllerManagerArgs)
}

func schedulerArgs(in componentInputs) []string {
	c := in.cfg
	m := newFlagMap()
	m.set("kubeconfig", in.cred.SchedulerKubeconfig)
	m.set("authentication-kubeconfig", in.cred.SchedulerKubeconfig)
	m.set("authorization-kubeconfig", in.cred.SchedulerKubeconfig)
	m.set("bind-address", "127.0.0.1")
	m.set("secure-port", strconv.Itoa(SchedulerSecurePort))
	m.set("leader-elect", "true")
	m.set("profiling", "false")
	return m.args(c.KubeSchedulerArgs)
}

// cidrFamilies reports which IP families a comma-separated CIDR list has.
func cidrFamilies(cidrs string) (v4, v6 bool) {
	for _, part := range strings.Split(cidrs, ",") {
		ip, _, err := net.ParseCIDR(strings.TrimSpace(part))
		switch {
		case err != nil:
		case ip.To4() != nil:
			v4 = true
		default:
			v6 = true
		}
	}
	return v4, v6
}

// lastFlagValue returns the value of the last "--name=value" in args.
func lastFlagValue(args []string, name string) (string, bool) {
	val, found := "", false
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			val, found = v, true
		}
	}
	return val, found
}

// listenAddrs returns the TCP addresses the components will bind, derived
// from their final arguments, so the port check sees user overrides.
func listenAddrs(apiArgs, cmArgs, schedArgs []string) []string {
	var out []string
	add := func(args []string) {
		port, _ := lastFlagValue(args, "secure-port")
		if port == "" || port == "0" {
			return
		}
		host, _ := lastFlagValue(args, "bind-address")
		out = append(out, net.JoinHostPort(host, port))
	}
	add(apiArgs)
	add(cmArgs)
	add(schedArgs)
	return out
}
