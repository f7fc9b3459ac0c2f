package measure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/distrobench/distrobench/internal/result"
)

// PodStartupSLOSource names where the pod startup target comes from: the
// Kubernetes scalability SIG's pod startup latency SLO (p99 <= 5 s for
// stateless pods whose image is already present).
const PodStartupSLOSource = "Kubernetes pod startup latency SLO (image present)"

// PodStartupSLO is the SLO's bound on the p99 of pods.startup.latency.
const PodStartupSLO = 5.0

// DefaultPauseImage is the image of the pod startup benchmark: the sandbox
// image every node already has, so no pull is ever measured.
const DefaultPauseImage = "registry.k8s.io/pause:3.10.2"

// PodStartupOptions configure a pod startup latency benchmark.
type PodStartupOptions struct {
	// Config reaches the cluster under test. Client, when set, is used
	// instead (tests use a fake).
	Config *rest.Config
	Client kubernetes.Interface
	// Namespace to create for the benchmark (must not exist; deleted at the
	// end). Default: a generated "distrobench-pods-xxxxx".
	Namespace string
	// Pods to create (default 30, upstream's figure per node).
	Pods int
	// QPS is the rate of pod creations per second (default 10); Concurrency
	// the number of parallel create calls (default 5).
	QPS         float64
	Concurrency int
	// Image of the single container (default DefaultPauseImage); it is
	// never pulled (imagePullPolicy IfNotPresent, the node must have it).
	Image string
	// Timeout for all pods to run (default 5 minutes).
	Timeout time.Duration
	// Labels are added to every measurement.
	Labels map[string]string
	Log    *slog.Logger
	// Progress, when set, receives short status lines.
	Progress func(string)
}

func (o *PodStartupOptions) setDefaults() error {
	if o.Client == nil {
		if o.Config == nil {
			return errors.New("pod startup benchmark: no cluster config (pass a kubeconfig)")
		}
		cfg := rest.CopyConfig(o.Config)
		// As for APILatency: measure the server, not client-go's throttle.
		cfg.QPS, cfg.Burst = 500, 1000
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return fmt.Errorf("pod startup benchmark: client for %s: %w", cfg.Host, err)
		}
		o.Client = cs
	}
	if o.Pods <= 0 {
		o.Pods = 30
	}
	if o.QPS <= 0 {
		o.QPS = 10
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 5
	}
	if o.Image == "" {
		o.Image = DefaultPauseImage
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(string) {}
	}
	return nil
}

// podRecord is what the benchmark knows about one pod.
type podRecord struct {
	sent      time.Time   // just before the create request went out (harness clock)
	observed  time.Time   // when the watch first saw every container running
	pod       *corev1.Pod // the pod as observed then
	createErr error
}

// podStarted reports whether the pod is Running with every container
// running: what the pod startup SLI waits for ("all containers reported as
// started").
func podStarted(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) < len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// podConditionTime returns the last transition time of a pod condition that
// is True.
func podConditionTime(p *corev1.Pod, t corev1.PodConditionType) (time.Time, bool) {
	for _, c := range p.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time, true
		}
	}
	return time.Time{}, false
}

// lastContainerStart is when the last container of the pod started.
func lastContainerStart(p *corev1.Pod) (time.Time, bool) {
	var last time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return time.Time{}, false
		}
		if t := cs.State.Running.StartedAt.Time; t.After(last) {
			last = t
		}
	}
	return last, !last.IsZero()
}

// startupSamples turns the records into samples (seconds):
//   - latency: watch-observed start minus the moment the create was sent
//     (both on the harness's clock, sub-second);
//   - schedule: PodScheduled transition minus creationTimestamp;
//   - run: last container start minus the PodScheduled transition;
//
// the last two come from API timestamps, which have one-second resolution.
// missing names the pods that never started (sorted), with why.
func startupSamples(recs map[string]*podRecord) (latency, schedule, run []float64, missing []string) {
	names := slices.Sorted(maps.Keys(recs))
	for _, name := range names {
		r := recs[name]
		switch {
		case r.createErr != nil:
			missing = append(missing, fmt.Sprintf("%s (create failed: %v)", name, r.createErr))
			continue
		case r.pod == nil || r.observed.IsZero():
			missing = append(missing, name)
			continue
		}
		latency = append(latency, max(r.observed.Sub(r.sent).Seconds(), 0))
		scheduled, okS := podConditionTime(r.pod, corev1.PodScheduled)
		if okS && !r.pod.CreationTimestamp.IsZero() {
			schedule = append(schedule, max(scheduled.Sub(r.pod.CreationTimestamp.Time).Seconds(), 0))
		}
		if started, ok := lastContainerStart(r.pod); ok && okS {
			run = append(run, max(started.Sub(scheduled).Seconds(), 0))
		}
	}
	return latency, schedule, run, missing
}

// PodStartup measures pod startup latency the way the upstream pod startup
// SLI defines it: o.Pods pods of one container (the pause image, already on
// every node) are created at o.QPS with o.Concurrency parallel calls in a
// fresh namespace, and an informer (list+watch) records when each is first
// seen with every container running. It returns:
//   - "pods.startup.latency" (seconds): create request sent -> observed
//     running, one sample per pod, judged against the SLO p99 <= 5 s;
//   - "pods.startup.schedule" and "pods.startup.run" (seconds): the
//     creation -> scheduled and scheduled -> containers started parts, from
//     the pod's own timestamps (one-second resolution).
//
// The namespace is deleted at the end, also on error, and PodStartup waits
// (up to a minute) for it to go, so later measurements see an idle node.
// Pods that did not start in o.Timeout make an error naming them; the
// samples of the others are returned with it.
func PodStartup(ctx context.Context, o PodStartupOptions) ([]result.Measurement, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	cs := o.Client
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Labels: map[string]string{"app.kubernetes.io/managed-by": "distrobench"},
	}}
	if o.Namespace != "" {
		ns.Name = o.Namespace
	} else {
		ns.GenerateName = "distrobench-pods-"
	}
	ns, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("pod startup benchmark: namespace %q already exists: %w (name a new one)", o.Namespace, err)
		}
		return nil, fmt.Errorf("pod startup benchmark: creating a namespace: %w (is the cluster up and the kubeconfig right?)", err)
	}
	defer deleteNamespaceAndWait(ctx, cs, ns.Name, o.Log)

	var (
		mu      sync.Mutex
		recs    = map[string]*podRecord{}
		started = make(chan struct{}, 2*o.Pods) // a pod may both fail its create and show up
	)
	// The informer runs before the first create, so no transition is missed.
	observe := func(obj any) {
		p, ok := obj.(*corev1.Pod)
		if !ok || !podStarted(p) {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		r, ok := recs[p.Name]
		if !ok || !r.observed.IsZero() {
			return
		}
		r.observed, r.pod = now, p.DeepCopy()
		started <- struct{}{}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns.Name))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    observe,
		UpdateFunc: func(_, obj any) { observe(obj) },
	}); err != nil {
		return nil, fmt.Errorf("pod startup benchmark: watch pods: %w", err)
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	factory.StartWithContext(watchCtx)
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(watchCtx.Done(), inf.HasSynced) {
		return nil, fmt.Errorf("pod startup benchmark: the pod watch of namespace %s did not sync: %w", ns.Name, context.Cause(watchCtx))
	}

	names := make([]string, o.Pods)
	for i := range names {
		names[i] = fmt.Sprintf("startup-%03d", i)
		recs[names[i]] = &podRecord{}
	}
	o.Progress(fmt.Sprintf("creating %d pods at %.0f/s, %d in parallel", o.Pods, o.QPS, o.Concurrency))
	createPods(ctx, cs, ns.Name, names, o, func(name string) {
		mu.Lock()
		recs[name].sent = time.Now()
		mu.Unlock()
	}, func(name string, err error) {
		if err == nil {
			return
		}
		mu.Lock()
		recs[name].createErr = err
		mu.Unlock()
		started <- struct{}{} // it will never start: do not wait for it
	})

	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	var waitErr error
wait:
	for done := 0; done < o.Pods; done++ {
		select {
		case <-started:
			if done%10 == 9 {
				o.Progress(fmt.Sprintf("%d/%d pods running", done+1, o.Pods))
			}
		case <-deadline.C:
			waitErr = fmt.Errorf("not every pod ran within %s", o.Timeout)
			break wait
		case <-ctx.Done():
			waitErr = fmt.Errorf("pod startup benchmark interrupted: %w", context.Cause(ctx))
			break wait
		}
	}
	stopWatch()

	mu.Lock()
	latency, schedule, run, missing := startupSamples(recs)
	mu.Unlock()
	labels := maps.Clone(o.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels["pods"] = strconv.Itoa(o.Pods)
	labels["qps"] = strconv.FormatFloat(o.QPS, 'f', -1, 64)
	labels["concurrency"] = strconv.Itoa(o.Concurrency)
	ms := []result.Measurement{
		described(result.NewMeasurement("pods.startup.latency", "seconds", maps.Clone(labels), latency).
			WithSLO("p99", PodStartupSLO, PodStartupSLOSource),
			"time from sending a pod's create request to the watch seeing all its containers running (image already present)"),
		described(result.NewMeasurement("pods.startup.schedule", "seconds", maps.Clone(labels), schedule),
			"pod creationTimestamp to its PodScheduled condition (API timestamps: one-second resolution)"),
		described(result.NewMeasurement("pods.startup.run", "seconds", maps.Clone(labels), run),
			"PodScheduled condition to the last container's startedAt (API timestamps: one-second resolution)"),
	}
	if len(missing) > 0 {
		if waitErr == nil {
			waitErr = errors.New("not every pod was created")
		}
		return ms, fmt.Errorf("pod startup benchmark: %w: %d of %d pods never ran: %s (check the nodes' kubelet and containerd logs; is %s imported on every node?)",
			waitErr, len(missing), o.Pods, summarizeNames(missing, 5), o.Image)
	}
	if waitErr != nil {
		return ms, fmt.Errorf("pod startup benchmark: %w", waitErr)
	}
	return ms, nil
}

// createPods creates the named pods at o.QPS with o.Concurrency workers,
// calling sending just before each request goes out and done after it.
func createPods(ctx context.Context, cs kubernetes.Interface, ns string, names []string, o PodStartupOptions,
	sending func(name string), done func(name string, err error)) {
	limiter := rate.NewLimiter(rate.Limit(o.QPS), 1)
	work := make(chan string)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for name := range work {
				if err := limiter.Wait(ctx); err != nil {
					done(name, err)
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, requestTimeout)
				sending(name)
				_, err := cs.CoreV1().Pods(ns).Create(rctx, startupPod(name, o.Image), metav1.CreateOptions{})
				cancel()
				done(name, err)
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
}

// startupPod is the benchmark's pod: one container of image, never pulled,
// that stops at once when deleted.
func startupPod(name, image string) *corev1.Pod {
	grace := int64(0)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/name": "distrobench-pod-startup"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "pause", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
				// Meets PodSecurity "restricted", so the figure is the same
				// under a hardened (RKE2-style) profile.
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptr.To(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptr.To(true),
				RunAsUser:      ptr.To[int64](65535),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			TerminationGracePeriodSeconds: &grace,
		},
	}
}

// deleteNamespaceAndWait deletes the namespace and waits (up to a minute)
// until it is gone, so the pods no longer run when the caller measures
// something else. The caller's context may be cancelled already.
func deleteNamespaceAndWait(ctx context.Context, cs kubernetes.Interface, ns string, log *slog.Logger) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := cs.CoreV1().Namespaces().Delete(dctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		log.Warn("could not delete the pod startup namespace; delete it by hand", "namespace", ns, "err", err)
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, err := cs.CoreV1().Namespaces().Get(dctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-dctx.Done():
			log.Warn("the pod startup namespace is still terminating; later measurements may see its pods", "namespace", ns)
			return
		case <-tick.C:
		}
	}
}

// summarizeNames lists at most n names and says how many more there are.
func summarizeNames(names []string, n int) string {
	sort.Strings(names)
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
