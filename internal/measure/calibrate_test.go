package measure

import (
	"context"
	"errors"
	"testing"
)

func TestCalibrateTimesEachRun(t *testing.T) {
	s, err := Calibrate(context.Background(), 3)
	if err != nil || len(s) != 3 {
		t.Fatalf("Calibrate: %v, %v: want 3 samples", s, err)
	}
	for i, v := range s {
		if v <= 0 {
			t.Errorf("sample %d = %v s: the work takes time", i, v)
		}
	}
	m := CalibrationMeasurement(s, "now", nil)
	if m.Name != CalibrationMetric || m.Unit != "seconds" || m.Summary.Count != 3 || m.Attributes["calibration.when"] != "now" {
		t.Errorf("measurement %+v", m)
	}
}

func TestCalibrateStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := Calibrate(ctx, 3); !errors.Is(err, context.Canceled) || len(s) != 0 {
		t.Errorf("cancelled: %v, %v", s, err)
	}
}
