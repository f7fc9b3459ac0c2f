// Package cli holds distrobench's command tree (cobra). Each subcommand is an
// options struct, its flags and a RunE that calls one internal package; the
// logic lives in those packages, not here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/livemetrics"
	"github.com/distrobench/distrobench/internal/progress"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// globals are the flags every subcommand shares.
type globals struct {
	verbose     bool
	repoRoot    string
	metricsAddr string
	metrics     *livemetrics.Metrics // nil unless --metrics-addr
	stopMetrics func() error
	stdout      io.Writer
	stderr      io.Writer
	log         *slog.Logger
}

// Run executes distrobench with args (without the program name).
func Run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "distrobench",
		Short: "Conformance and benchmark harness for lightweight Kubernetes distributions",
		Long: `distrobench builds, deploys, tests and measures K3s-style Kubernetes distributions:
our bundled k3lite (built from distro/), or any k3s/rke2 binary with K3s's CLI.

The main job is 'distrobench run': build -> up -> conformance -> bench -> down ->
report (JSON, self-contained HTML, JUnit, Markdown under reports/out/).`,
		Example: `  # the main job on the default profile (K3s-style, SQLite)
  distrobench run

  # RKE2-style profile on PostgreSQL (a local server is started for the run)
  distrobench run --profile rke2 --datastore postgres

  # a real k3s binary instead of the bundled k3lite
  distrobench run --binary /usr/local/bin/k3s`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// Progress goes to the terminal through internal/progress; the
			// log adds only warnings and errors unless -v asks for more.
			level := slog.LevelWarn
			if g.verbose {
				level = slog.LevelDebug
			}
			g.log = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
			if g.repoRoot == "" {
				g.repoRoot = findRepoRoot()
			}
			return g.serveMetrics(cmd)
		},
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "debug logging")
	root.PersistentFlags().StringVar(&g.metricsAddr, "metrics-addr", "", "serve distrobench's own live metrics (phase, specs, samples, request rates) for Prometheus at http://ADDR/metrics while it runs: a port (9847: on 127.0.0.1 only) or HOST:PORT")
	root.PersistentFlags().StringVar(&g.repoRoot, "repo", "", "distrobench source tree (holds distro/ and profiles/); default: found from the working directory or the binary's location")
	root.AddCommand(
		newBuildCmd(g), newUpCmd(g), newDownCmd(g), newStatusCmd(g),
		newConformanceCmd(g), newBenchCmd(g), newRunCmd(g), newReportCmd(g),
		newMatrixCmd(g), newProfilesCmd(g), newVersionCmd(g),
		newImagesCmd(g), newCompareCmd(g), newChildSuitesCmd(g),
	)
	err := root.ExecuteContext(ctx)
	if g.stopMetrics != nil {
		_ = g.stopMetrics()
	}
	if err != nil {
		fmt.Fprintf(stderr, "distrobench: %s\n", err)
	}
	return err
}

// ExitCode maps an error to the process exit code, as the README defines
// them: 0 ok, 1 the run completed and failed (a spec, an SLO, a phase: the
// error wraps job.ErrRunFailed), 2 bad input or setup error (anything else),
// 130 interrupted (the error wraps context.Canceled; it wins over 1).
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return 130
	case errors.Is(err, job.ErrRunFailed):
		return 1
	default:
		return 2
	}
}

// findRepoRoot walks up from the working directory, then from the binary,
// to the directory holding distro/go.mod and profiles/.
func findRepoRoot() string {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	for _, dir := range starts {
		for d := dir; ; d = filepath.Dir(d) {
			if isRepoRoot(d) {
				return d
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	wd, _ := os.Getwd()
	return wd
}

func isRepoRoot(d string) bool {
	if _, err := os.Stat(filepath.Join(d, "distro", "go.mod")); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(d, "profiles"))
	return err == nil
}

func (g *globals) profilesDir() string { return filepath.Join(g.repoRoot, "profiles") }
func (g *globals) runsDir() string     { return filepath.Join(g.repoRoot, "_output", "runs") }
func (g *globals) outBase() string     { return filepath.Join(g.repoRoot, "reports", "out") }

// env is what a job needs of this invocation.
func (g *globals) env(cmd *cobra.Command) job.Env {
	return job.Env{RepoRoot: g.repoRoot, OutBase: g.outBase(), ToolVer: Version, Command: commandLine(cmd),
		Log: g.log, Progress: progress.New(g.stderr), Metrics: g.metrics}
}

// serveMetrics starts the live metrics endpoint when --metrics-addr is set.
func (g *globals) serveMetrics(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("metrics-addr") {
		return nil
	}
	addr, err := livemetrics.ListenAddr(g.metricsAddr)
	if err != nil {
		return err
	}
	g.metrics = livemetrics.New()
	bound, stop, err := g.metrics.Serve(cmd.Context(), addr)
	if err != nil {
		return err
	}
	g.stopMetrics = stop
	fmt.Fprintf(g.stderr, "live metrics: http://%s/metrics\n", bound)
	return nil
}

// commandLine is the invocation as typed, for reports (redacted by the caller).
func commandLine(cmd *cobra.Command) string {
	return strings.TrimSpace(cmd.CommandPath() + " " + strings.Join(os.Args[min(len(os.Args), 2):], " "))
}
