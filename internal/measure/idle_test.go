package measure

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"

	"github.com/distrobench/distrobench/internal/cgroup"
	"github.com/distrobench/distrobench/internal/result"
)

// burner writes a script that burns CPU for a moment and exits, and
// returns the command that runs it as a child process.
func burner(t *testing.T) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "burn.sh")
	if err := os.WriteFile(f, []byte("i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "sh " + f
}

func TestTreeCPU(t *testing.T) {
	prev := map[int32]procSample{
		1: {cpu: 10, reaped: 2},         // the root
		2: {cpu: 5, ppid: 1},            // a child the root reaps during the interval
		3: {cpu: 1, ppid: 99},           // an orphan reaped outside the tree
		4: {cpu: 7, reaped: 0, ppid: 1}, // PID reused by a younger process
	}
	cur := map[int32]procSample{
		1: {cpu: 11, reaped: 2 + 6}, // +1 s own, +6 s from child 2 (5 s seen before, 1 s since)
		4: {cpu: 1, ppid: 1},        // reused PID: not negative
		5: {cpu: 0.5, ppid: 1},      // new during the interval: all of it
	}
	// 1 (own) + 1 (child 2's last second) + 0.5 (new) = 2.5 s.
	if got := treeCPU(prev, cur); got < 2.4999 || got > 2.5001 {
		t.Errorf("treeCPU = %v s, want 2.5 (a reaped child's earlier time must not count twice)", got)
	}
	if got := treeCPU(cur, cur); got != 0 {
		t.Errorf("treeCPU with nothing used = %v", got)
	}
}

func TestUnitSeriesAgentPart(t *testing.T) {
	own := map[int32]procSample{10: {pss: 100, rss: 200}, 11: {pss: 5, rss: 7}}
	ticks := []tick{{units: []unitSample{{own: own}}}}
	server := unitSeries(Unit{Role: RoleServer, PID: 10}, ticks, 0)
	if server.pss[0] != 105 || server.agentPSS[0] != 5 || server.agentRSS[0] != 7 {
		t.Errorf("server node: pss %v agent pss %v rss %v, want 105, 5 (without the server process), 7", server.pss, server.agentPSS, server.agentRSS)
	}
	agent := unitSeries(Unit{Role: RoleAgent, PID: 10}, ticks, 0)
	if agent.agentPSS[0] != 105 {
		t.Errorf("agent node: agent pss %v, want 105 (the agent process counts)", agent.agentPSS)
	}
}

// measured sums a CPU measurement's samples back into CPU seconds.
func measured(m result.Measurement, interval time.Duration) float64 {
	var s float64
	for _, v := range m.Samples {
		s += v / 100 * interval.Seconds()
	}
	return s
}

func findM(t *testing.T, ms []result.Measurement, name string, labels map[string]string) result.Measurement {
	t.Helper()
	if m := result.Find(ms, name, labels); m != nil {
		return *m
	}
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, m.Name)
	}
	t.Fatalf("no measurement %s%v among %v", name, labels, names)
	return result.Measurement{}
}

// stat reads a process's own and reaped children's CPU seconds.
func stat(t *testing.T, pid int) float64 {
	t.Helper()
	p, err := procfs.NewProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return float64(int(s.UTime+s.STime)+s.CUTime+s.CSTime) / userHZ
}

// TestIdleCountsExitedChildren measures a process whose short-lived
// children burn CPU and exit between two samples: their time counts (the
// parent reaped them), where summing the live processes saw nothing.
func TestIdleCountsExitedChildren(t *testing.T) {
	dir := t.TempDir()
	gate, done := filepath.Join(dir, "go"), filepath.Join(dir, "done")
	script := `while [ ! -e "$1" ]; do sleep 0.05; done
for k in 1 2 3 4; do ` + burner(t) + `; done
touch "$2"; exec sleep 60`
	cmd := exec.Command("sh", "-c", script, "sh", gate, done)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	const interval = 500 * time.Millisecond
	ms, err := Idle(context.Background(), IdleOptions{
		Units:  []Unit{{Name: "server", Role: RoleServer, PID: cmd.Process.Pid}},
		Window: 8 * time.Second, Interval: interval,
		// Called once the window's first sample is taken: the burning starts.
		Progress: func(string) { _ = os.WriteFile(gate, nil, 0o600) },
	})
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	if _, err := os.Stat(done); err != nil {
		t.Fatalf("the children did not finish burning within the window (machine overloaded?): %v", err)
	}
	burned := stat(t, cmd.Process.Pid)
	got := measured(findM(t, ms, "footprint.idle.cpu", nil), interval)
	if burned <= 0 || got < 0.7*burned {
		t.Errorf("idle CPU counted %.2f s, but the process and its exited children used %.2f s", got, burned)
	}
}

// TestIdleCgroupNode measures a node started in its own cgroup, as the
// deployer starts one: a daemon that double-forked away from the node's
// process tree (as containerd shims do) counts for the node, so does the
// CPU of short-lived processes that such an orphan started and that are
// gone by the next sample, and a pod process in the node's pods cgroup is
// reported apart, its shim (its parent, in the node's cgroup) with it.
func TestIdleCgroupNode(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: creates cgroups (needs root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test creates cgroups: run it as root (or with -short to leave it out)")
	}
	h, err := cgroup.CPU()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	root := "/distrobench-test-" + hex.EncodeToString(b)
	own, pods := root+"/node", root+"/kubepods"
	for _, p := range []string{own, pods + "/pod1"} {
		if err := h.Create(p); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	gate, statFile := filepath.Join(dir, "go"), filepath.Join(dir, "orphan.stat")
	script := `(exec sleep 60 &)
while [ ! -e "$1" ]; do sleep 0.05; done
(sh -c 'for k in 1 2 3 4; do ` + burner(t) + `; done; cat /proc/$$/stat > "$1"' sh "$2" &)
exec sleep 60`
	node := exec.Command("sh", "-c", script, "sh", gate, statFile)
	if err := h.Start(node, own); err != nil {
		t.Fatal(err)
	}
	// The shim starts the pod's process and moves it to the pod's cgroup,
	// as containerd's shim (through runc) does.
	pod := exec.Command("sh", "-c", `sleep 60 & echo $! > "$1"; wait`, "sh", filepath.Join(h.Dir(pods+"/pod1"), "cgroup.procs"))
	if err := h.Start(pod, own); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = node.Process.Kill()
		_ = pod.Process.Kill()
		_ = node.Wait()
		_ = pod.Wait()
		if left, err := h.Procs(root); err == nil { // the daemon
			for _, pid := range left {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		removeTestCgroups(t, h, own, pods+"/pod1", pods, root)
	})

	unit := Unit{Name: "node0", Role: RoleServer, PID: node.Process.Pid, Cgroup: own, Pods: pods}
	checkShimWithPods(t, h, unit, pod.Process.Pid)

	const interval = 500 * time.Millisecond
	ms, err := Idle(context.Background(), IdleOptions{
		Units:  []Unit{unit},
		Settle: Settle{Min: 0, Max: 10 * time.Second, Interval: interval, CPU: 1000},
		Window: 8 * time.Second, Interval: interval,
		Progress: func(msg string) {
			if strings.HasPrefix(msg, "idle footprint over") {
				_ = os.WriteFile(gate, nil, 0o600)
			}
		},
	})
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	node0 := map[string]string{"node": "node0", "role": RoleServer}
	if m := findM(t, ms, "footprint.agent.pss", node0); m.Summary.Min <= 0 {
		t.Errorf("footprint.agent.pss = %v: the double-forked daemon in the node's cgroup was not counted", m.Samples)
	}
	if m := findM(t, ms, "footprint.node.pods.pss", node0); m.Summary.Min <= 0 {
		t.Errorf("footprint.node.pods.pss = %v: the pod process was not counted", m.Samples)
	}
	for _, name := range []string{"footprint.agent.pss", "footprint.node.cpu", "footprint.node.pods.pss", "footprint.idle.pss"} {
		labels := node0
		if name == "footprint.idle.pss" {
			labels = nil
		}
		if got := findM(t, ms, name, labels).Attributes[result.PlacementAttr]; got != "node0=1" {
			t.Errorf("%s %s = %q, want node0=1 (one pod cgroup)", name, result.PlacementAttr, got)
		}
	}
	if got := findM(t, ms, ClusterPSSMetric, nil).Attributes[result.PlacementAttr]; got != "" {
		t.Errorf("%s carries %s=%q: the cluster's total does not depend on placement", ClusterPSSMetric, result.PlacementAttr, got)
	}
	raw, err := os.ReadFile(statFile)
	if err != nil {
		t.Fatalf("the orphan did not finish burning within the window (machine overloaded?): %v", err)
	}
	burned := orphanCPU(t, raw)
	cpu := findM(t, ms, "footprint.node.cpu", node0)
	if got := measured(cpu, interval); burned <= 0 || got < 0.8*burned {
		t.Errorf("node CPU counted %.2f s, but the orphan and its exited children used %.2f s", got, burned)
	}
	if !strings.Contains(cpu.Attributes["cpu.method"], "cgroup") || !strings.HasPrefix(cpu.Attributes["idle.settle"], "settled after") {
		t.Errorf("attributes %v: want the cgroup method and how idle was reached", cpu.Attributes)
	}
	if idle := findM(t, ms, "footprint.idle.pss", nil); idle.Summary.Min <= findM(t, ms, "footprint.agent.pss", node0).Summary.Min {
		t.Errorf("footprint.idle.pss %v must hold the server process too, above the agent's part", idle.Samples)
	}
}

// checkShimWithPods samples the node once and checks that shim, the parent
// of the pod's process, counts with the pods and not with the node.
func checkShimWithPods(t *testing.T, h cgroup.Hierarchy, u Unit, shim int) {
	t.Helper()
	sm := &sampler{units: []Unit{u}, h: &h}
	var s unitSample
	for try := 0; try < 100 && len(s.pods) == 0; try++ {
		time.Sleep(20 * time.Millisecond) // until the shim moved its child
		var err error
		if s, err = sm.sampleUnit(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.shims[int32(shim)]; !ok {
		t.Errorf("shims %v, want the pod's parent %d", slices.Collect(maps.Keys(s.shims)), shim)
	}
	if _, ok := s.own[int32(shim)]; ok {
		t.Errorf("the pod's shim %d is still counted as the node's own", shim)
	}
	if s.podCount != 1 {
		t.Errorf("pod count %d, want 1", s.podCount)
	}
}

// orphanCPU parses "/proc/PID/stat" text: utime+stime+cutime+cstime, seconds.
func orphanCPU(t *testing.T, raw []byte) float64 {
	t.Helper()
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks float64
	for _, i := range []int{11, 12, 13, 14} { // fields 14-17, counted from the state (field 3)
		var v float64
		if _, err := fmt.Sscan(f[i], &v); err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		ticks += v
	}
	return ticks / userHZ
}

func removeTestCgroups(t *testing.T, h cgroup.Hierarchy, paths ...string) {
	t.Helper()
	for _, p := range paths {
		var err error
		for try := 0; try < 100; try++ {
			if err = unix.Rmdir(h.Dir(p)); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("remove test cgroup %s: %v", p, err)
		}
	}
}

// TestClusterFootprintIndependentOfPlacement: the same pod (CoreDNS, say)
// on the server's node in one run and on the agent's in the next moves the
// per-node figures, but not the cluster's total, which is what two runs
// compare on.
func TestClusterFootprintIndependentOfPlacement(t *testing.T) {
	units := []Unit{{Name: "node0", Role: RoleServer, PID: 10, Pods: "p0"}, {Name: "node1", Role: RoleAgent, PID: 20, Pods: "p1"}}
	sm := &sampler{units: units, h: &cgroup.Hierarchy{Version: 1}}
	pod := map[int32]procSample{30: {pss: 50}}
	shim := procSample{pss: 8}
	// Run A: the pod and its shim on node0; run B: on node1.
	a := []unitSample{
		{own: map[int32]procSample{10: {pss: 400}, 11: shim}, pods: pod},
		{own: map[int32]procSample{20: {pss: 100}}},
	}
	b := []unitSample{
		{own: map[int32]procSample{10: {pss: 400}}},
		{own: map[int32]procSample{20: {pss: 100}, 21: shim}, pods: pod},
	}
	total := func(us []unitSample) (float64, float64) {
		ss := allSeries(sm, []tick{{units: us}})
		ms := clusterMeasurements(sm, ss, provenance{}, nil)
		idle := idleMeasurements(sm, ss, provenance{}, nil)
		return findM(t, ms, ClusterPSSMetric, nil).Summary.P50, findM(t, idle, "footprint.idle.pss", nil).Summary.P50
	}
	clusterA, serverA := total(a)
	clusterB, serverB := total(b)
	if clusterA != 558 || clusterB != 558 {
		t.Errorf("cluster PSS %v and %v, want 558 both times (400+8+100+50)", clusterA, clusterB)
	}
	if serverA == serverB {
		t.Errorf("server PSS %v in both placements: the test no longer shows the placement effect", serverA)
	}

	a[1].podsMissing = "no cgroup /p1"
	ms := clusterMeasurements(sm, allSeries(sm, []tick{{units: a}}), provenance{}, nil)
	if m := findM(t, ms, ClusterPSSMetric, nil); m.Missing == "" {
		t.Errorf("with node1's pods unmeasured the cluster total %v must be not measured", m.Samples)
	}
}

// TestIdleWindowStartsAfterBarrier burns CPU in this process while Idle
// waits at its barrier: the window starts from a sample taken after the
// barrier, so none of that CPU is in it (from the settling's last sample,
// the first interval counted all of it).
func TestIdleWindowStartsAfterBarrier(t *testing.T) {
	const burn = 500 * time.Millisecond
	calls := 0
	ms, err := Idle(context.Background(), IdleOptions{
		Units:  []Unit{{Name: "server", Role: RoleServer, PID: os.Getpid()}},
		Window: 2 * time.Second, Interval: 2 * time.Second,
		Barrier: func(context.Context) error {
			calls++
			burnCPU(t, burn)
			return nil
		},
	})
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	if calls != 1 {
		t.Fatalf("barrier called %d times, want once", calls)
	}
	// The barrier's 0.5 s of CPU over at most ~4.5 s of wall time would be
	// over 10 %; this idle process alone is far below.
	if cpu := findM(t, ms, "footprint.idle.cpu", nil); cpu.Summary.Max >= 10 {
		t.Errorf("the window's CPU peaked at %.1f%% of a core: the CPU burned at the barrier is in the window (samples %v)", cpu.Summary.Max, cpu.Samples)
	}
}

func TestIdleBarrierErrorStops(t *testing.T) {
	_, err := Idle(context.Background(), IdleOptions{
		Units:  []Unit{{Name: "server", Role: RoleServer, PID: os.Getpid()}},
		Window: time.Second, Interval: time.Second,
		Barrier: func(context.Context) error { return errors.New("another cell failed") },
	})
	if err == nil || !strings.Contains(err.Error(), "another cell failed") {
		t.Fatalf("Idle with a failing barrier: %v, want its error", err)
	}
}

// burnCPU spins until this process used d more CPU time.
func burnCPU(t *testing.T, d time.Duration) {
	t.Helper()
	used := func() time.Duration {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for start := used(); used()-start < d; {
		for i := 0; i < 1e6; i++ {
		}
	}
}

func TestCountPods(t *testing.T) {
	tree := map[string][]int{".": nil, "besteffort": nil, "besteffort/podA": {1}, "besteffort/podA/c1": {2}, "podB": {3}, "podB/c": nil, "burstable": nil}
	if n := countPods(tree); n != 2 {
		t.Errorf("countPods = %d, want 2 (podA under a QoS class, podB directly; their containers are not pods)", n)
	}
}
