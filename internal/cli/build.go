package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/build"
	"github.com/distrobench/distrobench/internal/progress"
)

type buildOptions struct{ pf profileFlags }

func newBuildCmd(g *globals) *cobra.Command {
	o := &buildOptions{}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build k3lite from distro/ for a profile and arch (cached by source hash)",
		Long: `Build the bundled distribution, k3lite, from distro/ with 'go build'.
The result is cached under _output/cache/<source hash>/; a second build of the
same sources, arch and build settings is instant. Prints the binary's path,
build time and size raw and compressed (zstd, xz).`,
		Example: `  distrobench build
  distrobench build --profile rke2 --arch arm64`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := o.pf.load(g, cmd)
			if err != nil {
				return err
			}
			if p.Spec.Bundled == nil {
				return fmt.Errorf("profile %s uses binary %s: there is nothing to build", p.Metadata.Name, p.Spec.Binary)
			}
			pr := progress.New(g.stderr)
			pr.Phase(fmt.Sprintf("build k3lite (%s, profile %s)", p.Spec.Arch, p.Metadata.Name))
			a, err := build.Build(cmd.Context(), build.Options{
				RepoRoot: g.repoRoot, Arch: p.Spec.Arch, Bundled: p.Spec.Bundled, Log: g.log,
				Progress: func(s string) { pr.Status("%s", s) },
			})
			if err != nil {
				return err
			}
			how := fmt.Sprintf("built in %.1fs", a.BuildSeconds)
			if a.Cached {
				how = "cached"
			}
			fmt.Fprintf(g.stdout, "%s\n  version %s, arch %s, %s\n  size %s raw, %s zstd, %s xz\n",
				a.Path, a.Version, a.Arch, how, mib(a.SizeRaw), mib(a.SizeZstd), mib(a.SizeXz))
			return nil
		},
	}
	o.pf.bind(cmd.Flags(), false)
	return cmd
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
