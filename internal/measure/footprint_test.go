package measure

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startSleep starts a `sleep` child of the test process and kills it at the end.
func startSleep(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sleep: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func TestSampleTree(t *testing.T) {
	child := startSleep(t)
	ctx := context.Background()

	tree, err := SampleTree(ctx, os.Getpid())
	if err != nil {
		t.Fatalf("SampleTree(self): %v", err)
	}
	if tree.Procs < 2 || tree.RSS == 0 || tree.PSS == 0 {
		t.Errorf("tree of the test process = %+v, want >= 2 procs, RSS and PSS > 0", tree)
	}
	if tree.PSS > tree.RSS {
		t.Errorf("PSS %d > RSS %d: shared pages must not count more than once", tree.PSS, tree.RSS)
	}

	leaf, err := SampleTree(ctx, child.Process.Pid)
	if err != nil {
		t.Fatalf("SampleTree(sleep): %v", err)
	}
	if leaf.Procs != 1 || leaf.RSS == 0 || leaf.PSS == 0 {
		t.Errorf("sleep = %+v, want 1 proc with RSS and PSS > 0", leaf)
	}
	if leaf.RSS >= tree.RSS {
		t.Errorf("the child alone (%d) is not smaller than the tree containing it (%d)", leaf.RSS, tree.RSS)
	}
}

func TestSampleTreeGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_, err := SampleTree(context.Background(), cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("sampling an exited process: got %v, want a 'not running' error", err)
	}
}

func TestIdle(t *testing.T) {
	startSleep(t)
	// Burn CPU in the measured tree during the window so the CPU figure has
	// something to see.
	stop := make(chan struct{})
	go func() {
		for {
			// The spin is the point: it burns CPU for the measurement.
			select {
			case <-stop:
				return
			default: //nolint:staticcheck // SA5004 is intended here
			}
		}
	}()
	defer close(stop)

	ms, err := Idle(context.Background(), IdleOptions{
		Units:  []Unit{{Name: "server", Role: RoleServer, PID: os.Getpid()}},
		Window: time.Second, Interval: 250 * time.Millisecond,
		Labels: map[string]string{"profile": "k3s"},
	})
	if err != nil {
		t.Fatalf("Idle: %v", err)
	}
	want := map[string]struct {
		unit    string
		samples int
	}{
		"footprint.idle.rss": {"bytes", 5},
		"footprint.idle.pss": {"bytes", 5},
		"footprint.idle.cpu": {"percent", 4},
	}
	if len(ms) != len(want) {
		t.Fatalf("got %d measurements, want %d", len(ms), len(want))
	}
	for _, m := range ms {
		w, ok := want[m.Name]
		if !ok {
			t.Errorf("unexpected measurement %s", m.Name)
			continue
		}
		if m.Unit != w.unit || len(m.Samples) != w.samples || m.Summary.Count != w.samples {
			t.Errorf("%s: unit %s, %d samples; want %s, %d", m.Name, m.Unit, len(m.Samples), w.unit, w.samples)
		}
		if m.Labels["profile"] != "k3s" {
			t.Errorf("%s: labels %v lack the caller's", m.Name, m.Labels)
		}
		if m.Summary.Min < 0 {
			t.Errorf("%s: negative sample %v", m.Name, m.Samples)
		}
		if m.Attributes["idle.settle"] == "" || m.Attributes["idle.window"] == "" {
			t.Errorf("%s: attributes %v do not say how idle was defined", m.Name, m.Attributes)
		}
		if m.Name == "footprint.idle.cpu" {
			if m.Summary.Max <= 0 {
				t.Errorf("cpu samples %v: a spinning goroutine was not seen", m.Samples)
			}
			if !strings.Contains(m.Attributes["cpu.method"], "cutime") {
				t.Errorf("cpu.method = %q, want the tree method named", m.Attributes["cpu.method"])
			}
		}
	}
}

func TestIdleErrors(t *testing.T) {
	if _, err := Idle(context.Background(), IdleOptions{}); err == nil {
		t.Error("Idle without units succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	self := []Unit{{Name: "server", Role: RoleServer, PID: os.Getpid()}}
	if _, err := Idle(ctx, IdleOptions{Units: self, Window: time.Hour, Interval: time.Minute}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Idle: got %v, want context.Canceled", err)
	}
	gone := []Unit{{Name: "node1", Role: RoleAgent, PID: 1 << 22}}
	if _, err := Idle(context.Background(), IdleOptions{Units: gone}); err == nil || !strings.Contains(err.Error(), "agent node1") {
		t.Errorf("Idle of a missing process: err = %v, want one naming the unit", err)
	}
}

func TestSelfUsage(t *testing.T) {
	stop := SelfUsage(context.Background(), 20*time.Millisecond, map[string]string{"phase": "bench"})
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) { // busy: the harness working
	}
	ms := stop()
	if again := stop(); len(again) != len(ms) {
		t.Error("second stop returned something else")
	}
	got := map[string]int{}
	for _, m := range ms {
		got[m.Name] = len(m.Samples)
		if m.Labels["phase"] != "bench" {
			t.Errorf("%s: labels %v", m.Name, m.Labels)
		}
		if m.Summary.Max <= 0 {
			t.Errorf("%s: samples %v, want some > 0", m.Name, m.Samples)
		}
	}
	if got["harness.rss"] < 2 || got["harness.cpu"] < 1 {
		t.Errorf("samples per measurement = %v, want rss >= 2 and cpu >= 1", got)
	}
}

func TestReadyzSamples(t *testing.T) {
	calls := 0
	restart := func(context.Context) (time.Duration, error) {
		calls++
		return time.Duration(calls) * time.Second, nil
	}
	m, err := ReadyzSamples(context.Background(), restart, 3)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "startup.readyz" || m.Unit != "seconds" || m.Summary.Count != 3 || m.Summary.P50 != 2 {
		t.Errorf("measurement = %+v", m)
	}

	calls = 0
	failing := func(context.Context) (time.Duration, error) {
		calls++
		if calls == 3 {
			return 0, errors.New("server did not become ready")
		}
		return time.Second, nil
	}
	m, err = ReadyzSamples(context.Background(), failing, 5)
	if err == nil || !strings.Contains(err.Error(), "restart 3/5") {
		t.Errorf("error = %v, want one naming restart 3/5", err)
	}
	if m.Summary.Count != 2 || calls != 3 {
		t.Errorf("kept %d samples after %d calls, want 2 samples and no call after the failure", m.Summary.Count, calls)
	}
}
