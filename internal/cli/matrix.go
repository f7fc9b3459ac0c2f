package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/profile"
)

func newMatrixCmd(g *globals) *cobra.Command {
	var (
		sf     suiteFlags
		bf     benchFlags
		uf     upstreamRunFlags
		noBen  bool
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "matrix FILE",
		Short: "Run the main job for every cell of a matrix (profiles x datastores x archs)",
		Long: `Expand a matrix file (profiles/matrix/*.yaml: base profiles composed with
datastore and arch overrides) and run 'distrobench run' once per cell, each in
its own process, one after another. Every cell writes its own report under
reports/out/; the exit code is non-zero when any cell failed.`,
		Example: `  distrobench matrix profiles/matrix/datastores.yaml
  distrobench matrix profiles/matrix/k3s-vs-rke2.yaml --repeats 3 --dry-run
  distrobench matrix profiles/matrix/datastores.yaml --upstream certified --skip-bench`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := profile.LoadMatrix(args[0])
			if err != nil {
				return err
			}
			m.SetDefaults()
			if err := m.Validate(); err != nil {
				return err
			}
			if _, err := uf.parse(); err != nil {
				return err
			}
			if err := bf.validate(cmd.Flags()); err != nil {
				return err
			}
			cells, err := m.Expand(g.profilesDir())
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the distrobench binary to run cells with: %w", err)
			}
			var failed []string
			for i, c := range cells {
				// Each cell is its own process: Ginkgo runs one suite per
				// process, and a crash in one cell cannot take the others down.
				cellArgs := []string{"--repo", g.repoRoot, "run", "--profile", c.Profile.File,
					"--datastore", c.Datastore, "--arch", c.Arch}
				cellArgs = append(cellArgs, forwardedFlags(cmd)...)
				fmt.Fprintf(g.stdout, "==> cell %d/%d: %s\n", i+1, len(cells), c.Name())
				if dryRun {
					fmt.Fprintf(g.stdout, "    %s %v\n", filepath.Base(exe), cellArgs)
					continue
				}
				run := exec.CommandContext(cmd.Context(), exe, cellArgs...)
				run.Stdout, run.Stderr = g.stdout, g.stderr
				if err := run.Run(); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						return fmt.Errorf("cell %s: %w", c.Name(), err)
					}
					failed = append(failed, c.Name())
				}
				if cmd.Context().Err() != nil {
					return cmd.Context().Err()
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%d of %d cells failed: %v", len(failed), len(cells), failed)
			}
			return nil
		},
	}
	sf.bind(cmd.Flags())
	bf.bind(cmd.Flags())
	uf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&noBen, "skip-bench", false, "do not run the benchmarks in any cell")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the cells and their command lines, run nothing")
	return cmd
}

// forwardedFlags repeats the suite, upstream and bench flags the user set
// (as --name=value: a bool flag takes no separate value).
func forwardedFlags(cmd *cobra.Command) []string {
	var out []string
	for _, name := range []string{"label-filter", "suite-timeout", "repeats", "idle-window", "api-objects", "api-concurrency", "api-object-size",
		"api-rate", "api-request-timeout", "api-error-budget", "upstream", "procs", "skip-bench"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			out = append(out, "--"+name+"="+f.Value.String())
		}
	}
	return out
}
