package livemetrics

import (
	"context"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the served metrics as Prometheus would.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name, label, want string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == want {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, want)
	return 0
}

func TestServeExposesTheRun(t *testing.T) {
	m := New()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, stop, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.Phase("footprint")
	m.Phase("conformance")
	m.Specs(97, 40, 39, 1, 0)
	m.Samples("api.latency", 200)
	m.Samples("api.latency", 200)
	m.RequestRate("create", 905.5)
	fams := scrape(t, addr)
	if v := value(t, fams, "distrobench_phase", "phase", "conformance"); v != 1 {
		t.Errorf("conformance phase = %v, want 1", v)
	}
	if v := value(t, fams, "distrobench_phase", "phase", "footprint"); v != 0 {
		t.Errorf("footprint phase = %v, want 0 once the run moved on", v)
	}
	if v := value(t, fams, "distrobench_specs", "state", "failed"); v != 1 {
		t.Errorf("failed specs = %v", v)
	}
	if v := value(t, fams, "distrobench_samples_total", "measurement", "api.latency"); v != 400 {
		t.Errorf("samples = %v, want 400", v)
	}
	if v := value(t, fams, "distrobench_request_rate", "verb", "create"); v != 905.5 {
		t.Errorf("create rate = %v", v)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Error("still serving after stop")
	}
}

func TestNilMetricsIgnoresCalls(t *testing.T) {
	var m *Metrics
	m.Phase("x")
	m.Specs(1, 1, 1, 0, 0)
	m.Samples("x", 1)
	m.RequestRate("get", 1)
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{"9847": "127.0.0.1:9847", ":9847": "127.0.0.1:9847", "0.0.0.0:9847": "0.0.0.0:9847", "[::1]:9": "[::1]:9"} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a:b:c"} {
		if _, err := ListenAddr(bad); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
			t.Errorf("ListenAddr(%q) error %v", bad, err)
		}
	}
}
