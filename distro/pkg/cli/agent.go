package cli

import (
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/distro/pkg/agent"
	"github.com/distrobench/distrobench/distro/pkg/token"
)

// EnvURL is the environment variable that sets --server (K3S_URL).
const EnvURL = "K3LITE_URL"

type agentOptions struct {
	cfg       agent.Config
	tokenFile string
	verbosity int
	debug     bool
}

func newAgentCommand(stderr io.Writer) *cobra.Command {
	return newAgentCommandWith(&agentOptions{cfg: agent.Config{DataDir: agent.DefaultDataDir, PrivateRegistry: agent.DefaultPrivateRegistry}}, stderr)
}

func newAgentCommandWith(o *agentOptions, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a node agent (kubelet, kube-proxy, containerd, flannel) that joins a server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.complete(cmd.Flags()); err != nil {
				return err
			}
			w := newRedactingWriter(stderr, agentSecrets(o.cfg.Token)...)
			log := setupLogging(w, o.verbosity, o.debug)
			return agent.Run(cmd.Context(), o.cfg, log)
		},
	}
	f := cmd.Flags()
	c := &o.cfg
	f.StringVarP(&c.ServerURL, "server", "s", "", "Server to connect to, https://HOST:6443 (env "+EnvURL+")")
	f.StringVarP(&c.Token, "token", "t", "", "Token to join the cluster: the server's node-token (env "+EnvToken+")")
	f.StringVar(&o.tokenFile, "token-file", "", "File containing the token")
	f.StringVarP(&c.DataDir, "data-dir", "d", c.DataDir, "Folder to hold state (env "+EnvDataDir+")")
	f.StringVar(&c.NodeName, "node-name", "", "Node name (default: the hostname)")
	f.BoolVar(&c.WithNodeID, "with-node-id", false, "Append an id to the node name")
	f.StringSliceVar(&c.NodeIPs, "node-ip", nil, "IP address(es) of this node (default: the address of the default-route interface)")
	f.StringArrayVar(&c.NodeLabels, "node-label", nil, "Register the node with this label, key=value (repeatable)")
	f.StringArrayVar(&c.NodeTaints, "node-taint", nil, "Register the node with this taint, key=value:Effect (repeatable)")
	f.StringArrayVar(&c.KubeletArgs, "kubelet-arg", nil, "Customized flag for kubelet, key=value (repeatable; wins over k3lite's)")
	f.StringArrayVar(&c.KubeProxyArgs, "kube-proxy-arg", nil, "Customized flag for kube-proxy, key=value (repeatable; wins over k3lite's)")
	f.StringVar(&c.FlannelIface, "flannel-iface", "", "Override default flannel interface")
	f.StringVar(&c.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "Use this running CRI socket instead of the embedded containerd")
	f.StringVar(&c.PrivateRegistry, "private-registry", c.PrivateRegistry, "Private registry configuration file (K3s's registries.yaml: mirrors and per-host TLS and credentials; the default is read only when present)")
	f.BoolVar(&c.DisableDefaultRegistryEndpoint, "disable-default-registry-endpoint", false, "Disables containerd's fallback default registry endpoint when a mirror is configured for that registry")
	f.IntVarP(&o.verbosity, "v", "v", 0, "Log verbosity of the Kubernetes components")
	f.BoolVar(&o.debug, "debug", false, "Turn on debug logs of k3lite")
	return cmd
}

// complete applies environment variables and the token file after flag
// parsing, then validates.
func (o *agentOptions) complete(fs *pflag.FlagSet) error {
	envDefault(fs, "server", EnvURL, &o.cfg.ServerURL)
	envDefault(fs, "token", EnvToken, &o.cfg.Token)
	envDefault(fs, "data-dir", EnvDataDir, &o.cfg.DataDir)
	if err := resolveToken(fs, o.tokenFile, &o.cfg.Token); err != nil {
		return err
	}
	resolvePrivateRegistry(fs, &o.cfg.PrivateRegistry)
	return o.cfg.Validate()
}

// agentSecrets lists what the log writer must scrub.
func agentSecrets(tok string) []string {
	if tok == "" {
		return nil
	}
	out := []string{tok}
	if t, err := token.Parse(tok); err == nil && t.Password != "" {
		out = append(out, t.Password)
	}
	return out
}
