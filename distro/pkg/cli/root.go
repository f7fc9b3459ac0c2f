// Package cli is k3lite's command line: `k3lite server`, `k3lite agent`,
// `k3lite kubectl`, `--version` and the hidden `k3lite containerd` (the
// agent's child), shaped like K3s's so one deployer drives k3lite and k3s
// alike.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/component-base/version"
)

// ExitError carries a process exit code through cobra.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Main runs k3lite with os-style args (args[0] is the program name) and
// returns the process exit code. The kubectl path exits by itself, as
// kubectl does.
func Main(ctx context.Context, stdout, stderr io.Writer, args []string) int {
	if len(args) > 0 && filepath.Base(args[0]) == "kubectl" {
		return RunKubectl(args[1:])
	}
	if len(args) > 1 && args[1] == "kubectl" {
		return RunKubectl(args[2:])
	}
	err := Run(ctx, stdout, stderr, args[1:])
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "Error: %v\n", err)
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}

// Run executes the k3lite command line (args without the program name).
func Run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) > 0 && args[0] == "server" {
		merged, err := withConfigFile(args[1:])
		if err != nil {
			return err
		}
		args = append([]string{"server"}, merged...)
	}
	// Kubernetes packages register flags on pflag.CommandLine at init (for
	// example component-base's --version), and cobra merges that set into
	// every command. k3lite's commands define all their flags themselves.
	pflag.CommandLine = pflag.NewFlagSet("k3lite", pflag.ContinueOnError)
	root := NewRootCommand(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// VersionString is what `k3lite --version` prints, in K3s's shape.
func VersionString() string {
	v := version.Get()
	commit := v.GitCommit
	if len(commit) > 8 {
		commit = commit[:8]
	}
	return fmt.Sprintf("k3lite version %s (%s)\ngo version %s\n", v.GitVersion, commit, runtime.Version())
}

// NewRootCommand builds the command tree.
func NewRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "k3lite",
		Short:         "k3lite: a lightweight, K3s-shaped Kubernetes distribution in one binary",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().GitVersion,
	}
	root.SetVersionTemplate("{{ printf \"%s\" .Annotations.fullVersion }}")
	root.Annotations = map[string]string{"fullVersion": VersionString()}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServerCommand(stderr), newAgentCommand(stderr), newKubectlCommand(), newContainerdCommand())
	root.AddCommand(newComponentCommands()...)
	root.AddCommand(newEtcdCommand(stderr))
	return root
}

func newKubectlCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kubectl",
		Short:              "Run the built-in kubectl",
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := RunKubectl(args); code != 0 {
				return &ExitError{Code: code, Err: fmt.Errorf("kubectl exited with %d", code)}
			}
			return nil
		},
	}
}
