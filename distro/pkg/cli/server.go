package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/distro/pkg/addons"
	"github.com/distrobench/distrobench/distro/pkg/agent"
	"github.com/distrobench/distrobench/distro/pkg/config"
	"github.com/distrobench/distrobench/distro/pkg/datastore"
	"github.com/distrobench/distrobench/distro/pkg/server"
	"github.com/distrobench/distrobench/distro/pkg/token"
)

// DefaultConfigFile is read when present and --config is not given.
const DefaultConfigFile = "/etc/k3lite/config.yaml"

// Environment variables that set flags not given on the command line or in
// the config file (K3s's K3S_* counterparts).
const (
	EnvToken             = "K3LITE_TOKEN"
	EnvDataDir           = "K3LITE_DATA_DIR"
	EnvDatastoreEndpoint = "K3LITE_DATASTORE_ENDPOINT"
	EnvConfigFile        = "K3LITE_CONFIG_FILE"
	// EnvNodeNameServer sets --node-name of `k3lite server` (K3S_NODE_NAME).
	EnvNodeNameServer = "K3LITE_NODE_NAME"
)

type serverOptions struct {
	cfg        server.Config
	configFile string
	tokenFile  string
	kubeMode   string
	verbosity  int
	debug      bool
}

func newServerOptions() *serverOptions {
	cfg := server.Default()
	cfg.RunAgent = runServerAgent
	cfg.Agent.PrivateRegistry = agent.DefaultPrivateRegistry
	return &serverOptions{cfg: cfg, kubeMode: "0600"}
}

func newServerCommand(stderr io.Writer) *cobra.Command {
	return newServerCommandWith(newServerOptions(), stderr)
}

func newServerCommandWith(o *serverOptions, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (kube-apiserver, kube-controller-manager, kube-scheduler), its datastore and an agent for this node",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd.Flags()); err != nil {
				return err
			}
			w := newRedactingWriter(stderr, secretsOf(&o.cfg)...)
			log := setupLogging(w, o.verbosity, o.debug)
			return server.Run(cmd.Context(), o.cfg, log)
		},
	}
	f := cmd.Flags()
	c := &o.cfg
	f.StringVarP(&o.configFile, "config", "c", DefaultConfigFile, "YAML file whose keys are flag names (env "+EnvConfigFile+")")
	f.StringVarP(&c.DataDir, "data-dir", "d", c.DataDir, "Folder to hold state (env "+EnvDataDir+")")
	f.StringVarP(&c.Token, "token", "t", "", "Shared secret used to join a server or agent to a cluster (env "+EnvToken+")")
	f.StringVar(&o.tokenFile, "token-file", "", "File containing the token")
	f.StringVarP(&c.WriteKubeconfig, "write-kubeconfig", "o", c.WriteKubeconfig, "Write the admin kubeconfig to this file")
	f.StringVar(&o.kubeMode, "write-kubeconfig-mode", o.kubeMode, "Write the kubeconfig with this mode (octal, e.g. 0644)")
	f.StringVar(&c.BindAddress, "bind-address", c.BindAddress, "kube-apiserver bind address")
	f.IntVar(&c.HTTPSListenPort, "https-listen-port", c.HTTPSListenPort, "kube-apiserver HTTPS listen port")
	f.StringVar(&c.AdvertiseAddress, "advertise-address", "", "IP address the apiserver advertises to members of the cluster (default: node-ip)")
	f.StringSliceVar(&c.NodeIPs, "node-ip", nil, "IP address(es) of this node")
	f.StringSliceVar(&c.TLSSANs, "tls-san", nil, "Additional hostnames or IPs as Subject Alternative Names in the serving certificate (repeatable)")
	f.StringVar(&c.ClusterCIDR, "cluster-cidr", c.ClusterCIDR, "IPv4/IPv6 network CIDRs to use for pod IPs")
	f.StringVar(&c.ServiceCIDR, "service-cidr", c.ServiceCIDR, "IPv4/IPv6 network CIDRs to use for service IPs")
	f.StringVar(&c.ClusterDNS, "cluster-dns", "", "IPv4 Cluster IP for the coredns service; should be in your service-cidr range (default: 10th IP of --service-cidr, 10.43.0.10)")
	f.StringVar(&c.ClusterDomain, "cluster-domain", c.ClusterDomain, "Cluster Domain")
	f.StringVar(&c.FlannelBackend, "flannel-backend", c.FlannelBackend, "Pod network between nodes: "+strings.Join(server.FlannelBackends, ", "))
	f.StringSliceVar(&c.Disable, "disable", nil, "Do not deploy packaged components (valid items: "+strings.Join(addons.Names(), ", ")+"; repeatable, comma list allowed)")
	f.StringArrayVar(&c.KubeAPIServerArgs, "kube-apiserver-arg", nil, "Customized flag for kube-apiserver, key=value (repeatable; wins over k3lite's defaults)")
	f.StringArrayVar(&c.KubeControllerManagerArgs, "kube-controller-manager-arg", nil, "Customized flag for kube-controller-manager, key=value (repeatable)")
	f.StringArrayVar(&c.KubeSchedulerArgs, "kube-scheduler-arg", nil, "Customized flag for kube-scheduler, key=value (repeatable)")
	f.BoolVar(&c.DisableAgent, "disable-agent", false, "Do not run a local agent and register a local kubelet")
	f.BoolVar(&c.EmbeddedRegistry, "embedded-registry", false, "Every node serves the images of its own containerd as a read-only registry mirror on 127.0.0.1, the first endpoint of each registry under mirrors: in its registries.yaml")
	a := &c.Agent
	f.StringVar(&a.NodeName, "node-name", "", "Node name of the local agent (default: the hostname; env "+EnvNodeNameServer+")")
	f.BoolVar(&a.WithNodeID, "with-node-id", false, "Append an id to the node name")
	f.StringArrayVar(&a.NodeLabels, "node-label", nil, "Register the local node with this label, key=value (repeatable)")
	f.StringArrayVar(&a.NodeTaints, "node-taint", nil, "Register the local node with this taint, key=value:Effect (repeatable)")
	f.StringArrayVar(&a.KubeletArgs, "kubelet-arg", nil, "Customized flag for the local kubelet, key=value (repeatable; wins over k3lite's)")
	f.StringArrayVar(&a.KubeProxyArgs, "kube-proxy-arg", nil, "Customized flag for the local kube-proxy, key=value (repeatable; wins over k3lite's)")
	f.StringVar(&a.PrivateRegistry, "private-registry", a.PrivateRegistry, "Private registry configuration file of the local node (K3s's registries.yaml; the default is read only when present)")
	f.BoolVar(&a.DisableDefaultRegistryEndpoint, "disable-default-registry-endpoint", false, "Disables containerd's fallback default registry endpoint when a mirror is configured for that registry")
	f.StringVar(&c.DatastoreEndpoint, "datastore-endpoint", "", "sqlite://PATH, mysql://user:pass@tcp(host:3306)/db, postgres://user:pass@host:5432/db, http(s)://etcd:2379 (env "+EnvDatastoreEndpoint+")")
	f.StringVar(&c.DatastoreCAFile, "datastore-cafile", "", "TLS CA file for an external etcd")
	f.StringVar(&c.DatastoreCertFile, "datastore-certfile", "", "TLS client certificate for an external etcd")
	f.StringVar(&c.DatastoreKeyFile, "datastore-keyfile", "", "TLS client key for an external etcd")
	f.BoolVar(&c.ClusterInit, "cluster-init", false, "Initialize a new cluster on embedded etcd")
	f.BoolVar(&c.SecretsEncryption, "secrets-encryption", false, "Encrypt Secrets at rest (aescbc)")
	f.StringVar(&c.ControlPlane, "control-plane", c.ControlPlane, "Process model of the control plane: process (K3s style, in this process) or static-pods (RKE2 style: etcd, kube-apiserver, kube-controller-manager and kube-scheduler as static pods of this node, from k3lite's own image)")
	f.IntVar(&c.SupervisorPort, "supervisor-port", c.SupervisorPort, "With --control-plane=static-pods: port of the join endpoints agents use as --server (the API stays on --https-listen-port)")
	f.BoolVar(&c.ProtectKernelDefaults, "protect-kernel-defaults", false, "Kernel tuning behavior of the kubelet: error if kernel tunables differ from the kubelet defaults")
	f.IntVarP(&o.verbosity, "v", "v", 0, "Log verbosity of the Kubernetes components")
	f.BoolVar(&o.debug, "debug", false, "Turn on debug logs of k3lite and kine")
	return cmd
}

// complete applies environment variables, the token file and the kubeconfig
// mode after flag parsing.
func (o *serverOptions) complete(fs *pflag.FlagSet) error {
	envDefault(fs, "data-dir", EnvDataDir, &o.cfg.DataDir)
	envDefault(fs, "token", EnvToken, &o.cfg.Token)
	envDefault(fs, "datastore-endpoint", EnvDatastoreEndpoint, &o.cfg.DatastoreEndpoint)
	envDefault(fs, "node-name", EnvNodeNameServer, &o.cfg.Agent.NodeName)
	if err := resolveToken(fs, o.tokenFile, &o.cfg.Token); err != nil {
		return err
	}
	resolvePrivateRegistry(fs, &o.cfg.Agent.PrivateRegistry)
	mode, err := strconv.ParseUint(o.kubeMode, 8, 32)
	if err != nil || mode > 0o777 {
		return fmt.Errorf("--write-kubeconfig-mode %q: expected an octal file mode such as 0600 or 644", o.kubeMode)
	}
	o.cfg.WriteKubeconfigMode = os.FileMode(mode)
	return nil
}

// secretsOf lists what the log writers must scrub.
func secretsOf(c *server.Config) []string {
	var out []string
	if p := datastore.Secret(c.DatastoreEndpoint); p != "" {
		out = append(out, p)
	}
	if c.Token != "" {
		out = append(out, c.Token)
		if t, err := token.Parse(c.Token); err == nil && t.Password != "" {
			out = append(out, t.Password)
		}
	}
	return out
}

// withConfigFile merges the config file (K3s's config.yaml semantics) with
// the command-line args of `server`; the command line wins for scalars.
func withConfigFile(args []string) ([]string, error) {
	path, explicit := configFileFromArgs(args)
	if !explicit {
		if v := os.Getenv(EnvConfigFile); v != "" {
			path, explicit = v, true
		} else {
			path = DefaultConfigFile
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, os.ErrNotExist) {
			return args, nil
		}
		return nil, fmt.Errorf("config file: %w", err)
	}
	fileArgs, err := config.Flatten(data)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	flags := newServerCommand(io.Discard).Flags()
	isList := func(name string) bool {
		f := flags.Lookup(name)
		return f != nil && (f.Value.Type() == "stringSlice" || f.Value.Type() == "stringArray")
	}
	return config.MergeArgs(fileArgs, args, isList), nil
}

// configFileFromArgs finds --config/-c in args before cobra parses them.
func configFileFromArgs(args []string) (string, bool) {
	for i, a := range args {
		switch {
		case a == "--":
			return "", false
		case a == "--config" || a == "-c":
			if i+1 < len(args) {
				return args[i+1], true
			}
		case strings.HasPrefix(a, "--config="):
			return strings.TrimPrefix(a, "--config="), true
		case strings.HasPrefix(a, "-c="):
			return strings.TrimPrefix(a, "-c="), true
		}
	}
	return "", false
}
