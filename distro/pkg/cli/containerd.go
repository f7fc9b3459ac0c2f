package cli

import (
	"context"

	"github.com/containerd/containerd/v2/cmd/containerd/command"
	"github.com/spf13/cobra"

	// containerd's built-in plugins (CRI, overlayfs snapshotter, runtime
	// v2, ...), as in containerd's own main package.
	_ "github.com/containerd/containerd/v2/cmd/containerd/builtins"
)

// newContainerdCommand is the hidden `k3lite containerd` the agent starts
// as its child (/proc/self/exe containerd --config ...): containerd v2's
// own command line, linked into k3lite so the install stays one file.
// Its version comes from the ldflag
// -X github.com/containerd/containerd/v2/version.Version=v2.4.2.
func newContainerdCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "containerd",
		Short:              "Run containerd (started by the agent)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			// containerd handles SIGTERM itself (graceful shutdown); the
			// context k3lite cancels on that signal must not cut it short.
			return command.App().Run(context.WithoutCancel(cmd.Context()), append([]string{"containerd"}, args...))
		},
	}
}
