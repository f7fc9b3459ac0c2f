package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/job"
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
			codes := map[string]int{}
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
				// On Ctrl-C the cell is interrupted, not killed: it tears
				// its cluster down and writes its report.
				run.Cancel = func() error { return run.Process.Signal(os.Interrupt) }
				run.WaitDelay = cellStopTimeout
				if err := run.Run(); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						return fmt.Errorf("cell %s: %w", c.Name(), err)
					}
					codes[c.Name()] = ee.ExitCode()
				}
				if err := context.Cause(cmd.Context()); err != nil {
					return fmt.Errorf("matrix interrupted at cell %s: %w", c.Name(), err)
				}
			}
			return cellsVerdict(len(cells), codes)
		},
	}
	sf.bind(cmd.Flags())
	bf.bind(cmd.Flags())
	uf.bind(cmd.Flags())
	cmd.Flags().BoolVar(&noBen, "skip-bench", false, "do not run the benchmarks in any cell")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the cells and their command lines, run nothing")
	return cmd
}

// cellStopTimeout is how long an interrupted cell gets to tear its cluster
// down and write its report before it is killed.
const cellStopTimeout = 5 * time.Minute

// cellsVerdict maps the exit codes of the failed cells (name -> code) to
// the matrix's error, with the README's exit codes: any cell with bad input
// or a setup error (2) makes the matrix one (2); cells that ran and failed
// (1) or were stopped by someone else make it a failed run (1,
// job.ErrRunFailed).
func cellsVerdict(cells int, codes map[string]int) error {
	if len(codes) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(codes))
	var failed, setup []string
	for _, n := range names {
		failed = append(failed, fmt.Sprintf("%s (exit %d)", n, codes[n]))
		if codes[n] == 2 {
			setup = append(setup, n)
		}
	}
	if len(setup) > 0 {
		return fmt.Errorf("%d of %d cells failed: %s; %v could not run (bad input or a setup error: see their output above)",
			len(codes), cells, strings.Join(failed, ", "), setup)
	}
	return fmt.Errorf("%w: %d of %d cells failed: %s (each cell's report says why)", job.ErrRunFailed, len(codes), cells, strings.Join(failed, ", "))
}

// forwardedFlags repeats the suite, upstream and bench flags the user set
// (as --name=value: a bool flag takes no separate value).
func forwardedFlags(cmd *cobra.Command) []string {
	var out []string
	for _, name := range []string{"label-filter", "suite-timeout", "repeats", "idle-window", "settle-min", "api-objects", "api-repeats", "api-concurrency", "api-object-size",
		"api-rate", "api-request-timeout", "api-error-budget", "upstream", "procs", "skip-bench"} {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			out = append(out, "--"+name+"="+f.Value.String())
		}
	}
	return out
}
