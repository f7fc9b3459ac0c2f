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
	"k8s.io/client-go/tools/clientcmd"
)

// KubeconfigEnv names the kubeconfig of the cluster the integration tests
// measure (hack/test.sh points it at the k3lite server it starts).
const KubeconfigEnv = "DISTROBENCH_KUBECONFIG"

func TestAPILatencyIntegration(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	const objects, repeats = 20, 2
	nsName := "distrobench-measure-it-" + time.Now().UTC().Format("150405")
	ms, err := APILatency(ctx, APIOptions{
		Config: cfg, Objects: objects, Concurrency: 4, ObjectSize: 512, Repeats: repeats,
		Namespace: nsName,
		Labels:    map[string]string{"test": "integration"},
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatalf("APILatency: %v", err)
	}
	for _, v := range Verbs {
		lat := find(t, ms, "api.latency", v)
		if lat.Summary.Count != objects*repeats || lat.Summary.Min <= 0 {
			t.Errorf("%s: %d latency samples (min %v), want %d positive", v, lat.Summary.Count, lat.Summary.Min, objects*repeats)
		}
		if lat.SLO == nil {
			t.Errorf("%s: no SLO verdict", v)
		}
		if e := find(t, ms, "api.errors", v); e.Summary.Max != 0 {
			t.Errorf("%s: errors %v", v, e.Samples)
		}
		if thr := find(t, ms, "api.throughput", v); thr.Summary.Count != repeats || thr.Summary.Min <= 0 {
			t.Errorf("%s: throughput %v", v, thr.Samples)
		}
		t.Logf("%-6s p50 %6.1fms p99 %6.1fms  %6.0f ops/s", v, lat.Summary.P50*1000, lat.Summary.P99*1000, find(t, ms, "api.throughput", v).Summary.P50)
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

// testWriter sends the benchmark's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
