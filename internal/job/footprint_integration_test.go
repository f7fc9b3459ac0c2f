package job

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/distrobench/distrobench/internal/cgroup"
	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/deploy"
	"github.com/distrobench/distrobench/internal/profile"
	"github.com/distrobench/distrobench/internal/progress"
	"github.com/distrobench/distrobench/internal/result"
)

// TestFootprintIntegration deploys the real k3lite with its own node and
// one agent, runs a pod on each node, and measures the idle footprint as
// the main job does: the containerd shims (re-parented to init) are
// members of their node's own cgroup, every node has its own figures and
// its pods apart, and every figure says how idle was reached.
func TestFootprintIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the k3lite binary (DISTROBENCH_K3LITE), the image tarballs (distrobench images; DISTROBENCH_IMAGES) and root for simulated hosts")
	}
	p := oneAgentProfile(t, "k3lite-footprint-it")
	tarballs := nodeTarballs(t)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	c, err := deploy.Up(ctx, deploy.Options{Profile: p, RunDir: filepath.Join(t.TempDir(), "run"), ImageTarballs: tarballs})
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("Down: %v", err)
		}
	})
	runPodOnEveryNode(ctx, t, c)

	ms, err := Footprint(ctx, c, BenchOptions{IdleWindow: 20 * time.Second, SettleMin: 5 * time.Second}, slog.Default(), progress.NewPlain(os.Stderr, time.Now))
	if err != nil {
		t.Fatalf("Footprint: %v", err)
	}
	for _, m := range ms {
		t.Logf("%s%v: p50 %.4g %s (n=%d) %s", m.Name, m.Labels, m.Summary.P50, m.Unit, m.Summary.Count, m.Missing)
	}
	cpu := findMeasurement(t, ms, "footprint.idle.cpu", nil)
	t.Logf("idle: %s; cpu: %s", cpu.Attributes["idle.settle"], cpu.Attributes["cpu.method"])

	h, err := cgroup.CPU()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.NodeCgroups() {
		members, err := h.Procs(n.Cgroup)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(members, isShim) {
			t.Errorf("node %s: no containerd shim among the members %v of its cgroup %s", n.Node, members, n.Cgroup)
		}
		labels := map[string]string{"node": n.Node}
		for _, name := range []string{"footprint.agent.pss", "footprint.node.pods.pss", "footprint.node.cpu"} {
			if m := findMeasurement(t, ms, name, labels); m.Summary.Count == 0 || m.Summary.Max <= 0 {
				t.Errorf("%s{node=%s} = %v (%s), want samples above 0", name, n.Node, m.Samples, m.Missing)
			}
		}
	}
	// Chatter in the same window: the kubelets renew their leases and
	// report status every few seconds, which SQLite writes to disk.
	idleChatter := map[string]string{"phase": "idle"}
	if m := findMeasurement(t, ms, chatter.RequestsMetric, map[string]string{"phase": "idle", "client": chatter.ClientNodes}); m.Summary.Mean <= 0 {
		t.Errorf("%s{client=nodes} = %v (%s), want the kubelets' requests", chatter.RequestsMetric, m.Samples, m.Missing)
	}
	if m := findMeasurement(t, ms, chatter.WrittenMetric, idleChatter); m.Missing != "" || m.Summary.Mean <= 0 {
		t.Errorf("%s = %v (%s), want the bytes SQLite wrote", chatter.WrittenMetric, m.Samples, m.Missing)
	}
	idle := findMeasurement(t, ms, "footprint.idle.pss", nil)
	if !strings.HasPrefix(idle.Attributes["idle.settle"], "settled after") && !strings.HasPrefix(idle.Attributes["idle.settle"], "NOT settled") {
		t.Errorf("footprint.idle.pss attributes %v: want how idle was reached", idle.Attributes)
	}
	if !strings.Contains(idle.Attributes["idle.settle"], "at least 5s,") {
		t.Errorf("idle.settle %q: want the rule with the minimum asked for (5s)", idle.Attributes["idle.settle"])
	}
}

func isShim(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return err == nil && strings.HasPrefix(string(b), "containerd-shim")
}

func findMeasurement(t *testing.T, ms []result.Measurement, name string, labels map[string]string) result.Measurement {
	t.Helper()
	if m := result.Find(ms, name, labels); m != nil {
		return *m
	}
	t.Fatalf("no measurement %s%v", name, labels)
	return result.Measurement{}
}

// oneAgentProfile is a k3lite ($DISTROBENCH_K3LITE) profile with the
// server's own node and one agent, without CoreDNS (its image is not
// among nodeTarballs).
func oneAgentProfile(t *testing.T, name string) *profile.Profile {
	t.Helper()
	bin := os.Getenv("DISTROBENCH_K3LITE")
	if bin == "" {
		t.Fatal("set DISTROBENCH_K3LITE to a k3lite binary ('distrobench build' prints its path)")
	}
	p := &profile.Profile{}
	p.Metadata.Name = name
	p.Spec.Binary = bin
	p.Spec.Nodes.Agents = 1
	p.Spec.Server.Args = []string{"--disable", "coredns"}
	p.Spec.Timeouts.Ready = "240s"
	p.Spec.Timeouts.Stop = "60s"
	p.SetDefaults()
	return p
}

// nodeTarballs are the pause and busybox image tarballs the nodes import:
// from $DISTROBENCH_IMAGES or 'distrobench images' output.
func nodeTarballs(t *testing.T) []string {
	t.Helper()
	imgDir := os.Getenv("DISTROBENCH_IMAGES")
	if imgDir == "" {
		imgDir = filepath.Join("..", "..", "_output", "images", runtime.GOARCH)
	}
	var tarballs []string
	for _, n := range []string{"pause-3.10.2.tar", "busybox-1.37.0-2.tar"} {
		f, err := filepath.Abs(filepath.Join(imgDir, n))
		if err == nil {
			_, err = os.Stat(f)
		}
		if err != nil {
			t.Fatalf("image tarball %s: %v (build it with 'distrobench images', or set DISTROBENCH_IMAGES)", n, err)
		}
		tarballs = append(tarballs, f)
	}
	return tarballs
}

// runPodOnEveryNode starts a long-sleeping busybox pod on each node and
// waits until all run.
func runPodOnEveryNode(ctx context.Context, t *testing.T, c *deploy.Cluster) {
	t.Helper()
	cs, err := clientFor(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range c.NodeNames() {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "idle-" + node},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/e2e-test-images/busybox:1.37.0-2",
				ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "3600"},
			}}},
		}
		if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, node := range c.NodeNames() {
		err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			p, err := cs.CoreV1().Pods("default").Get(ctx, "idle-"+node, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning, nil
		})
		if err != nil {
			t.Fatalf("pod idle-%s not running: %v", node, err)
		}
	}
}
