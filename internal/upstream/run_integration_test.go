package upstream

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// clusterKubeconfig is $DISTROBENCH_KUBECONFIG or the kubeconfig of the
// cluster `distrobench up` left running (_output/runs/current). A missing
// cluster fails the test: the integration tier must not pass without having
// run the suite.
func clusterKubeconfig(t *testing.T) string {
	t.Helper()
	kc := os.Getenv("DISTROBENCH_KUBECONFIG")
	if kc == "" {
		kc = filepath.Join("..", "..", "_output", "runs", "current", "kubeconfig.yaml")
	}
	if _, err := os.Stat(kc); err != nil {
		t.Fatalf("no cluster: %v (bring one up with `distrobench up --agents 1`, or set DISTROBENCH_KUBECONFIG)", err)
	}
	abs, err := filepath.Abs(kc)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func integrationOptions(t *testing.T) Options {
	t.Helper()
	bins := BinaryPaths(filepath.Join("..", ".."), runtime.GOARCH)
	if !isFile(bins.E2ETest) || !isFile(bins.Ginkgo) {
		t.Fatalf("%s or %s missing: build them with `make -C distro e2e`", bins.E2ETest, bins.Ginkgo)
	}
	out := t.TempDir()
	o := Options{Kubeconfig: clusterKubeconfig(t), E2ETest: bins.E2ETest, Ginkgo: bins.Ginkgo, OutDir: out,
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})), ProgressInterval: 5 * time.Second}
	if isFile(bins.K3lite) {
		k, err := KubectlFromK3lite(bins.K3lite, filepath.Join(out, "bin"))
		if err != nil {
			t.Fatal(err)
		}
		o.KubectlPath = k
	}
	return o
}

// TestRunQuickIntegration runs sonobuoy's quick spec for real: the spec has
// a verdict, every other [Conformance] spec is listed as skipped with the
// reason, the JUnit and log exist, and progress saw the spec finish.
func TestRunQuickIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the built e2e.test (make -C distro e2e) and a cluster (distrobench up --agents 1)")
	}
	o := integrationOptions(t)
	o.Mode = ModeQuick
	var mu sync.Mutex
	var last Progress
	o.Progress = func(p Progress) { mu.Lock(); last = p; mu.Unlock() }

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	tree, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	c := tree.Counts()
	if c.Total()+c.NotSelected < 400 {
		t.Errorf("tree has %d specs, want every [Conformance] spec (462 at v1.37)", c.Total()+c.NotSelected)
	}
	quick, _ := leafByName(t, tree, QuickSpec)
	if quick.Status != result.StatusPassed && quick.Status != result.StatusFailed {
		t.Errorf("quick spec has no verdict: %+v", quick)
	}
	if quick.Meta[MetaSource] != "junit" || quick.DurationSeconds <= 0 {
		t.Errorf("quick spec not from the JUnit report: %+v", quick)
	}
	t.Logf("quick spec: %s in %.1fs %s", quick.Status, quick.DurationSeconds, quick.Message)
	if c.Total() != 1 || c.Skipped != 0 {
		t.Errorf("counts %+v: want the quick spec selected, every other one not selected (not skipped)", c)
	}
	for _, l := range tree.Leaves() {
		if l.Item.Name != QuickSpec && (l.Item.Status != result.StatusNotSelected || !strings.Contains(l.Item.Message, "mode quick")) {
			t.Errorf("%s: %s %q, want not selected with the reason", l.Item.Name, l.Item.Status, l.Item.Message)
			break
		}
	}
	for _, f := range []string{"quick/junit_01.xml", "quick/e2e.log"} {
		if !isFile(filepath.Join(o.OutDir, f)) {
			t.Errorf("%s missing in the output directory", f)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if last.Done != 1 || last.Total != 1 {
		t.Errorf("last progress %+v, want 1/1 (the e2e progress reporter posts to us)", last)
	}
}

// TestRunInterruptIntegration cancels a core run once a spec has finished:
// Run must return soon with the partial results, every spec that did not run
// marked as not run, and no ginkgo or e2e.test process left behind.
func TestRunInterruptIntegration(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the built e2e.test (make -C distro e2e) and a cluster (distrobench up --agents 1)")
	}
	o := integrationOptions(t)
	o.Mode = ModeCore
	o.Procs = 2
	o.ProgressInterval = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	o.Progress = func(p Progress) {
		if p.Done >= 1 {
			once.Do(cancel)
		}
	}
	watchdog := time.AfterFunc(15*time.Minute, cancel)
	defer watchdog.Stop()

	tree, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	if tree == nil {
		t.Fatal("no partial tree after an interrupt")
	}
	var ran, notRun int
	for _, l := range tree.Leaves() {
		switch {
		case l.Item.Meta[MetaSource] == "not-run":
			notRun++
			if !strings.HasPrefix(l.Item.Message, "not run: ") {
				t.Errorf("%s: not-run message %q", l.Item.Name, l.Item.Message)
			}
		case l.Item.Meta[MetaSource] == "junit" && l.Item.Status != result.StatusSkipped:
			ran++
		}
	}
	t.Logf("after the interrupt: %d specs with results, %d not run", ran, notRun)
	if ran == 0 || notRun == 0 {
		t.Errorf("want some specs run and some not run, got %d and %d", ran, notRun)
	}
	if left := processesUnder(o.OutDir); len(left) > 0 {
		t.Errorf("processes left after the interrupt: %v", left)
	}
}

// processesUnder lists live processes whose command line mentions dir.
func processesUnder(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(b), dir) {
			continue
		}
		out = append(out, e.Name()+": "+strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}
