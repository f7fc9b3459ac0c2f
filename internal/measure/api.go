package measure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"

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
	// Config reaches the cluster under test; nothing else is contacted. Its
	// rate limiter (QPS, Burst, RateLimiter) is replaced by one that never
	// waits: the load shape below sets the load, not the client.
	Config *rest.Config
	// Namespace is the name of the namespace to create for the benchmark; it
	// must not exist yet and is deleted at the end. Default: a generated
	// "distrobench-api-xxxxx".
	Namespace string
	// Objects is the number of ConfigMaps per repeat (default 200); every
	// verb runs Objects times per repeat.
	Objects int
	// Load is the load shape: LoadClosed (Concurrency workers) or LoadOpen
	// (Rate requests/s). Default: LoadOpen when Rate > 0, else LoadClosed.
	Load Load
	// Concurrency is the number of workers of a closed loop (default 8).
	Concurrency int
	// Rate is the requests per second of an open loop.
	Rate float64
	// RequestTimeout bounds one request (default 1 minute); a request that
	// runs out of it fails and counts as a latency sample of its timeout.
	RequestTimeout time.Duration
	// ErrorBudget is the fraction of a verb's requests that may fail
	// (0..1, default 0: none); more fails the api.error_rate SLO.
	ErrorBudget float64
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

// ErrorBudgetSource names where the api.error_rate target comes from.
const ErrorBudgetSource = "distrobench API error budget (--api-error-budget)"

// requestTimeout bounds one request so a hung server fails the request
// instead of the run (the API benchmark's default; pods.go uses it too).
const requestTimeout = time.Minute

func (o *APIOptions) setDefaults() {
	if o.Objects <= 0 {
		o.Objects = 200
	}
	if o.Load == "" {
		o.Load = LoadClosed
		if o.Rate > 0 {
			o.Load = LoadOpen
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = requestTimeout
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
}

// Validate reports every option that cannot work, all at once; zero values
// take their defaults and are valid. It does not need Config.
func (o APIOptions) Validate() error {
	var errs []error
	switch o.Load {
	case "", LoadClosed:
		if o.Load == LoadClosed && o.Rate > 0 {
			errs = append(errs, fmt.Errorf("API benchmark: a rate (%g/s) is for an open loop, not a closed one", o.Rate))
		}
	case LoadOpen:
		if o.Rate <= 0 {
			errs = append(errs, errors.New("API benchmark: an open loop needs a rate above 0 requests/s"))
		}
	default:
		errs = append(errs, fmt.Errorf("API benchmark: load %q is neither %q nor %q", o.Load, LoadClosed, LoadOpen))
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		errs = append(errs, fmt.Errorf("API benchmark: rate %g is negative or not a number (0 runs a closed loop)", o.Rate))
	}
	if o.ErrorBudget < 0 || o.ErrorBudget > 1 || math.IsNaN(o.ErrorBudget) {
		errs = append(errs, fmt.Errorf("API benchmark: error budget %g is not a fraction between 0 and 1", o.ErrorBudget))
	}
	if o.RequestTimeout < 0 {
		errs = append(errs, fmt.Errorf("API benchmark: request timeout %s is negative", o.RequestTimeout))
	}
	return errors.Join(errs...)
}

func (o APIOptions) generator() generator {
	return generator{load: o.Load, concurrency: o.Concurrency, rate: o.Rate, timeout: o.RequestTimeout}
}

// Describe says the benchmark's size and load shape in a few words, for a
// progress line.
func (o APIOptions) Describe() string {
	o.setDefaults()
	return fmt.Sprintf("%d objects x %d verbs x %d repeats, %s", o.Objects, len(Verbs), o.Repeats, o.generator())
}

// verbStats collects one verb's figures over all repeats.
// RateAchievedMetric names the API benchmark's achieved rate per verb.
const RateAchievedMetric = "api.rate.achieved"

type verbStats struct {
	latencies []float64 // seconds, every issued request of every repeat
	failed    []float64 // per issued request: 1 failed, 0 succeeded
	achieved  []float64 // successful requests/s, one per repeat
	offered   []float64 // requests sent/s, one per repeat
}

// APILatency runs Repeats cycles of create, get, list (of the namespace),
// update and delete of Objects ConfigMaps in a fresh namespace, each verb
// under the load shape of o (closed loop: Concurrency workers; open loop:
// Rate requests/s on a schedule), with no client-side rate limiter, and
// returns per verb:
//   - "api.latency" (seconds): every issued request is a sample, from its
//     (scheduled) send time until it answered or failed; a timed-out
//     request counts at its timeout. Judged against the Kubernetes API call
//     latency SLO;
//   - "api.error_rate" (ratio): one sample per issued request, 1 when it
//     failed or timed out, else 0, so its mean is the fraction that failed
//     and n the requests issued. Judged (mean) against ErrorBudget;
//   - "api.rate.achieved" (ops/s): successful requests per second of wall
//     time, one sample per repeat;
//   - "api.rate.offered" (ops/s): requests sent per second, one sample per
//     repeat: an open loop's scheduled rate; for a closed loop, whose
//     workers send only when answers come back, the requests issued
//     (answered or failed) per second of wall time;
//
// all labelled {verb, load, concurrency or rate, objectSize} plus o.Labels;
// and "apiserver.requests" (count): the growth of the apiserver's
// apiserver_request_total during the benchmark (all clients, so it includes
// the cluster's own chatter), when its /metrics is readable.
//
// The namespace is deleted at the end, also on error. Measurements are
// returned along with an error when a verb failed for every object of a
// repeat (the cluster could not do the work at all).
func APILatency(ctx context.Context, o APIOptions) ([]result.Measurement, error) {
	if o.Config == nil {
		return nil, errors.New("API benchmark: no cluster config (pass a kubeconfig)")
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o.setDefaults()
	cs, cfg, err := unthrottledClient(o.Config)
	if err != nil {
		return nil, err
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
	stats := newVerbStats()
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

// unthrottledClient builds the benchmark's client from c with client-go's
// always-allow rate limiter. client-go otherwise waits in a token bucket
// (QPS 5 / burst 10 by default) before sending, inside the call the
// benchmark times, and that wait would be reported as server latency.
func unthrottledClient(c *rest.Config) (*kubernetes.Clientset, *rest.Config, error) {
	cfg := rest.CopyConfig(c)
	cfg.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("API benchmark: client for %s: %w", cfg.Host, err)
	}
	return cs, cfg, nil
}

func newVerbStats() map[string]*verbStats {
	stats := map[string]*verbStats{}
	for _, v := range Verbs {
		stats[v] = &verbStats{}
	}
	return stats
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
	gen := b.o.generator()
	for _, v := range Verbs {
		bt := gen.run(ctx, n, ops[v])
		if ctx.Err() != nil {
			return fmt.Errorf("API benchmark interrupted: %w", ctx.Err())
		}
		stats[v].add(bt, b.o)
		failed := bt.failures()
		line += fmt.Sprintf(" %s p99 %.0fms", v, result.Summarize(bt.latencies).P99*1000)
		if failed > 0 {
			line += fmt.Sprintf(" (%d failed)", failed)
			b.o.Log.Warn("API requests failed", "verb", v, "repeat", r+1, "failed", failed, "of", n, "first", bt.firstErr)
		}
		if failed == n {
			return fmt.Errorf("API benchmark: every %s of repeat %d failed: %w (is the apiserver healthy?)", v, r+1, bt.firstErr)
		}
	}
	if b.o.Progress == nil {
		b.o.Log.Info(line)
	} else {
		b.o.Log.Debug(line) // the caller shows it; do not print it twice
		b.o.Progress(line)
	}
	return nil
}

// add records one repeat's batch of a verb.
func (s *verbStats) add(bt batch, o APIOptions) {
	s.latencies = append(s.latencies, bt.latencies...)
	for _, f := range bt.failed {
		v := 0.0
		if f {
			v = 1
		}
		s.failed = append(s.failed, v)
	}
	issued := len(bt.failed)
	s.achieved = append(s.achieved, float64(issued-bt.failures())/bt.wall.Seconds())
	offered := o.Rate // an open loop offers its schedule
	if o.Load == LoadClosed {
		offered = float64(issued) / bt.wall.Seconds()
	}
	s.offered = append(s.offered, offered)
}

// offeredHow says how each load shape's offered rate is known.
var offeredHow = map[Load]string{
	LoadOpen:   "the open-loop schedule's rate",
	LoadClosed: "calls issued (answered or failed) per second of wall time; a closed loop sends only as answers come back",
}

// labels are a verb's measurement labels: the verb, the load shape and the
// object size, plus the caller's.
func (b *bench) labels(verb string) map[string]string {
	labels := maps.Clone(b.o.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["verb"] = verb
	labels["load"] = string(b.o.Load)
	if b.o.Load == LoadOpen {
		labels["rate"] = strconv.FormatFloat(b.o.Rate, 'f', -1, 64)
	} else {
		labels["concurrency"] = strconv.Itoa(b.o.Concurrency)
	}
	labels["objectSize"] = strconv.Itoa(b.o.ObjectSize)
	return labels
}

func (b *bench) measurements(stats map[string]*verbStats) []result.Measurement {
	var ms []result.Measurement
	for _, v := range Verbs {
		s := stats[v]
		threshold := 1.0 // mutating calls and single-object reads
		if v == "list" {
			threshold = 5.0 // namespace-scoped lists
		}
		ms = append(ms,
			described(result.NewMeasurement("api.latency", "seconds", b.labels(v), s.latencies),
				fmt.Sprintf("latency of every issued ConfigMap %s, from its (scheduled) send time until it answered or failed; a timed-out request counts at its timeout (%s)", v, b.o.RequestTimeout)).
				WithSLO("p99", threshold, SLOSource),
			described(result.NewMeasurement("api.error_rate", "ratio", b.labels(v), s.failed),
				fmt.Sprintf("one sample per issued ConfigMap %s: 1 when it failed or timed out, else 0; the mean is the fraction that failed", v)).
				WithSLO("mean", b.o.ErrorBudget, ErrorBudgetSource),
			described(result.NewMeasurement("api.rate.offered", "ops/s", b.labels(v), s.offered),
				fmt.Sprintf("ConfigMap %s calls sent per second, one sample per repeat: %s", v, offeredHow[b.o.Load])),
			described(result.NewMeasurement(RateAchievedMetric, "ops/s", b.labels(v), s.achieved),
				fmt.Sprintf("successful ConfigMap %s calls per second of wall time (first send to last answer; open loop: at least the schedule's span), one sample per repeat", v)),
		)
	}
	return ms
}
