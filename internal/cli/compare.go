package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/distrobench/distrobench/internal/job"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/profile"
)

// compareFlags are the flags of an interleaved comparison of a matrix.
type compareFlags struct {
	sf       suiteFlags
	bf       benchFlags
	uf       upstreamRunFlags
	o        job.CompareOptions
	noConf   bool
	outDir   string
	steps    []int
	skipPods bool
}

func (f *compareFlags) bind(fs *pflag.FlagSet) {
	f.sf.bind(fs)
	f.bf.bind(fs)
	f.uf.bind(fs)
	// A comparison repeats in rounds: each round's workload is shorter than
	// a run's, and the upstream suite is optional.
	setDefault(fs, "idle-window", "30s", "how long each idle round samples memory, CPU and chatter")
	setDefault(fs, "api-repeats", "4", "API latency: create..delete cycles per round")
	setDefault(fs, "upstream", "none", "")
	_ = fs.MarkHidden("repeats") // rounds repeat a comparison
	fs.IntVar(&f.o.Rounds, "rounds", 5, "rounds of the idle and load measurements (a difference is called only when every round agrees)")
	fs.Int64Var(&f.o.Seed, "seed", 0, "seed of the cells' shuffled order in the load rounds (0: from the clock; recorded either way)")
	fs.BoolVar(&f.o.OneAtATime, "one-at-a-time", false, "bring the cells up one after another even when memory allows all at once (not interleaved)")
	fs.BoolVar(&f.o.NoControl, "no-control", false, "leave out the A/A control (the baseline cell brought up a second time, whose spread from the baseline holds back differences two instances of one cell show)")
	fs.IntVar(&f.o.Load.ListObjects, "list-objects", 10000, "objects stored once per cell that every round lists")
	fs.IntVar(&f.o.Load.Lists, "lists", 10, "full lists of --list-objects timed per round")
	fs.IntVar(&f.o.Load.Watchers, "watchers", 10, "watch fan-out: watchers per cell")
	fs.IntVar(&f.o.Load.WatchEvents, "watch-events", 200, "watch fan-out: objects created while they watch")
	fs.IntSliceVar(&f.steps, "growth-steps", nil, "object counts growth is measured at (default 1000,10000,50000)")
	fs.BoolVar(&f.o.SkipGrowth, "skip-growth", false, "do not measure growth")
	fs.DurationVar(&f.o.CompactionTimeout, "compaction-timeout", 12*time.Minute,
		"growth's last point: wait at most this long after the deletions for the datastore to compact them away (kube-apiserver compacts every 5m by default; 0: do not wait)")
	fs.BoolVar(&f.skipPods, "skip-pods", false, "leave pod startup out of the load rounds")
	fs.BoolVar(&f.noConf, "skip-conformance", false, "do not run our suites in each cell")
	fs.StringVar(&f.outDir, "out", "", "directory for the comparison (default: reports/out/<UTC time>-compare-<matrix or n runs>)")
}

// setDefault changes a shared flag's default for one command (usage ""
// keeps the shared text).
func setDefault(fs *pflag.FlagSet, name, value, usage string) {
	f := fs.Lookup(name)
	_ = f.Value.Set(value)
	f.DefValue = value
	if usage != "" {
		f.Usage = usage
	}
}

// validate rejects sizes that cannot make a comparison.
func (f *compareFlags) validate() error {
	for _, c := range []struct {
		flag string
		v    int
	}{{"--rounds", f.o.Rounds}, {"--list-objects", f.o.Load.ListObjects}, {"--lists", f.o.Load.Lists},
		{"--watchers", f.o.Load.Watchers}, {"--watch-events", f.o.Load.WatchEvents}} {
		if c.v < 1 {
			return fmt.Errorf("%s %d: want 1 or more", c.flag, c.v)
		}
	}
	if f.o.CompactionTimeout < 0 {
		return fmt.Errorf("--compaction-timeout %s: want 0 (do not wait) or more", f.o.CompactionTimeout)
	}
	return measure.ValidateSteps(f.steps)
}

// options are the comparison's options once the flags are checked.
func (f *compareFlags) options(g *globals, cmd *cobra.Command, m *profile.Matrix) (job.CompareOptions, error) {
	if err := f.bf.validate(cmd.Flags()); err != nil {
		return job.CompareOptions{}, err
	}
	if err := f.validate(); err != nil {
		return job.CompareOptions{}, err
	}
	mode, err := f.uf.parse()
	if err != nil {
		return job.CompareOptions{}, err
	}
	cells, err := m.Expand(g.profilesDir())
	if err != nil {
		return job.CompareOptions{}, err
	}
	o := f.o
	o.Env, o.Matrix, o.Cells, o.RunsDir, o.OutDir = g.env(cmd), m.Metadata.Name, cells, g.runsDir(), f.outDir
	o.Bench = f.bf.o
	o.Bench.SkipPods = f.skipPods
	o.Growth = f.steps
	o.Conform = job.ConformanceOptions{Skip: f.noConf, LabelFilter: f.sf.labelFilter, Timeout: f.sf.timeout,
		Upstream: mode, UpstreamProcs: f.uf.procs}
	return o, nil
}

func newCompareCmd(g *globals) *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "compare MATRIX.yaml | REPORT.json REPORT.json [REPORT.json...]",
		Short: "Compare a matrix's cells in one interleaved run, or set separate runs side by side",
		Long: `With a matrix file (profiles/matrix/*.yaml), bring every cell up at once, each on
its own simulated hosts (when memory allows: it checks and says so; otherwise
one at a time, and the comparison says it was not interleaved), then:
  idle   --rounds windows in which every cell's footprint and control-plane
         chatter are sampled at the same time;
  load   --rounds rounds in which every cell gets the same workload in an
         order shuffled per round (--seed): API verbs, lists of --list-objects
         objects, watch fan-out, pod startup, with the chatter it causes;
  growth once per cell: memory, datastore size, list and write latency at
         each of --growth-steps stored objects, with fitted slopes; then,
         once the datastore compacted the deleted objects away, memory and
         size again (the wait overlaps the other cells' growth);
  our suites once per cell (--upstream core|certified adds the upstream suite).
Every figure: each cell's median over the rounds, and its ratio to the first
cell (the baseline) as the median of per-round ratios with their min-max; a
difference is called only when every round agrees on its side of 1.

With two or more report.json files, set runs taken separately side by side:
they were not interleaved, so the ratios are shown and no difference is called.

Either way the comparison is written as comparison.json, a self-contained
comparison.html and comparison.md (a matrix's also holds every cell's report
under cells/).`,
		Example: `  distrobench compare profiles/matrix/datastores.yaml
  distrobench compare profiles/matrix/datastores.yaml --rounds 3 --skip-growth --skip-conformance
  distrobench compare reports/out/20261207T072154Z-k3s-sqlite/report.json reports/out/20261207T072849Z-k3s-postgres/report.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !isMatrixFile(args[0]) {
				return compareReports(g, cmd, args, f.outDir)
			}
			if len(args) > 1 {
				return fmt.Errorf("compare takes one matrix file, got %d arguments: %s", len(args), strings.Join(args, " "))
			}
			return compareMatrix(g, cmd, &f, args[0])
		},
	}
	f.bind(cmd.Flags())
	return cmd
}

func isMatrixFile(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}

// compareReports sets runs taken separately side by side.
func compareReports(g *globals, cmd *cobra.Command, paths []string, outDir string) error {
	if len(paths) < 2 {
		return errors.New("compare needs a matrix file, or two or more report.json files")
	}
	page, err := job.CompareReports(g.env(cmd), paths, outDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "compared %d runs (not interleaved): %s\n", len(paths), page)
	return nil
}

// compareMatrix runs the interleaved comparison of a matrix's cells.
func compareMatrix(g *globals, cmd *cobra.Command, f *compareFlags, path string) error {
	m, err := profile.LoadMatrix(path)
	if err != nil {
		return err
	}
	m.SetDefaults()
	if err := m.Validate(); err != nil {
		return err
	}
	o, err := f.options(g, cmd, m)
	if err != nil {
		return err
	}
	out, err := job.Compare(cmd.Context(), o)
	if out != nil {
		how := "interleaved"
		if !out.Comparison.Interleaved {
			how = "not interleaved"
		}
		fmt.Fprintf(g.stdout, "compared %d cells of %s (%s): %s\n", len(out.Comparison.Cells), m.Metadata.Name, how, out.Page)
	}
	return err
}
