package measure

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/distrobench/distrobench/internal/result"
)

// WatchLatencyMetric names the watch fan-out figure.
const WatchLatencyMetric = "watch.delivery.latency"

// WatchOptions configure WatchFanout.
type WatchOptions struct {
	Client kubernetes.Interface // without a client-side rate limiter
	// Watchers is how many watches of the namespace are open (default 10);
	// Events how many objects are created while they watch (default 200),
	// at Rate creates per second (default 50, an open schedule).
	Watchers, Events int
	Rate             float64
	// Timeout bounds the wait for the last event to reach every watcher
	// after the last create (default 1 minute).
	Timeout time.Duration
	Labels  map[string]string
}

func (o *WatchOptions) setDefaults() {
	if o.Watchers <= 0 {
		o.Watchers = 10
	}
	if o.Events <= 0 {
		o.Events = 200
	}
	if o.Rate <= 0 {
		o.Rate = 50
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
}

// fanout is one WatchFanout in progress: when each object's create was
// sent, and when each watcher saw it.
type fanout struct {
	o    WatchOptions
	ns   string
	mu   sync.Mutex
	sent map[string]time.Time
	// seen[w][name] is when watcher w received the object's ADDED event.
	seen []map[string]time.Time
}

// WatchFanout opens o.Watchers watches on a fresh namespace, creates
// o.Events ConfigMaps there on an open schedule, and returns
// "watch.delivery.latency": for every event and every watcher, the time
// from sending the create to that watcher receiving its ADDED event (n =
// watchers × events), on the harness's monotonic clock. An event a watcher
// never received by o.Timeout after the last create is an error naming how
// many were lost.
func WatchFanout(ctx context.Context, o WatchOptions) ([]result.Measurement, error) {
	o.setDefaults()
	if o.Client == nil {
		return nil, errors.New("watch fan-out: no client")
	}
	ns, err := o.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "distrobench-watch-", Labels: map[string]string{"app.kubernetes.io/managed-by": "distrobench"}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("watch fan-out: create namespace: %w", err)
	}
	f := &fanout{o: o, ns: ns.Name, sent: map[string]time.Time{}}
	defer func() {
		_ = o.Client.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), f.ns, metav1.DeleteOptions{})
	}()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if err := f.openWatches(wctx, &wg); err != nil {
		return nil, err
	}
	if err := f.create(ctx); err != nil {
		return nil, err
	}
	lost := f.waitAll(ctx)
	cancel()
	wg.Wait()
	if lost > 0 {
		return nil, fmt.Errorf("watch fan-out: %d of %d events never reached their watcher within %s of the last create", lost, o.Watchers*o.Events, o.Timeout)
	}
	return []result.Measurement{described(result.NewMeasurement(WatchLatencyMetric, "seconds", f.labels(), f.latencies()),
		"time from sending a ConfigMap's create to one watcher receiving its ADDED event, per event and watcher")}, ctx.Err()
}

// openWatches starts every watcher; each records what it receives until ctx ends.
func (f *fanout) openWatches(ctx context.Context, wg *sync.WaitGroup) error {
	for w := range f.o.Watchers {
		wi, err := f.o.Client.CoreV1().ConfigMaps(f.ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("watch fan-out: open watch %d of %d: %w", w+1, f.o.Watchers, err)
		}
		f.seen = append(f.seen, map[string]time.Time{})
		wg.Go(func() { f.receive(ctx, w, wi) })
	}
	return nil
}

func (f *fanout) receive(ctx context.Context, w int, wi watch.Interface) {
	defer wi.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			cm, isCM := ev.Object.(*corev1.ConfigMap)
			if ev.Type != watch.Added || !isCM {
				continue
			}
			now := time.Now()
			f.mu.Lock()
			f.seen[w][cm.Name] = now
			f.mu.Unlock()
		}
	}
}

// create sends the creates on an open schedule of o.Rate per second.
func (f *fanout) create(ctx context.Context) error {
	gen := generator{load: LoadOpen, rate: f.o.Rate, timeout: requestTimeout}
	b := gen.run(ctx, f.o.Events, func(ctx context.Context, i int) error {
		name := "watch-" + strconv.Itoa(i)
		f.mu.Lock()
		f.sent[name] = time.Now()
		f.mu.Unlock()
		_, err := f.o.Client.CoreV1().ConfigMaps(f.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	})
	if err := errors.Join(ctx.Err(), b.firstErr); err != nil {
		return fmt.Errorf("watch fan-out: %d of %d creates failed: %w", b.failures(), f.o.Events, err)
	}
	return nil
}

// waitAll waits until every watcher saw every event, or o.Timeout, and
// returns how many deliveries are missing.
func (f *fanout) waitAll(ctx context.Context) int {
	deadline := time.Now().Add(f.o.Timeout)
	for {
		lost := f.missing()
		if lost == 0 || time.Now().After(deadline) || sleep(ctx, 20*time.Millisecond) != nil {
			return lost
		}
	}
}

func (f *fanout) missing() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, seen := range f.seen {
		for name := range f.sent {
			if _, ok := seen[name]; !ok {
				n++
			}
		}
	}
	return n
}

func (f *fanout) latencies() []float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []float64
	for _, seen := range f.seen {
		for name, at := range seen {
			if sent, ok := f.sent[name]; ok {
				out = append(out, at.Sub(sent).Seconds())
			}
		}
	}
	return out
}

func (f *fanout) labels() map[string]string {
	l := maps.Clone(f.o.Labels)
	if l == nil {
		l = map[string]string{}
	}
	l["watchers"] = strconv.Itoa(f.o.Watchers)
	return l
}
