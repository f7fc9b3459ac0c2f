package measure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/result"
)

// Names of the growth figures.
const (
	GrowthWriteMetric  = "growth.write.latency"
	GrowthListMetric   = "growth.list.latency"
	GrowthMemoryMetric = "growth.server.pss"
	GrowthSizeMetric   = "growth.datastore.size"
	GrowthMemorySlope  = "growth.server.pss.per_10k"
	GrowthSizeSlope    = "growth.datastore.size.per_10k"
	// ObjectsLabel carries the stored object count a growth or list figure
	// was taken at; StageLabel=StageCompacted marks growth's figures taken
	// after every object was deleted and the datastore compacted.
	ObjectsLabel   = "objects"
	StageLabel     = "stage"
	StageCompacted = "compacted"
)

// GrowthOptions configure Growth: how a cluster's cost grows with the
// objects it stores.
type GrowthOptions struct {
	Client kubernetes.Interface // without a client-side rate limiter
	// Steps are the object counts to measure at, ascending (default 1000,
	// 10000, 50000): the namespace is filled up to each in turn.
	Steps      []int
	ObjectSize int // bytes of each ConfigMap's payload (default 1024)
	// Concurrency is the number of workers that fill and that time writes
	// (default 8, closed loop).
	Concurrency int
	// Writes and Lists are the timed writes (a merge patch of a stored
	// object) and full lists of the namespace at every step (default 200
	// and 10).
	Writes, Lists int
	// Memory reads the server's memory (PSS bytes) and DatastoreSize the
	// datastore's size on disk; either may be nil (not measured).
	Memory, DatastoreSize func(ctx context.Context) (float64, error)
	// CompactionPoll is how often the Compaction Growth returns asks
	// whether the datastore compacted (default 10 s).
	CompactionPoll time.Duration
	Labels         map[string]string
	// Progress receives short status lines; optional.
	Progress func(string)
}

func (o *GrowthOptions) setDefaults() {
	if len(o.Steps) == 0 {
		o.Steps = []int{1000, 10000, 50000}
	}
	if o.ObjectSize <= 0 {
		o.ObjectSize = 1024
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Writes <= 0 {
		o.Writes = 200
	}
	if o.Lists <= 0 {
		o.Lists = 10
	}
	if o.CompactionPoll <= 0 {
		o.CompactionPoll = 10 * time.Second
	}
}

// validate refuses steps that are not ascending positive counts.
func (o GrowthOptions) validate() error {
	if o.Client == nil {
		return errors.New("growth: no client")
	}
	return ValidateSteps(o.Steps)
}

// ValidateSteps refuses growth steps that are not ascending positive
// object counts (none: the default).
func ValidateSteps(steps []int) error {
	for i, n := range steps {
		if n <= 0 || (i > 0 && n <= steps[i-1]) {
			return fmt.Errorf("growth steps %v: want ascending positive object counts, e.g. 1000,10000,50000", steps)
		}
	}
	return nil
}

// growth is one Growth measurement in progress.
type growth struct {
	o      GrowthOptions
	c      *collection // its workers also time the writes
	memory []float64   // per step, when measured
	size   []float64
}

// Growth fills a fresh namespace with ConfigMaps up to each of o.Steps and,
// at every step, times o.Writes writes and o.Lists full lists and reads the
// server's memory and the datastore's size; after the last step it deletes
// the objects. It returns the figures (labels objects=N), the fitted slopes
// (per 10 000 objects, least squares over the steps) and the last point
// still to take, once the datastore compacted the deletions away
// (Compaction.Wait: minutes, which a caller with other work can spend on
// it first); and deletes its namespace.
func Growth(ctx context.Context, o GrowthOptions) ([]result.Measurement, *Compaction, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, nil, err
	}
	c, err := newCollection(ctx, o.Client, "growth", o.ObjectSize, o.Concurrency)
	if err != nil {
		return nil, nil, fmt.Errorf("growth: %w", err)
	}
	g := &growth{o: o, c: c}
	defer func() { _ = c.deleteNamespace(context.WithoutCancel(ctx)) }()
	var out []result.Measurement
	for _, n := range o.Steps {
		ms, err := g.step(ctx, n)
		out = append(out, ms...)
		if err != nil {
			return out, nil, err
		}
	}
	out = append(out, g.slopes()...)
	pending, err := g.deleteAll(ctx)
	return out, pending, err
}

// step fills up to n objects and measures there.
func (g *growth) step(ctx context.Context, n int) ([]result.Measurement, error) {
	g.progress("filling to %d objects", n)
	if err := g.c.fill(ctx, n); err != nil {
		return nil, fmt.Errorf("growth: %w", err)
	}
	l := g.labels(ObjectsLabel, strconv.Itoa(n))
	g.progress("timing %d writes and %d lists at %d objects", g.o.Writes, g.o.Lists, n)
	writes := g.c.gen.run(ctx, g.o.Writes, g.write)
	lists := g.c.timeLists(ctx, g.o.Lists)
	if err := errors.Join(ctx.Err(), allFailed("write", writes), allFailed("list", lists)); err != nil {
		return nil, fmt.Errorf("growth at %d objects: %w", n, err)
	}
	out := []result.Measurement{
		described(result.NewMeasurement(GrowthWriteMetric, "seconds", l, writes.latencies),
			"latency of a merge patch of one stored ConfigMap, with the namespace holding `objects` of them (closed loop, no client limiter)"),
		described(result.NewMeasurement(GrowthListMetric, "seconds", maps.Clone(l), lists.latencies), listDescription),
	}
	mem, size := g.readCosts(ctx, l)
	g.memory, g.size = appendIf(g.memory, mem), appendIf(g.size, size)
	return append(out, mem, size), nil
}

// write patches one stored object (spread over all of them).
func (g *growth) write(ctx context.Context, i int) error {
	patch := []byte(`{"metadata":{"annotations":{"distrobench/write":"` + strconv.Itoa(i) + `"}}}`)
	_, err := g.c.client.CoreV1().ConfigMaps(g.c.ns).Patch(ctx, g.c.objectName(i*7919%g.c.stored), types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}

// readCosts reads memory and datastore size; a figure that cannot be read
// is not measured, with the reason.
func (g *growth) readCosts(ctx context.Context, l map[string]string) (mem, size result.Measurement) {
	mem = readCost(ctx, result.Measurement{Name: GrowthMemoryMetric, Unit: "bytes", Labels: maps.Clone(l),
		Description: "proportional set size of the server while the namespace holds `objects` ConfigMaps (or after they were deleted and compacted)"}, g.o.Memory)
	size = readCost(ctx, result.Measurement{Name: GrowthSizeMetric, Unit: "bytes", Labels: maps.Clone(l),
		Description: "the datastore's size on disk while the namespace holds `objects` ConfigMaps (or after they were deleted and compacted)"}, g.o.DatastoreSize)
	return mem, size
}

// readCost fills m with the one value read returns, or says why it has none.
func readCost(ctx context.Context, m result.Measurement, read func(context.Context) (float64, error)) result.Measurement {
	if read == nil {
		return withMissing(m, "no way to read it on this cluster")
	}
	v, err := read(ctx)
	if err != nil {
		return withMissing(m, err.Error())
	}
	return withSamples(m, v)
}

// slopes fits memory and size against the object counts.
func (g *growth) slopes() []result.Measurement {
	return []result.Measurement{
		g.slope(result.Measurement{Name: GrowthMemorySlope, Unit: "bytes", Labels: g.labels(),
			Description: "server memory added per 10 000 stored ConfigMaps: least-squares slope over the steps"}, g.memory),
		g.slope(result.Measurement{Name: GrowthSizeSlope, Unit: "bytes", Labels: g.labels(),
			Description: "datastore size on disk added per 10 000 stored ConfigMaps: least-squares slope over the steps"}, g.size),
	}
}

// slope fills m with the least-squares slope of ys (one per step) per
// 10 000 objects.
func (g *growth) slope(m result.Measurement, ys []float64) result.Measurement {
	if len(ys) != len(g.o.Steps) || len(ys) < 2 {
		return withMissing(m, "needs the figure at every step, and at least two steps")
	}
	xs := make([]float64, len(g.o.Steps))
	for i, n := range g.o.Steps {
		xs[i] = float64(n)
	}
	return withSamples(m, Slope(xs, ys)*10000)
}

func withMissing(m result.Measurement, why string) result.Measurement {
	m.Samples, m.Missing = []float64{}, why
	return m
}

func withSamples(m result.Measurement, vs ...float64) result.Measurement {
	m.Samples = vs
	m.Summary = result.Summarize(vs)
	return m
}

// deleteAll deletes every object and notes the revision Compaction waits
// to see compacted: compactionRetain before the one that follows the
// deletions.
func (g *growth) deleteAll(ctx context.Context) (*Compaction, error) {
	g.progress("deleting the %d objects", g.c.stored)
	if err := g.c.empty(ctx); err != nil {
		return nil, fmt.Errorf("growth: %w", err)
	}
	l, err := g.c.client.CoreV1().ConfigMaps(g.c.ns).List(ctx, metav1.ListOptions{Limit: 1})
	if err == nil && l.ResourceVersion == "" {
		err = errors.New("the list carries no resourceVersion")
	}
	if err != nil {
		return nil, fmt.Errorf("growth: reading the revision after the deletions: %w", err)
	}
	after, err := strconv.ParseInt(l.ResourceVersion, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("growth: the revision after the deletions %q is not a number: %w", l.ResourceVersion, err)
	}
	return &Compaction{g: g, rv: strconv.FormatInt(max(after-compactionRetain, 1), 10), deletedAt: time.Now()}, nil
}

// labels are o.Labels plus key/value pairs.
func (g *growth) labels(kv ...string) map[string]string {
	l := maps.Clone(g.o.Labels)
	if l == nil {
		l = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return l
}

func (g *growth) progress(format string, args ...any) {
	if g.o.Progress != nil {
		g.o.Progress(fmt.Sprintf(format, args...))
	}
}

// Slope is the least-squares slope of ys against xs (0 when the xs do not
// vary).
func Slope(xs, ys []float64) float64 {
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(len(xs))
	my /= float64(len(ys))
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// appendIf appends m's one sample when it was measured.
func appendIf(vs []float64, m result.Measurement) []float64 {
	if m.Missing != "" || len(m.Samples) == 0 {
		return vs
	}
	return append(vs, m.Samples[0])
}

// allFailed is an error when every request of the batch failed.
func allFailed(what string, b batch) error {
	if len(b.latencies) > 0 && b.failures() == len(b.latencies) {
		return fmt.Errorf("every %s failed: %w", what, b.firstErr)
	}
	return nil
}
