package job

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/distrobench/distrobench/internal/compare"
	"github.com/distrobench/distrobench/internal/host"
	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/result"
	"github.com/distrobench/distrobench/reports"
)

// PhaseGrowth measures how a cell's cost grows with the objects it stores
// (compare only).
const PhaseGrowth = "growth"

// PhaseCompacted takes growth's last point once the datastore compacted
// the deleted objects away (compare only).
const PhaseCompacted = "growth after compaction"

// PhaseCrossCheck checks a cell's agents' proxy against the apiserver
// (proxyCrossCheck), once per cell after the rounds: its probe's bytes
// stay out of every round's chatter window (compare only; bench does it
// inside its own phase).
const PhaseCrossCheck = "cross-check"

// roundPhase names a phase run once per round ("footprint round 2"): every
// round keeps its own record, so a later round's pass cannot hide an
// earlier round's failure.
func roundPhase(name string, round int) string { return fmt.Sprintf("%s round %d", name, round+1) }

// CompareOptions configure an interleaved comparison of a matrix's cells
// ('distrobench compare MATRIX.yaml').
type CompareOptions struct {
	Env
	// Matrix names the comparison (the matrix's metadata.name).
	Matrix string
	// Cells are the matrix's cells; Cells[0] is the baseline.
	Cells   []profile.Cell
	RunsDir string
	// OutDir is where the comparison goes ("": under OutBase, named by
	// RunID(start, "compare", Matrix)).
	OutDir string
	// Rounds of the idle and load measurements (default 5); Seed shuffles
	// the cells' order in each load round (0: drawn from the clock; the
	// comparison records it either way).
	Rounds int
	Seed   int64
	// OneAtATime brings the cells up one after another even when memory
	// would allow them at once (the comparison is then not interleaved).
	OneAtATime bool
	// NoControl leaves out the A/A control: the baseline cell brought up a
	// second time, measured in every round like the others, whose spread
	// from the baseline holds back differences a second instance shows too
	// (compare.ApplyControl). It is left out anyway when the cells do not
	// fit in memory at once (no call is made then).
	NoControl bool
	// Bench sizes each round's workload: API verbs (Objects, Concurrency,
	// APIRepeats per round), pods (Pods; SkipPods), the idle window of each
	// idle round (IdleWindow).
	Bench BenchOptions
	Load  LoadOptions
	// Growth are the object counts growth is measured at (nil: the
	// default 1k, 10k, 50k); SkipGrowth leaves growth out. Growth's last
	// point waits for the datastore to compact the deleted objects away, at
	// most CompactionTimeout after the deletions (0: not waited for).
	Growth            []int
	SkipGrowth        bool
	CompactionTimeout time.Duration
	Conform           ConformanceOptions
}

// LoadOptions size the load rounds' list and watch workloads.
type LoadOptions struct {
	// ListObjects are stored once per cell before the rounds; each round
	// times Lists full lists of them (defaults 10000 and 10).
	ListObjects, Lists int
	// Watchers watch while WatchEvents objects are created (defaults 10 and
	// 200).
	Watchers, WatchEvents int
}

func (o *CompareOptions) setDefaults() {
	if o.Rounds <= 0 {
		o.Rounds = 5
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if o.Bench.IdleWindow <= 0 {
		o.Bench.IdleWindow = 30 * time.Second
	}
	if o.Bench.APIRepeats <= 0 {
		o.Bench.APIRepeats = 4
	}
	if o.Bench.Settle == (measure.Settle{}) {
		// The cells idled once before the first idle round; before each
		// load the rule is the same with a shorter minimum: what the
		// previous round left is over.
		o.Bench.Settle = o.Bench.idleSettle()
		o.Bench.Settle.Min = min(o.Bench.Settle.Min, 10*time.Second)
	}
	if o.Load.ListObjects <= 0 {
		o.Load.ListObjects = 10000
	}
	if o.Load.Lists <= 0 {
		o.Load.Lists = 10
	}
}

// CompareOutcome is what a comparison produced.
type CompareOutcome struct {
	Comparison *compare.Comparison
	// Page is the comparison's HTML page; Dir holds it with the JSON and
	// Markdown renderings and every cell's own report (cells/).
	Page, Dir string
}

// Compare runs an interleaved comparison: every cell is built, then (when
// memory allows: Together) brought up at once on its own simulated hosts;
// R idle rounds measure every cell's footprint and chatter in one window
// each; R load rounds give every cell the same workload in a shuffled
// order; then growth and conformance run once per cell, and every cluster
// is stopped. Without the memory, each cell runs all of that alone, one
// after another, and the comparison says it was not interleaved. The
// comparison and every cell's report are written whatever happens (a
// failure, Ctrl-C); the error wraps ErrRunFailed when a cell failed.
func Compare(ctx context.Context, o CompareOptions) (*CompareOutcome, error) {
	if len(o.Cells) < 2 {
		return nil, fmt.Errorf("a comparison needs at least two cells, the matrix has %d", len(o.Cells))
	}
	o.setDefaults()
	cmp, err := newComparison(o, time.Now())
	if err != nil {
		return nil, err
	}
	cmp.run(ctx)
	return cmp.finish(ctx)
}

// comparison is one Compare in progress.
type comparison struct {
	o      CompareOptions
	runner runner
	cells  []*cell
	outDir string
	rng    *rand.Rand
	// together and memory record how the cells were brought up, and why.
	together bool
	memory   string
	// imagesByArch are the node images the first cell of each arch made:
	// every cell of an arch imports the same archives.
	imagesByArch map[string][]images.Image
}

// cell is one cell of a comparison: its target and main job (whose build,
// images, up, conformance and upstream phases it reuses) and its figures
// per round.
type cell struct {
	name   string
	t      *Target
	job    *mainJob
	rounds [][]result.Measurement
	list   *measure.ListSet
	// compaction is growth's last point, taken once every cell's growth
	// ran (the wait overlaps the other cells' growth).
	compaction *measure.Compaction
	// out is set when a gate (build, images, up) failed: the cell takes no
	// further part.
	out bool
	// control marks the A/A control: it takes part in the rounds only.
	control bool
}

// controlSuffix names the A/A control after the baseline it repeats.
const controlSuffix = "-control"

func newComparison(o CompareOptions, now time.Time) (*comparison, error) {
	cmp := &comparison{o: o, runner: newRunner(o.Progress, o.Log, o.Metrics), outDir: o.OutDir, imagesByArch: map[string][]images.Image{},
		rng: rand.New(rand.NewPCG(uint64(o.Seed), 0))}
	if cmp.outDir == "" {
		cmp.outDir = filepath.Join(o.OutBase, RunID(now, "compare", o.Matrix))
	}
	for _, pc := range o.Cells {
		c, err := newCell(o, pc, "", cmp.cellsDir(), now)
		if err != nil {
			return nil, err
		}
		cmp.cells = append(cmp.cells, c)
	}
	if o.NoControl {
		return cmp, nil
	}
	base := o.Cells[0]
	base.Profile = base.Profile.DeepCopy()
	c, err := newCell(o, base, controlSuffix, cmp.cellsDir(), now)
	if err != nil {
		return nil, err
	}
	c.control = true
	cmp.cells = slices.Insert(cmp.cells, 1, c)
	return cmp, nil
}

// cellsDir holds every cell's own report (and its upstream suite's logs).
func (cmp *comparison) cellsDir() string { return filepath.Join(cmp.outDir, "cells") }

// newCell makes the cell of pc, its name and run ID followed by suffix.
func newCell(o CompareOptions, pc profile.Cell, suffix, cellsDir string, now time.Time) (*cell, error) {
	p := pc.Profile
	rep := NewReport(o.Command, p.Metadata.Name, pc.Datastore, now, o.ToolVer)
	rep.RunID = CellRunID(now, pc) + suffix
	rep.Params.ProfileFile, rep.Params.Arch, rep.Params.Repeats = p.File, pc.Arch, o.Rounds
	rep.Params.LabelFilter = o.Conform.LabelFilter
	runDir, err := makeRunDir(o.RunsDir, rep.RunID)
	if err != nil {
		return nil, err
	}
	env := o.Env
	env.OutBase = cellsDir
	mo := Options{Env: env, Profile: p, RunsDir: o.RunsDir, Conform: o.Conform, Bench: o.Bench}
	return &cell{name: pc.Name() + suffix, t: &Target{Profile: p, RunDir: runDir, Report: rep}, job: newMainJob(mo),
		rounds: make([][]result.Measurement, o.Rounds)}, nil
}

// run builds every cell, decides whether they fit at once, and runs the
// groups of cells that are up together (all of them, or one at a time).
// Every cluster is stopped when it returns, also after Ctrl-C or a panic.
func (cmp *comparison) run(ctx context.Context) {
	defer cmp.downAll(context.WithoutCancel(ctx))
	for _, c := range cmp.cells {
		cmp.gate(ctx, c, Phase{Name: PhaseBuild, Run: c.job.build})
		cmp.gate(ctx, c, Phase{Name: PhaseImages, When: hasNodes, Run: cmp.images(c)})
	}
	cmp.plan(ctx)
	cmp.o.Progress.Linef("%s", cmp.memory)
	if cmp.together {
		defer cmp.raiseInotify()()
	}
	for _, group := range cmp.groups() {
		if ctx.Err() != nil {
			return
		}
		cmp.runGroup(ctx, group)
	}
}

// plan decides whether the cells run at once (together) and says why
// (memory). Without room for all at once no call is made, so the A/A
// control is dropped and the rest planned again: it must not cost the
// other cells their interleaving.
func (cmp *comparison) plan(ctx context.Context) {
	cmp.together, cmp.memory = planTogether(ctx, cmp.o.OneAtATime, cmp.profiles())
	i := slices.IndexFunc(cmp.cells, func(c *cell) bool { return c.control })
	if cmp.together || i < 0 {
		return
	}
	if err := os.RemoveAll(cmp.cells[i].t.RunDir); err != nil {
		cmp.o.Log.Warn("could not remove the control's run directory", "dir", cmp.cells[i].t.RunDir, "err", err)
	}
	cmp.cells = slices.Delete(cmp.cells, i, i+1)
	cmp.together, cmp.memory = planTogether(ctx, cmp.o.OneAtATime, cmp.profiles())
	cmp.memory += "; without the A/A control (no difference is called one cell at a time)"
}

// raiseInotify raises the machine's inotify limits for every node of the
// comparison at once (each kubelet and containerd opens instances, all as
// root), records it with the memory decision, and returns what restores
// them.
func (cmp *comparison) raiseInotify() (restore func()) {
	nodes := 0
	for _, p := range cmp.profiles() {
		nodes += 1 + p.Spec.Nodes.Agents
	}
	did, undo, err := host.RaiseInotify(nodes)
	if err != nil {
		cmp.o.Progress.Linef("warning: %v", err)
	}
	if did != "" {
		cmp.o.Progress.Linef("%s", did)
		cmp.memory += "; " + did
	}
	return func() {
		if err := undo(); err != nil {
			cmp.o.Log.Warn("could not restore the inotify limits", "err", err)
		}
	}
}

// images is a cell's images phase: the first cell of an arch makes the
// node images (resolving and checking them takes ~25 s even when cached),
// the others take the same archives.
func (cmp *comparison) images(c *cell) func(context.Context, *Target) error {
	return func(ctx context.Context, t *Target) error {
		arch := t.Profile.Spec.Arch
		imgs, made := cmp.imagesByArch[arch]
		if !made {
			err := c.job.images(ctx, t)
			if err == nil {
				cmp.imagesByArch[arch] = t.Images
			}
			return err
		}
		t.Images = imgs
		t.Report.Measurements = append(t.Report.Measurements, ImageMeasurements(imgs)...)
		return WriteImages(t.RunDir, imgs)
	}
}

// gate runs a phase the cell's later ones depend on: when it fails, the
// cell is out.
func (cmp *comparison) gate(ctx context.Context, c *cell, ph Phase) {
	if c.out || ctx.Err() != nil || !ph.applies(c.t) {
		return
	}
	if !cmp.runner.phase(ctx, c.t, ph) {
		c.out = true
	}
}

func (cmp *comparison) profiles() []*profile.Profile {
	out := make([]*profile.Profile, len(cmp.cells))
	for i, c := range cmp.cells {
		out[i] = c.t.Profile
	}
	return out
}

// groups are the cells that are up at the same time: all of them when they
// fit together, else each alone.
func (cmp *comparison) groups() [][]*cell {
	if cmp.together {
		return [][]*cell{cmp.cells}
	}
	out := make([][]*cell, len(cmp.cells))
	for i, c := range cmp.cells {
		out[i] = []*cell{c}
	}
	return out
}

// runGroup brings the group's cells up (one after another, so that each
// start-up is timed alone), measures them in rounds, then (not the A/A
// control) cross-checks the agents' proxy and runs growth once per cell,
// takes every cell's growth point after compaction (the waits overlap),
// then our suites once per cell (each in a child process: Ginkgo runs
// specs once per process; so without the disruptive specs, see
// conformanceInChild), and stops a group that is not the whole comparison
// (the next one needs the memory).
func (cmp *comparison) runGroup(ctx context.Context, group []*cell) {
	for _, c := range group {
		cmp.gate(ctx, c, Phase{Name: PhaseUp, Run: c.job.up})
	}
	for r := range cmp.o.Rounds {
		cmp.idleRound(ctx, group, r)
	}
	cmp.loadRounds(ctx, group)
	for _, c := range group {
		cmp.afterRounds(ctx, c, Phase{Name: PhaseCrossCheck, Run: cmp.crossCheck})
		cmp.afterRounds(ctx, c, Phase{Name: PhaseGrowth, When: func(*Target) bool { return !cmp.o.SkipGrowth }, Run: cmp.growth(c)})
	}
	for _, c := range group {
		cmp.afterRounds(ctx, c, Phase{Name: PhaseCompacted, When: func(*Target) bool { return c.compaction != nil }, Run: cmp.compacted(c)})
	}
	for _, c := range group {
		cmp.afterRounds(ctx, c, Phase{Name: PhaseConformance, When: func(*Target) bool { return !cmp.o.Conform.Skip }, Run: c.job.conformanceInChild})
		cmp.afterRounds(ctx, c, Phase{Name: PhaseUpstream, When: func(*Target) bool { return c.job.runsUpstream() }, Run: c.job.upstream})
	}
	if !cmp.together {
		for _, c := range group {
			cmp.down(context.WithoutCancel(ctx), c)
		}
	}
}

// afterRounds is once for the phases that run once per cell after the
// rounds (growth, conformance, ...): the A/A control takes part in the
// rounds only.
func (cmp *comparison) afterRounds(ctx context.Context, c *cell, ph Phase) {
	if !c.control {
		cmp.once(ctx, c, ph)
	}
}

// once runs a phase on a cell that is in, when it applies.
func (cmp *comparison) once(ctx context.Context, c *cell, ph Phase) {
	if c.out || ctx.Err() != nil || !ph.applies(c.t) {
		return
	}
	cmp.runner.phase(ctx, c.t, ph)
}

// downAll stops every cluster still up.
func (cmp *comparison) downAll(ctx context.Context) {
	for _, c := range cmp.cells {
		cmp.down(ctx, c)
	}
}

func (cmp *comparison) down(ctx context.Context, c *cell) {
	if c.t.Cluster == nil || c.t.Report.Phase(PhaseDown) != nil {
		return
	}
	c.t.interrupted = ctx.Err() != nil
	cmp.runner.phase(ctx, c.t, Phase{Name: PhaseDown, Run: down})
}

// document builds the comparison of the cells' rounds, with the A/A
// control's spread applied when it took part (a control that failed is
// left out: it would leave the other cells no figure in common).
func (cmp *comparison) document() (*compare.Comparison, error) {
	var cells []compare.Cell
	rounds := make([]compare.Round, cmp.o.Rounds)
	control := 0
	for _, c := range cmp.cells {
		if c.control {
			if c.out {
				continue
			}
			control = len(cells)
		}
		cells = append(cells, compare.Cell{Name: c.name, Report: c.t.Report})
		for r := range rounds {
			rounds[r] = append(rounds[r], c.rounds[r])
		}
	}
	doc, err := compare.Build(cells, rounds, []string{"p50", "p99"}, cmp.together)
	if err != nil {
		return nil, err
	}
	doc.Seed, doc.Memory = cmp.o.Seed, cmp.memory
	if !cmp.together {
		doc.Why = cmp.memory
	}
	// plan dropped the control unless the cells run together.
	if control > 0 {
		err = doc.ApplyControl(control)
	}
	return doc, err
}

// finish decides every cell's report and writes it under cells/, then
// builds and writes the comparison. It fails (ErrRunFailed) when a cell
// did not pass.
func (cmp *comparison) finish(ctx context.Context) (*CompareOutcome, error) {
	var failed []error
	for _, c := range cmp.cells {
		c.t.Report.Measurements = append(c.t.Report.Measurements, mergeRounds(c.rounds)...)
		decide(ctx, c.t.Report)
		if _, err := reports.WriteAll(c.t.Report, reports.OutputDir(cmp.cellsDir(), c.t.Report)); err != nil {
			return nil, fmt.Errorf("write cell %s's report: %w", c.name, err)
		}
		if c.t.Report.Status != result.StatusPassed {
			failed = append(failed, fmt.Errorf("cell %s: %s", c.name, c.t.Report.Reason))
		}
	}
	doc, err := cmp.document()
	if err != nil {
		return nil, err
	}
	page, err := reports.WriteComparison(doc, cmp.outDir)
	if err != nil {
		return nil, err
	}
	out := &CompareOutcome{Comparison: doc, Page: page, Dir: cmp.outDir}
	if cause := context.Cause(ctx); cause != nil {
		// Interrupted: the caller's exit code (130) needs the cause.
		return out, fmt.Errorf("%w: interrupted (comparison so far: %s): %w", ErrRunFailed, page, cause)
	}
	if len(failed) > 0 {
		return out, fmt.Errorf("%w: %w (comparison: %s)", ErrRunFailed, errors.Join(failed...), page)
	}
	return out, nil
}
