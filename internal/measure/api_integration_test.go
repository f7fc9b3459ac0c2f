package measure

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeconfigEnv names the kubeconfig of the cluster the integration tests
// measure (hack/test.sh points it at the k3lite server it starts).
const KubeconfigEnv = "DISTROBENCH_KUBECONFIG"

func TestAPILatencyIntegration(t *testing.T) {
	cfg := apiIntegrationConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// 2 repeats x 5 verbs x 250 objects at concurrency 64: 2500 requests,
	// more than the 1000-token bucket client-go would hold (QPS 500), sent
	// faster than it refills; clientWaits proves none waited on the client.
	const objects, repeats = 250, 2
	clientWaits.reset()
	nsName := "distrobench-measure-it-" + time.Now().UTC().Format("150405")
	ms, err := APILatency(ctx, APIOptions{
		Config: cfg, Objects: objects, Concurrency: 64, ObjectSize: 512, Repeats: repeats,
		Namespace: nsName,
		Labels:    map[string]string{"test": "integration"},
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	assertNoClientWait(t, ms)
	for _, v := range Verbs {
		lat := find(t, ms, "api.latency", v)
		if lat.Summary.Count != objects*repeats || lat.Summary.Min <= 0 || lat.Labels["load"] != "closed" || lat.Labels["concurrency"] != "64" {
			t.Errorf("%s: %d latency samples (min %v, labels %v), want %d positive, load=closed, concurrency=64", v, lat.Summary.Count, lat.Summary.Min, lat.Labels, objects*repeats)
		}
		if lat.SLO == nil {
			t.Errorf("%s: no SLO verdict", v)
		}
		if e := find(t, ms, "api.error_rate", v); e.Summary.Mean != 0 || e.Summary.Count != objects*repeats || e.SLO == nil || !e.SLO.Met {
			t.Errorf("%s: error rate %v of %d requests (SLO %+v), want 0 of %d, met", v, e.Summary.Mean, e.Summary.Count, e.SLO, objects*repeats)
		}
		ach := find(t, ms, "api.rate.achieved", v)
		if ach.Summary.Count != repeats || ach.Summary.Min <= 0 {
			t.Errorf("%s: achieved rate %v", v, ach.Samples)
		}
		off := find(t, ms, "api.rate.offered", v)
		if off.Summary.Count != repeats || off.Summary.Min < ach.Summary.Min {
			t.Errorf("%s: offered rate %v below the achieved %v", v, off.Samples, ach.Samples)
		}
		t.Logf("%-6s p50 %6.1fms p99 %6.1fms  offered %6.0f achieved %6.0f ops/s", v, lat.Summary.P50*1000, lat.Summary.P99*1000, off.Summary.P50, ach.Summary.P50)
	}
	var reqs float64
	for _, m := range ms {
		if m.Name == "apiserver.requests" {
			reqs = m.Samples[0]
		}
	}
	if reqs < float64(len(Verbs)*objects*repeats) {
		t.Errorf("apiserver.requests = %v, want at least the benchmark's own %d", reqs, len(Verbs)*objects*repeats)
	}

	// The benchmark's namespace is gone or going.
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, nsName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		t.Fatal(err)
	case ns.DeletionTimestamp == nil:
		t.Errorf("namespace %s was left behind", nsName)
	}
}

func TestAPILatencyOpenLoopIntegration(t *testing.T) {
	cfg := apiIntegrationConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const objects, rate = 100, 200.0
	clientWaits.reset()
	ms, err := APILatency(ctx, APIOptions{Config: cfg, Objects: objects, Rate: rate, ObjectSize: 512, Repeats: 1,
		Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	assertNoClientWait(t, ms)
	for _, v := range Verbs {
		lat := find(t, ms, "api.latency", v)
		off := find(t, ms, "api.rate.offered", v)
		ach := find(t, ms, "api.rate.achieved", v)
		if lat.Summary.Count != objects || lat.Labels["load"] != "open" || off.Samples[0] != rate || ach.Summary.Min <= 0 {
			t.Errorf("%s: %d samples, labels %v, offered %v, achieved %v; want %d, load=open, %v, > 0", v, lat.Summary.Count, lat.Labels, off.Samples, ach.Samples, objects, rate)
		}
		t.Logf("%-6s p50 %6.1fms p99 %6.1fms  offered %4.0f achieved %6.1f ops/s", v, lat.Summary.P50*1000, lat.Summary.P99*1000, off.Samples[0], ach.Samples[0])
	}
}

// apiIntegrationConfig loads the kubeconfig of the cluster under test, or
// fails loudly when it is not given (-short skips).
func apiIntegrationConfig(t *testing.T) *rest.Config {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs a running cluster (kubeconfig in $" + KubeconfigEnv + ")")
	}
	path := os.Getenv(KubeconfigEnv)
	if path == "" {
		t.Fatalf("$%s is not set: point it at the kubeconfig of a running cluster (hack/test.sh starts a k3lite server and sets it), or run with -short", KubeconfigEnv)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("loading $%s=%s: %v", KubeconfigEnv, path, err)
	}
	return cfg
}

// testWriter sends the benchmark's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
