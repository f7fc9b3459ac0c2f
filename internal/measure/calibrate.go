package measure

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// CalibrationMetric names the machine's speed while a run measured: the
// seconds one core takes for a fixed piece of work. A shared machine (a
// VM, a CI runner) runs faster or slower from one minute to the next; two
// runs' latencies only compare when their calibrations do, and a release
// gate can tell a slower machine from a slower release.
const CalibrationMetric = "machine.calibration"

// calibrationBytes is the fixed work: SHA-256 over this many bytes, from a
// buffer that fits in the caches of any machine the harness runs on (CPU
// speed, not memory bandwidth). About 50 ms on one 2020s x86 core.
const (
	calibrationBytes = 32 << 20
	calibrationChunk = 256 << 10
)

// Calibrate times the fixed work n times, one after another on one core,
// and returns the seconds each took.
func Calibrate(ctx context.Context, n int) ([]float64, error) {
	buf := make([]byte, calibrationChunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	out := make([]float64, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		start := time.Now()
		h := sha256.New()
		for range calibrationBytes / calibrationChunk {
			h.Write(buf)
		}
		h.Sum(nil)
		out = append(out, time.Since(start).Seconds())
	}
	return out, nil
}

// CalibrationMeasurement is the calibration's figure: samples are
// Calibrate's, taken when says (for the attribute).
func CalibrationMeasurement(samples []float64, when string, labels map[string]string) result.Measurement {
	return described(result.NewMeasurement(CalibrationMetric, "seconds", labels, samples),
		fmt.Sprintf("seconds one core of the harness's machine takes to hash %d MiB with SHA-256 (fixed work: lower is a faster machine)", calibrationBytes>>20)).
		WithAttribute("calibration.when", when)
}
