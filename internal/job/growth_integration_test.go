package job

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/progress"
)

// TestGrowthAfterCompactionIntegration runs growth on the real k3lite on
// kine (SQLite), with the apiserver compacting every 10 s instead of 5 min
// (so that the test takes seconds): the last point is taken once an
// exact-revision list of the deletions answers 410 Gone, through the
// apiserver alone. (kine is the path whose compaction semantics the
// harness relies on most: it compacts only when the apiserver asks. etcd
// answers compacted revisions the same way; the datastores comparison
// exercises both.)
func TestGrowthAfterCompactionIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary (DISTROBENCH_K3LITE), the image tarballs (DISTROBENCH_IMAGES) and root for simulated hosts")
	}
	ds := dstype.SQLite
	p := oneAgentProfile(t, "k3lite-compaction-it")
	p.Spec.Nodes.Agents = 0
	p.Spec.Server.Args = append(p.Spec.Server.Args, "--kube-apiserver-arg", "etcd-compaction-interval=10s")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := deploy.Up(ctx, deploy.Options{Profile: p, Datastore: ds, RunDir: filepath.Join(t.TempDir(), "run"), ImageTarballs: nodeTarballs(t)})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { _ = c.Down(context.Background()) })

	pr := progress.NewPlain(os.Stderr, time.Now)
	ms, pending, err := Growth(ctx, c, []int{100, 300}, BenchOptions{Concurrency: 8, ObjectSize: 1024}, slog.Default(), pr)
	if err != nil || pending == nil {
		t.Fatalf("Growth: %v (pending %v)", err, pending)
	}
	after, err := pending.Wait(ctx, 2*time.Minute)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	ms = append(ms, after...)
	compacted := map[string]string{measure.StageLabel: measure.StageCompacted}
	for _, name := range []string{measure.GrowthMemoryMetric, measure.GrowthSizeMetric} {
		m := findMeasurement(t, ms, name, compacted)
		if m.Missing != "" || len(m.Samples) != 1 || m.Samples[0] <= 0 || !strings.Contains(m.Attributes["growth.compaction"], "410 Gone") {
			t.Errorf("%s after compaction: %v (%s) %v", name, m.Samples, m.Missing, m.Attributes)
			continue
		}
		t.Logf("%s after compaction: %.1f MiB; %s", name, m.Samples[0]/(1<<20), m.Attributes["growth.compaction"])
	}
}
