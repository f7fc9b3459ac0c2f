package job

import (
	"strings"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/measure"
)

func TestBenchOptionsAPI(t *testing.T) {
	o := BenchOptions{Objects: 50, Concurrency: 64, ObjectSize: 10, APIRepeats: 2, RequestTimeout: time.Second, ErrorBudget: 0.01}
	ao := o.API(nil, nil, nil)
	if ao.Concurrency != 64 || ao.RequestTimeout != time.Second || ao.ErrorBudget != 0.01 || ao.Objects != 50 || ao.Repeats != 2 {
		t.Errorf("API options %+v do not carry the bench options %+v", ao, o)
	}
	if d := ao.Describe(); !strings.Contains(d, "closed loop, concurrency 64") {
		t.Errorf("Describe() = %q, want a closed loop of 64", d)
	}
	o.Rate = 250
	if d := o.API(nil, nil, nil).Describe(); !strings.Contains(d, "open loop, 250 requests/s") {
		t.Errorf("with a rate, Describe() = %q, want an open loop of 250/s", d)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate() = %v", err)
	}
	o.ErrorBudget = 2
	if err := o.Validate(); err == nil {
		t.Error("Validate() accepted an error budget of 2")
	}
	if err := (BenchOptions{Pods: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "pod startup") {
		t.Errorf("Validate() of -1 pods = %v, want it refused", err)
	}
}

// --settle-min changes the minimum of the harness's rule for rest, and
// nothing else of it: the idle footprint's settle, the API load's, and a
// comparison's load rounds (10 s unless asked for less).
func TestSettleMin(t *testing.T) {
	def := measure.DefaultSettle
	if got := (BenchOptions{}).idleSettle(); got != def {
		t.Errorf("default idle settle %v, want measure.DefaultSettle", got)
	}
	o := BenchOptions{SettleMin: 5 * time.Second}
	want := def
	want.Min = 5 * time.Second
	if got := o.idleSettle(); got != want {
		t.Errorf("idle settle with 5s: %v, want %v", got, want)
	}
	if got := o.settle(); got != want {
		t.Errorf("API settle with 5s: %v, want %v", got, want)
	}
	for _, tc := range []struct{ min, wantLoad time.Duration }{{0, 10 * time.Second}, {5 * time.Second, 5 * time.Second}, {time.Minute, 10 * time.Second}} {
		c := CompareOptions{Bench: BenchOptions{SettleMin: tc.min}}
		c.setDefaults()
		if c.Bench.Settle.Min != tc.wantLoad || c.Bench.Settle.CPU != def.CPU || c.Bench.Settle.Max != def.Max {
			t.Errorf("--settle-min %s: a comparison's load rounds settle by %v, want the minimum %s", tc.min, c.Bench.Settle, tc.wantLoad)
		}
	}
	for _, bad := range []time.Duration{-time.Second, def.Max + time.Second} {
		if err := (BenchOptions{SettleMin: bad}).Validate(); err == nil || !strings.Contains(err.Error(), "settle minimum") {
			t.Errorf("SettleMin %s: Validate() = %v, want it refused", bad, err)
		}
	}
}
