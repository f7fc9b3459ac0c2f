package job

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/livemetrics"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/result"
)

// TestRunnerPublishesLiveMetrics: with --metrics-addr, every phase, every
// sample a phase took and the API benchmark's achieved rates show up on the
// live endpoint.
func TestRunnerPublishesLiveMetrics(t *testing.T) {
	m := livemetrics.New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bench := Phase{Name: PhaseBench, Run: func(_ context.Context, t *Target) error {
		t.Report.Measurements = append(t.Report.Measurements,
			result.NewMeasurement("api.latency", "seconds", map[string]string{"verb": "create"}, []float64{0.01, 0.02, 0.03}),
			result.NewMeasurement(measure.RateAchievedMetric, "ops/s", map[string]string{"verb": "create"}, []float64{900}))
		return nil
	}}
	f := &fakeJob{}
	tg := &Target{Report: NewReport("distrobench run", "k3s", "sqlite", testTime, "test")}
	if _, err := runJob(ctx, Env{OutBase: t.TempDir(), Log: slog.New(slog.DiscardHandler), Metrics: m}, tg,
		[]Phase{f.phase(PhaseFootprint, nil), bench, f.down()}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`distrobench_phase{phase="down"} 1`, `distrobench_phase{phase="bench"} 0`,
		`distrobench_samples_total{measurement="api.latency"} 3`,
		`distrobench_request_rate{verb="create"} 900`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("live metrics lack %s", want)
		}
	}
}
