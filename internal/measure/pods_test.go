package measure

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/distrobench/distrobench/internal/result"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// runningPod is a pod as the kubelet reports it once its containers run.
func runningPod(name string, created, scheduled, started time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(scheduled)}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
				Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)},
			}}},
		},
	}
}

func TestPodStarted(t *testing.T) {
	running := runningPod("p", t0, t0, t0)
	pending := running.DeepCopy()
	pending.Status.Phase = corev1.PodPending
	waiting := running.DeepCopy()
	waiting.Spec.Containers = append(waiting.Spec.Containers, corev1.Container{Name: "d"})
	waiting.Status.ContainerStatuses = append(waiting.Status.ContainerStatuses, corev1.ContainerStatus{Name: "d",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
	noStatus := running.DeepCopy()
	noStatus.Status.ContainerStatuses = nil
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"running", running, true},
		{"pending phase", pending, false},
		{"one container still waiting", waiting, false},
		{"running phase without container statuses", noStatus, false},
	} {
		if got := podStarted(tc.pod); got != tc.want {
			t.Errorf("%s: podStarted = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestStartupSamples(t *testing.T) {
	recs := map[string]*podRecord{
		// sent 0.2 s before creation; scheduled 1 s, started 2 s after it; seen 0.5 s later.
		"a": {sent: t0.Add(-200 * time.Millisecond), observed: t0.Add(3500 * time.Millisecond),
			pod: runningPod("a", t0, t0.Add(time.Second), t0.Add(3*time.Second))},
		"b": {sent: t0, observed: t0.Add(1500 * time.Millisecond),
			pod: runningPod("b", t0, t0, t0.Add(time.Second))},
		"never-ran":   {sent: t0},
		"create-fail": {sent: t0, createErr: errors.New("forbidden")},
	}
	latency, schedule, run, missing := startupSamples(recs)
	if want := []float64{3.7, 1.5}; !approxEqual(latency, want) {
		t.Errorf("latency = %v, want %v (sorted by pod name)", latency, want)
	}
	if want := []float64{1, 0}; !approxEqual(schedule, want) {
		t.Errorf("schedule = %v, want %v", schedule, want)
	}
	if want := []float64{2, 1}; !approxEqual(run, want) {
		t.Errorf("run = %v, want %v", run, want)
	}
	if len(missing) != 2 || !strings.Contains(missing[0], "create-fail") || !strings.Contains(missing[0], "forbidden") || missing[1] != "never-ran" {
		t.Errorf("missing = %q, want create-fail (with its error) and never-ran", missing)
	}
}

func approxEqual(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 })
}

// fakeKubelet marks every pod created in ns as running, except those named
// in stuck, until ctx ends. It returns once its watch is established.
func fakeKubelet(ctx context.Context, t *testing.T, cs *fake.Clientset, ns string, stuck ...string) {
	t.Helper()
	w, err := cs.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				p, isPod := ev.Object.(*corev1.Pod)
				if ev.Type != watch.Added || !isPod || slices.Contains(stuck, p.Name) {
					continue
				}
				now := time.Now()
				r := runningPod(p.Name, now, now, now)
				p.CreationTimestamp, p.Status = r.CreationTimestamp, r.Status
				p.Status.ContainerStatuses[0].Name = p.Spec.Containers[0].Name
				if _, err := cs.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil && ctx.Err() == nil {
					t.Errorf("fake kubelet: %v", err)
				}
			}
		}
	}()
}

func TestPodStartupMeasuresEveryPodAndCleansUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewClientset()
	fakeKubelet(ctx, t, cs, "bench")

	ms, err := PodStartup(ctx, PodStartupOptions{Client: cs, Namespace: "bench", Pods: 12, QPS: 1000, Concurrency: 3,
		Labels: map[string]string{"datastore": "sqlite"}})
	if err != nil {
		t.Fatalf("PodStartup: %v", err)
	}
	byName := map[string]result.Measurement{}
	for _, m := range ms {
		byName[m.Name] = m
	}
	lat, ok := byName["pods.startup.latency"]
	if !ok {
		t.Fatalf("no pods.startup.latency in %v", ms)
	}
	if len(lat.Samples) != 12 {
		t.Errorf("latency samples = %d, want one per pod (12)", len(lat.Samples))
	}
	if lat.SLO == nil || lat.SLO.Statistic != "p99" || lat.SLO.Threshold != PodStartupSLO {
		t.Errorf("latency SLO = %+v, want p99 <= %v", lat.SLO, PodStartupSLO)
	}
	if lat.Labels["datastore"] != "sqlite" || lat.Labels["pods"] != "12" || lat.Labels["concurrency"] != "3" {
		t.Errorf("labels = %v, want the caller's plus pods and concurrency", lat.Labels)
	}
	for _, name := range []string{"pods.startup.schedule", "pods.startup.run"} {
		if len(byName[name].Samples) != 12 {
			t.Errorf("%s samples = %d, want 12", name, len(byName[name].Samples))
		}
	}
	pods, err := cs.CoreV1().Pods("bench").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 12 || pods.Items[0].Spec.Containers[0].Image != DefaultPauseImage ||
		pods.Items[0].Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("created pods: %v, %d pods; want 12 of %s, never pulled", err, len(pods.Items), DefaultPauseImage)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, "bench", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the benchmark namespace must be deleted at the end; Get: %v", err)
	}
}

func TestPodStartupNamesPodsThatNeverRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cs := fake.NewClientset()
	fakeKubelet(ctx, t, cs, "bench", "startup-003")

	ms, err := PodStartup(ctx, PodStartupOptions{Client: cs, Namespace: "bench", Pods: 5, QPS: 1000, Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "1 of 5 pods never ran: startup-003") {
		t.Fatalf("err = %v, want one naming the pod that never ran", err)
	}
	if len(ms) == 0 || len(ms[0].Samples) != 4 {
		t.Fatalf("measurements = %v, want the 4 pods that ran", ms)
	}
	if ms[0].SLO == nil {
		t.Error("a partial measurement is still judged against the SLO")
	}
}

func TestPodStartupRefusesAnExistingNamespace(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "taken"}})
	_, err := PodStartup(context.Background(), PodStartupOptions{Client: cs, Namespace: "taken"})
	if err == nil || !strings.Contains(err.Error(), `"taken" already exists`) {
		t.Fatalf("err = %v, want already exists", err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(context.Background(), "taken", metav1.GetOptions{}); err != nil {
		t.Errorf("a namespace the benchmark did not create must be left alone: %v", err)
	}
}
