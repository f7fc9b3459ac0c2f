// Package livemetrics exposes what a running distrobench is doing as
// Prometheus metrics (client_golang), so a long run can be watched from an
// existing Prometheus and Grafana: the phase, specs done/passed/failed,
// samples taken, request rates. It serves only while the run lasts.
package livemetrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is distrobench's own registry. Its methods are safe for concurrent
// use; a nil *Metrics ignores every call, so callers need no checks when
// live metrics are off.
type Metrics struct {
	reg     *prometheus.Registry
	mu      sync.Mutex
	current string
	phase   *prometheus.GaugeVec
	specs   *prometheus.GaugeVec
	samples *prometheus.CounterVec
	rate    *prometheus.GaugeVec
}

// New returns a registry with distrobench's metrics and the Go runtime's
// and this process's own.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg: reg,
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "distrobench_phase",
			Help: "1 for the phase the run is in, 0 for the phases it was in before."}, []string{"phase"}),
		specs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "distrobench_specs",
			Help: "Specs of the running suite by state: total (selected), done, passed, failed, skipped."}, []string{"state"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "distrobench_samples_total",
			Help: "Samples taken, by measurement name."}, []string{"measurement"}),
		rate: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "distrobench_request_rate",
			Help: "Requests per second the harness achieved in its last batch, by verb."}, []string{"verb"}),
	}
	reg.MustRegister(m.phase, m.specs, m.samples, m.rate,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Phase marks name as the current phase.
func (m *Metrics) Phase(name string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current != "" {
		m.phase.WithLabelValues(m.current).Set(0)
	}
	m.current = name
	m.phase.WithLabelValues(name).Set(1)
}

// Specs records the running suite's counts.
func (m *Metrics) Specs(total, done, passed, failed, skipped int) {
	if m == nil {
		return
	}
	for state, v := range map[string]int{"total": total, "done": done, "passed": passed, "failed": failed, "skipped": skipped} {
		m.specs.WithLabelValues(state).Set(float64(v))
	}
}

// Samples counts n more samples of a measurement.
func (m *Metrics) Samples(measurement string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.samples.WithLabelValues(measurement).Add(float64(n))
}

// RequestRate records the achieved request rate of a verb.
func (m *Metrics) RequestRate(verb string, perSecond float64) {
	if m == nil {
		return
	}
	m.rate.WithLabelValues(verb).Set(perSecond)
}

// ListenAddr turns the --metrics-addr value into a listen address: a bare
// port ("9847" or ":9847") listens on 127.0.0.1 only, so the metrics are not
// exposed beyond the machine unless a host is named.
func ListenAddr(flag string) (string, error) {
	s := strings.TrimSpace(flag)
	if s == "" {
		return "", errors.New("--metrics-addr is empty: give a port (9847, listens on 127.0.0.1) or HOST:PORT")
	}
	if !strings.Contains(s, ":") {
		s = ":" + s
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("--metrics-addr %q: %w (want PORT or HOST:PORT)", flag, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Serve serves /metrics on addr until ctx ends or stop is called, and
// returns the address it listens on (with the port chosen when addr's was 0).
func (m *Metrics) Serve(ctx context.Context, addr string) (bound string, stop func() error, err error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("live metrics: listen on %s: %w (is the port taken? pick another with --metrics-addr)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	var once sync.Once
	stop = func() error {
		var err error
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			err = srv.Shutdown(sctx)
			<-done
		})
		return err
	}
	context.AfterFunc(ctx, func() { _ = stop() })
	return ln.Addr().String(), stop, nil
}
