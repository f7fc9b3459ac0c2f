package job

import (
	"strings"
	"testing"
	"time"
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
}
