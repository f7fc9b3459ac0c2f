package measure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/result"
)

// SLOSource names where the latency targets come from: the Kubernetes
// scalability SIG's API call latency SLO (p99 of mutating and single-object
// read calls <= 1 s; of namespace-scoped lists <= 5 s).
const SLOSource = "Kubernetes API call latency SLO"

// Verbs measured by APILatency, in the order they run.
var Verbs = []string{"create", "get", "list", "update", "delete"}

// APIOptions configure an API latency benchmark.
type APIOptions struct {
	// Config reaches the cluster under test; nothing else is contacted.
	Config *rest.Config
	// Namespace is the name of the namespace to create for the benchmark; it
	// must not exist yet and is deleted at the end. Default: a generated
	// "distrobench-api-xxxxx".
	Namespace string
	// Objects is the number of ConfigMaps per repeat (default 200); every
	// verb runs Objects times per repeat.
	Objects int
	// Concurrency is the number of parallel workers (default 8).
	Concurrency int
	// ObjectSize is the bytes of data in each ConfigMap (default 1024).
	ObjectSize int
	// Repeats of the whole create..delete cycle (default 5).
	Repeats int
	// Labels are added to every measurement (profile, datastore, arch, ...).
	Labels map[string]string
	Log    *slog.Logger
	// Progress, when set, receives one short line per repeat.
	Progress func(string)
}

func (o *APIOptions) setDefaults() error {
	if o.Config == nil {
		return errors.New("API benchmark: no cluster config (pass a kubeconfig)")
	}
	if o.Objects <= 0 {
		o.Objects = 200
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.ObjectSize <= 0 {
		o.ObjectSize = 1024
	}
	if o.Repeats <= 0 {
		o.Repeats = 5
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// verbStats collects one verb's figures over all repeats.
type verbStats struct {
	latencies  []float64 // seconds, every successful request of every repeat
	throughput []float64 // ops/s, one per repeat
	errors     []float64 // failed requests, one per repeat
}

// APILatency runs Repeats cycles of create, get, list (of the namespace),
// update and delete of Objects ConfigMaps with Concurrency workers in a fresh
// namespace, and returns per verb:
//   - "api.latency" (seconds): every successful request's latency as a
//     sample, judged against the Kubernetes API call latency SLO;
//   - "api.throughput" (ops/s): successful requests per second, one sample
//     per repeat;
//   - "api.errors" (count): failed requests, one sample per repeat;
//
// all labelled {verb, concurrency, objectSize} plus o.Labels; and
// "apiserver.requests" (count): the growth of the apiserver's
// apiserver_request_total during the benchmark (all clients, so it includes
// the cluster's own chatter), when its /metrics is readable.
//
// The namespace is deleted at the end, also on error. Measurements are
// returned along with an error when a verb failed for every object of a
// repeat (the cluster could not do the work at all).
func APILatency(ctx context.Context, o APIOptions) ([]result.Measurement, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	cfg := rest.CopyConfig(o.Config)
	// client-go throttles itself to QPS 5 / burst 10 by default; that would
	// measure the client's rate limiter, not the server. Raise it well above
	// what Concurrency workers can issue so every wait is the server's.
	cfg.QPS, cfg.Burst = 500, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("API benchmark: client for %s: %w", cfg.Host, err)
	}

	before, scrapeErr := ScrapeMetrics(ctx, cfg, "/metrics")
	if scrapeErr != nil {
		o.Log.Warn("apiserver metrics not readable; apiserver.requests will be missing", "err", scrapeErr)
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Labels: map[string]string{"app.kubernetes.io/managed-by": "distrobench"},
	}}
	if o.Namespace != "" {
		ns.Name = o.Namespace
	} else {
		ns.GenerateName = "distrobench-api-"
	}
	ns, err = cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("API benchmark: namespace %q already exists: %w (the benchmark deletes its namespace at the end; name a new one)", o.Namespace, err)
		}
		return nil, fmt.Errorf("API benchmark: creating a namespace on %s: %w (is the cluster up and the kubeconfig right?)", cfg.Host, err)
	}
	o.Log.Info("API benchmark namespace created", "namespace", ns.Name)
	defer func() {
		// The caller's context may be cancelled already: clean up anyway.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(dctx, ns.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			o.Log.Warn("could not delete the API benchmark namespace; delete it by hand", "namespace", ns.Name, "err", err)
		}
	}()

	b := &bench{o: o, cm: cs.CoreV1().ConfigMaps(ns.Name), payload: payload(o.ObjectSize)}
	stats := map[string]*verbStats{}
	for _, v := range Verbs {
		stats[v] = &verbStats{}
	}
	var runErr error
	for r := range o.Repeats {
		if err := b.repeat(ctx, r, stats); err != nil {
			runErr = err
			break
		}
	}

	ms := b.measurements(stats)
	if scrapeErr == nil && runErr == nil {
		after, err := ScrapeMetrics(ctx, cfg, "/metrics")
		if err != nil {
			o.Log.Warn("apiserver metrics not readable after the benchmark", "err", err)
		} else if d, ok := counterDelta(before, after, "apiserver_request_total"); ok {
			ms = append(ms, described(result.NewMeasurement("apiserver.requests", "count", maps.Clone(o.Labels), []float64{d}),
				"growth of apiserver_request_total during the API benchmark (all clients)"))
		}
	}
	return ms, runErr
}

type bench struct {
	o       APIOptions
	cm      typedcorev1.ConfigMapInterface
	payload string
}

// payload returns n bytes of letters. They are pseudo-random (fixed seed, so
// every run stores the same data) so that HTTP or storage compression cannot
// shrink them to nothing.
func payload(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

// requestTimeout bounds one request so a hung server fails the request
// instead of the run.
const requestTimeout = time.Minute

func (b *bench) repeat(ctx context.Context, r int, stats map[string]*verbStats) error {
	n := b.o.Objects
	name := func(i int) string { return fmt.Sprintf("bench-r%d-%05d", r, i) }
	created := make([]*corev1.ConfigMap, n)
	ops := map[string]func(ctx context.Context, i int) error{
		"create": func(ctx context.Context, i int) error {
			cm, err := b.cm.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name(i), Labels: map[string]string{"distrobench/repeat": strconv.Itoa(r)}},
				Data:       map[string]string{"payload": b.payload},
			}, metav1.CreateOptions{})
			created[i] = cm
			return err
		},
		"get": func(ctx context.Context, i int) error {
			_, err := b.cm.Get(ctx, name(i), metav1.GetOptions{})
			return err
		},
		"list": func(ctx context.Context, _ int) error {
			_, err := b.cm.List(ctx, metav1.ListOptions{})
			return err
		},
		"update": func(ctx context.Context, i int) error {
			cm := created[i]
			if cm == nil { // create failed: the update fails too and is counted
				cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name(i)}}
			}
			cm = cm.DeepCopy()
			cm.Data = map[string]string{"payload": b.payload[1:] + "u"}
			_, err := b.cm.Update(ctx, cm, metav1.UpdateOptions{})
			return err
		},
		"delete": func(ctx context.Context, i int) error {
			return b.cm.Delete(ctx, name(i), metav1.DeleteOptions{})
		},
	}
	line := fmt.Sprintf("API benchmark repeat %d/%d:", r+1, b.o.Repeats)
	for _, v := range Verbs {
		lat, failed, wall, firstErr := runConcurrently(ctx, n, b.o.Concurrency, ops[v])
		if ctx.Err() != nil {
			return fmt.Errorf("API benchmark interrupted: %w", ctx.Err())
		}
		s := stats[v]
		s.latencies = append(s.latencies, lat...)
		s.throughput = append(s.throughput, float64(len(lat))/wall.Seconds())
		s.errors = append(s.errors, float64(failed))
		if failed > 0 {
			b.o.Log.Warn("API requests failed", "verb", v, "repeat", r+1, "failed", failed, "of", n, "first", firstErr)
		}
		if failed == n {
			return fmt.Errorf("API benchmark: every %s of repeat %d failed: %w (is the apiserver healthy?)", v, r+1, firstErr)
		}
		line += fmt.Sprintf(" %s p99 %.0fms", v, result.Summarize(lat).P99*1000)
	}
	if b.o.Progress == nil {
		b.o.Log.Info(line)
	} else {
		b.o.Log.Debug(line) // the caller shows it; do not print it twice
		b.o.Progress(line)
	}
	return nil
}

// runConcurrently calls op(ctx, i) for i in [0, n) from workers goroutines
// and returns the latency in seconds of each successful call, the number of
// failed calls, the wall time of the whole batch and the first error.
func runConcurrently(ctx context.Context, n, workers int, op func(ctx context.Context, i int) error) ([]float64, int, time.Duration, error) {
	next := make(chan int)
	var (
		mu       sync.Mutex
		lat      = make([]float64, 0, n)
		failed   int
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				t0 := time.Now()
				err := op(rctx, i)
				d := time.Since(t0).Seconds()
				cancel()
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return lat, failed, time.Since(start), firstErr
}

func (b *bench) measurements(stats map[string]*verbStats) []result.Measurement {
	var ms []result.Measurement
	for _, v := range Verbs {
		s := stats[v]
		labels := maps.Clone(b.o.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["verb"] = v
		labels["concurrency"] = strconv.Itoa(b.o.Concurrency)
		labels["objectSize"] = strconv.Itoa(b.o.ObjectSize)

		threshold := 1.0 // mutating calls and single-object reads
		if v == "list" {
			threshold = 5.0 // namespace-scoped lists
		}
		ms = append(ms,
			described(result.NewMeasurement("api.latency", "seconds", labels, s.latencies),
				fmt.Sprintf("latency of each successful ConfigMap %s", v)).WithSLO("p99", threshold, SLOSource),
			described(result.NewMeasurement("api.throughput", "ops/s", maps.Clone(labels), s.throughput),
				fmt.Sprintf("successful ConfigMap %s calls per second, one sample per repeat", v)),
			described(result.NewMeasurement("api.errors", "count", maps.Clone(labels), s.errors),
				fmt.Sprintf("failed ConfigMap %s calls, one sample per repeat", v)),
		)
	}
	return ms
}
