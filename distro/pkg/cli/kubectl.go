//go:build !nokubectl

package cli

import (
	"os"
	"path/filepath"
	"strings"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/plugin"
	"k8s.io/kubectl/pkg/cmd/util"

	"github.com/distrobench/distrobench/distro/pkg/server"
)

// RunKubectl runs the built-in kubectl with args (without "kubectl") and
// returns its exit code; kubectl itself exits the process on errors.
func RunKubectl(args []string) int {
	if os.Getenv("KUBECONFIG") == "" && !hasKubeconfigFlag(args) {
		if p := defaultKubeconfig(); p != "" {
			_ = os.Setenv("KUBECONFIG", p)
		}
	}
	argv := append([]string{"kubectl"}, args...)
	_, _ = logs.GlogSetter(kubectlcmd.GetLogVerbosity(argv))
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := kubectlcmd.NewDefaultKubectlCommandWithArgs(kubectlcmd.KubectlOptions{
		PluginHandler: kubectlcmd.NewDefaultPluginHandler(plugin.ValidPluginFilenamePrefixes),
		Arguments:     argv,
		ConfigFlags: genericclioptions.NewConfigFlags(true).WithDeprecatedPasswordFlag().
			WithDiscoveryBurst(300).WithDiscoveryQPS(50.0).WithWarningPrinter(streams),
		IOStreams: streams,
	})
	cmd.SetArgs(args)
	if err := cli.RunNoErrOutput(cmd); err != nil {
		util.CheckErr(err) // prints kubectl-style and exits non-zero
		return 1
	}
	return 0
}

func hasKubeconfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--kubeconfig" || strings.HasPrefix(a, "--kubeconfig=") {
			return true
		}
	}
	return false
}

// defaultKubeconfig mirrors `k3s kubectl`: without KUBECONFIG or
// --kubeconfig, use the kubeconfig the server wrote, if there is one.
func defaultKubeconfig() string {
	dataDir := os.Getenv("K3LITE_DATA_DIR")
	if dataDir == "" {
		dataDir = server.DefaultDataDir
	}
	for _, p := range []string{
		server.DefaultKubeconfigPath,
		filepath.Join(dataDir, "server", "cred", "admin.kubeconfig"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
