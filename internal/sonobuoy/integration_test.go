package sonobuoy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/images"
	"github.com/distrobench/distrobench/internal/result"
)

// TestIntegrationQuickOnK3lite drives sonobuoy's plumbing end to end on
// k3lite: it builds the sonobuoy and conformance images (the e2e.test and
// ginkgo of 'make -C distro e2e' inside), brings up 1 server + 1 agent with
// 'distrobench up' (every node imports _output/images/<arch>, so the images
// are there under the names sonobuoy asks for), runs mode quick with pull
// policy IfNotPresent, retrieves and imports the tarball, and checks that
// sonobuoy's namespace is gone afterwards. 'distrobench down' runs at the
// end whatever happens. Takes ~10 minutes warm: run with -timeout 60m.
func TestIntegrationQuickOnK3lite(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs root, distro/_output/e2e.test (make -C distro e2e) and a k3lite cluster from 'distrobench up'")
	}
	if os.Geteuid() != 0 {
		t.Fatal("distrobench up needs root (network namespaces): run the integration tests as root")
	}
	root := repoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	log := testLogger(t)

	started := time.Now()
	imgs, err := images.Build(ctx, images.Options{
		RepoRoot: root, Arch: runtime.GOARCH, Names: []string{"sonobuoy", "conformance"}, Log: log,
		Progress: func(s string) { t.Log(s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range imgs {
		t.Logf("image %s %s (%.1f MiB, cached=%v)", img.Name, img.Digest, float64(img.SizeBytes)/(1<<20), img.Cached)
	}
	t.Logf("images ready after %s", time.Since(started).Round(time.Second))

	kubeconfig := os.Getenv(kubeconfigEnv)
	if kubeconfig == "" {
		kubeconfig = upCluster(ctx, t, root)
	} else {
		t.Logf("using the cluster of %s=%s (no up/down)", kubeconfigEnv, kubeconfig)
	}

	var lines []string
	outDir := t.TempDir()
	runStarted := time.Now()
	it, err := Run(ctx, Options{
		Kubeconfig: kubeconfig, Mode: ModeQuick, ImagePullPolicy: "IfNotPresent", OutDir: outDir,
		Timeout: 20 * time.Minute, Log: log,
		Progress: func(s string) { lines = append(lines, s); t.Log(s) },
	})
	t.Logf("sonobuoy quick took %s", time.Since(runStarted).Round(time.Second))
	if err != nil {
		t.Fatalf("sonobuoy run: %v", err)
	}

	if c := it.Counts(); c != (result.Counts{Passed: 1}) {
		t.Errorf("counts %+v, want the one quick spec passed:\n%+v", c, it.Leaves())
	}
	if n, err := strconv.Atoi(it.Meta[MetaNotSelected]); err != nil || n < 3000 {
		t.Errorf("Meta[%s] = %q, want the ~3200 specs of the suite quick mode leaves out", MetaNotSelected, it.Meta[MetaNotSelected])
	}
	leaves := it.Leaves()
	if len(leaves) != 1 || !strings.Contains(leaves[0].Item.Name, "Pods should be submitted and removed") || leaves[0].Item.DurationSeconds <= 0 {
		t.Errorf("leaves %+v, want the quick spec with its duration", leaves)
	}
	tarball := it.Meta[MetaTarball]
	if filepath.Dir(tarball) != outDir {
		t.Errorf("tarball %q not in OutDir %s", tarball, outDir)
	}
	for k, v := range map[string]string{MetaRunner: "sonobuoy", MetaMode: "quick", MetaSonobuoyVersion: "v0.57.3",
		MetaSonobuoyImage: "sonobuoy/sonobuoy:v0.57.3"} {
		if it.Meta[k] != v {
			t.Errorf("Meta[%s] = %q, want %q", k, it.Meta[k], v)
		}
	}
	if want, err := ConformanceImageFor(it.Meta[MetaKubernetesVersion]); err != nil || it.Meta[MetaConformanceImage] != want {
		t.Errorf("Meta[%s] = %q, want %q (for Kubernetes %q; %v)", MetaConformanceImage, it.Meta[MetaConformanceImage], want, it.Meta[MetaKubernetesVersion], err)
	}
	if !containsLine(lines, "e2e complete") {
		t.Errorf("progress never reported the e2e plugin complete: %q", lines)
	}

	again, err := ImportTarball(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if again.Counts() != it.Counts() {
		t.Errorf("re-import counts %+v, run %+v", again.Counts(), it.Counts())
	}

	// Run deleted sonobuoy's namespace.
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, DefaultNamespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace %s still there after Run (err %v)", DefaultNamespace, err)
	}
}

// kubeconfigEnv names a cluster to run against instead of one from
// 'distrobench up' (e.g. a real k3s cluster; it must have or pull the images).
const kubeconfigEnv = "DISTROBENCH_SONOBUOY_KUBECONFIG"

// upCluster brings up 1 server + 1 agent with 'distrobench up' in root and
// registers 'distrobench down' of exactly that run for the end of the test.
// Another test or a user may hold the tree's cluster: upCluster waits for it
// to go rather than tear it down.
func upCluster(ctx context.Context, t *testing.T, root string) string {
	t.Helper()
	distrobench := func(ctx context.Context, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "go", append([]string{"run", "./cmd/distrobench"}, args...)...)
		cmd.Dir = root
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
		cmd.WaitDelay = time.Minute
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	for {
		out, err := distrobench(ctx, "status")
		if err != nil {
			break
		}
		t.Logf("a cluster is up in %s (someone else's); waiting for it to go:\n%s", root, out)
		select {
		case <-ctx.Done():
			t.Fatal("the tree's cluster did not go away in time")
		case <-time.After(time.Minute):
		}
	}

	runsDir := filepath.Join(root, "_output", "runs")
	before, _ := filepath.Glob(filepath.Join(runsDir, "2*"))
	started := time.Now()
	out, err := distrobench(ctx, "up", "--agents", "1", "--sonobuoy-images")
	// Take down exactly the run this test made (up prints it; after a
	// failed up, the one new run directory): another 'up' in the same tree
	// may have moved _output/runs/current meanwhile.
	var mine string
	if m := runDirLine.FindStringSubmatch(out); m != nil {
		mine = m[1]
	} else {
		after, _ := filepath.Glob(filepath.Join(runsDir, "2*"))
		var added []string
		for _, d := range after {
			if !slices.Contains(before, d) {
				added = append(added, d)
			}
		}
		if len(added) == 1 {
			mine = added[0]
		} else if len(added) > 1 {
			t.Errorf("several new run directories %v: not taking any down (one may be someone else's)", added)
		}
	}
	if mine != "" {
		t.Cleanup(func() {
			dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer dcancel()
			if out, err := distrobench(dctx, "down", "--run-dir", mine); err != nil {
				t.Errorf("distrobench down --run-dir %s: %v\n%s", mine, err, out)
			}
		})
	}
	if err != nil {
		t.Fatalf("distrobench up --agents 1: %v\n%s", err, out)
	}
	if mine == "" {
		t.Fatalf("distrobench up printed no run dir:\n%s", out)
	}
	t.Logf("cluster %s up after %s", mine, time.Since(started).Round(time.Second))
	return filepath.Join(mine, "kubeconfig.yaml")
}

// runDirLine is the line of 'distrobench up' naming its run directory.
var runDirLine = regexp.MustCompile(`(?m)^run dir:\s+(\S+)\s*$`)

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// testLogger logs at debug level into the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

var _ io.Writer = testWriter{}

// repoRoot finds the distrobench repository root (holding distro/) above
// the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "distro", "go.mod")); err == nil {
			return dir
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal(fmt.Errorf("no distrobench repository (with distro/go.mod) above the working directory"))
		}
		dir = parent
	}
}
