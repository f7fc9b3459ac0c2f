package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlainThrottlesStatusButNotPhases(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPlain(&buf, func() time.Time { return clock })
	p.Phase("build")
	p.Status("step 1")
	p.Status("step 2") // same instant: throttled
	clock = clock.Add(20 * time.Second)
	p.Status("step 3")
	p.Linef("spec failed: x")
	p.Phase("deploy")
	out := buf.String()
	for _, want := range []string{"==> [00:00] build", "step 1", "[00:20] step 3", "spec failed: x", "==> [00:20] deploy"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "step 2") {
		t.Errorf("throttled status was printed:\n%s", out)
	}
	if strings.Contains(out, "\r") || strings.Contains(out, "\033[") {
		t.Errorf("plain output has terminal control codes: %q", out)
	}
}

func TestEveryCallsUntilStopped(t *testing.T) {
	calls := make(chan time.Duration, 100)
	stop := Every(time.Millisecond, func(d time.Duration) { calls <- d })
	first := <-calls
	stop()
	stop() // idempotent
	n := len(calls)
	time.Sleep(5 * time.Millisecond)
	if len(calls) != n {
		t.Errorf("f still called after stop: %d then %d calls", n, len(calls))
	}
	if first <= 0 {
		t.Errorf("elapsed %v, want > 0", first)
	}
}
