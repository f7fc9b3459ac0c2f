package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	componentcli "k8s.io/component-base/cli"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/distrobench/distrobench/distro/pkg/server"
)

// controlPlaneCommands are upstream's own command lines of the control
// plane's components, each built only when its subcommand runs (building
// the apiserver's sets up its signal handler, which may happen once per
// process).
var controlPlaneCommands = map[string]func() *cobra.Command{
	"kube-apiserver":          apiserverapp.NewAPIServerCommand,
	"kube-controller-manager": cmapp.NewControllerManagerCommand,
	"kube-scheduler":          func() *cobra.Command { return schedapp.NewSchedulerCommand() },
}

// upstreamFlags is the process-wide flag set as Kubernetes' packages left
// it at init (--version among them): Run swaps in an empty one for k3lite's
// own commands, and upstream's commands want theirs back.
var upstreamFlags = pflag.CommandLine

// upstreamCommand builds an upstream command line over upstreamFlags.
func upstreamCommand(build func() *cobra.Command) *cobra.Command {
	pflag.CommandLine = upstreamFlags
	return build()
}

// newComponentCommands are the hidden `k3lite kube-apiserver ARGS...` and
// its siblings: the RKE2-style control plane runs each component as a
// static pod of k3lite's own image with one of these as its command, so
// every component is the same code the one-process server runs, under
// upstream's own main (flags, logging, exit on a lost lease: the kubelet
// restarts the container).
func newComponentCommands() []*cobra.Command {
	var out []*cobra.Command
	for _, name := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		build := controlPlaneCommands[name]
		out = append(out, &cobra.Command{
			Use:                name,
			Short:              fmt.Sprintf("Run upstream %s (a static pod of the RKE2-style control plane)", name),
			Hidden:             true,
			DisableFlagParsing: true,
			RunE: func(_ *cobra.Command, args []string) error {
				cmd := upstreamCommand(build)
				cmd.SetArgs(args)
				if code := componentcli.Run(cmd); code != 0 {
					return &ExitError{Code: code, Err: fmt.Errorf("%s exited with %d", name, code)}
				}
				return nil
			},
		})
	}
	return out
}

// newEtcdCommand is the hidden `k3lite etcd --data-dir D`: the server's
// embedded etcd member as its own process (server.RunEtcd).
func newEtcdCommand(stderr io.Writer) *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:    "etcd",
		Short:  "Run the server's embedded etcd member (a static pod of the RKE2-style control plane)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return server.RunEtcd(cmd.Context(), dataDir, setupLogging(newRedactingWriter(stderr), 0, false))
		},
	}
	cmd.Flags().StringVarP(&dataDir, "data-dir", "d", server.DefaultDataDir, "the server's data directory (its certificates and server/db/etcd)")
	return cmd
}
