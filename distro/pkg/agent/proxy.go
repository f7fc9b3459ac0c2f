package agent

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
)

// kubeProxyArgs are kube-proxy's flags: k3lite's first, the user's
// --kube-proxy-arg last (they win). iptables mode by default
// (--kube-proxy-arg=proxy-mode=nftables selects nftables; there is no IPVS
// here). The conntrack settings are left as they are: kube-proxy would
// otherwise raise nf_conntrack_max, a host-wide sysctl.
func kubeProxyArgs(p paths, node, clusterCIDR string, userArgs []string) ([]string, error) {
	args := []string{
		"--kubeconfig=" + p.kubeProxyKubeconfig,
		"--hostname-override=" + node,
		"--proxy-mode=iptables",
		"--conntrack-max-per-core=0",
		"--conntrack-tcp-timeout-established=0s",
		"--conntrack-tcp-timeout-close-wait=0s",
	}
	if clusterCIDR != "" {
		args = append(args, "--cluster-cidr="+clusterCIDR)
	}
	user, err := componentFlags(userArgs)
	if err != nil {
		return nil, fmt.Errorf("--kube-proxy-arg: %w", err)
	}
	return append(args, user...), nil
}

// prepareKubeProxy parses and validates kube-proxy's flags the way its
// command does (k8s.io/kubernetes/cmd/kube-proxy/app.NewProxyCommand),
// without reinitialising the process-wide logging.
func prepareKubeProxy(args []string) (*proxyapp.Options, error) {
	opts := proxyapp.NewOptions()
	fs := pflag.NewFlagSet("kube-proxy", pflag.ContinueOnError)
	fs.SetOutput(discard{})
	opts.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("kube-proxy arguments: %w", err)
	}
	if rest := fs.Args(); len(rest) > 0 {
		return nil, fmt.Errorf("kube-proxy arguments: unexpected %q (use --kube-proxy-arg key=value)", rest)
	}
	if err := applyVerbosity(fs); err != nil {
		return nil, fmt.Errorf("kube-proxy arguments: %w", err)
	}
	if err := opts.Complete(fs); err != nil {
		return nil, fmt.Errorf("kube-proxy: %w", err)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("kube-proxy configuration: %w", err)
	}
	return opts, nil
}

// runKubeProxy runs kube-proxy until ctx is done. Upstream's Run never
// returns by itself (its informers use wait.NeverStop); the goroutine is
// left behind when ctx ends, which is harmless because the process exits
// right after the agent stops. Its iptables rules stay, as with K3s.
func runKubeProxy(ctx context.Context, opts *proxyapp.Options) error {
	errc := make(chan error, 1)
	go func() { errc <- opts.Run(ctx) }()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("kube-proxy: %w", err)
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}
