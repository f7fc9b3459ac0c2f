package job

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/measure"
	"github.com/distrobench/distrobench/internal/process"
)

// PrometheusEnv names the Prometheus server binary the integration test
// runs (hack/prometheus.sh builds it and prints its path).
const PrometheusEnv = "DISTROBENCH_PROMETHEUS"

// TestPrometheusSourceIntegration runs a real Prometheus on 127.0.0.1
// scraping the live k3lite cluster's apiserver (DISTROBENCH_KUBECONFIG, as
// the measure tests), and reads the chatter counters through it as
// --prometheus-url does: between two direct scrapes of /metrics, it sees
// every client and storage operation the first one saw, none the second
// did not, and counts between the two.
func TestPrometheusSourceIntegration(t *testing.T) {
	bin := prometheusBinary(t, "a live cluster (DISTROBENCH_KUBECONFIG) and ")
	kc := os.Getenv("DISTROBENCH_KUBECONFIG")
	if kc == "" {
		kc = filepath.Join("..", "..", "_output", "runs", "current", "kubeconfig.yaml")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatalf("no cluster: %v (bring one up with `distrobench up`, or set DISTROBENCH_KUBECONFIG)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	promURL := startPrometheus(ctx, t, bin, cfg)
	scrape, source := apiSource(cfg, chatter.PrometheusOptions{URL: promURL, Selector: `job="apiserver",instance="` + chatter.ServerPlaceholder + `"`})
	t.Logf("source: %s", source)

	first := scrapeDirect(ctx, t, cfg)
	var viaProm chatter.APIMetrics
	deadline := time.Now().Add(90 * time.Second)
	for {
		viaProm, err = scrape(ctx)
		if err == nil && covers(viaProm.Requests, first.Requests) && covers(viaProm.Storage, first.Storage) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus never caught up with the direct scrape: last reading %v, error %v; direct clients %v", viaProm.Requests.Totals(), err, first.Requests.Totals())
		}
		time.Sleep(time.Second)
	}
	second := scrapeDirect(ctx, t, cfg)
	if !covers(second.Requests, viaProm.Requests) || !covers(second.Storage, viaProm.Storage) {
		t.Errorf("Prometheus read counters the later direct scrape did not have: clients %v vs %v, storage %v vs %v",
			keys(viaProm.Requests), keys(second.Requests), keys(viaProm.Storage), keys(second.Storage))
	}
	t.Logf("requests by client: direct %v, via Prometheus %v, direct %v", first.Requests.Totals(), viaProm.Requests.Totals(), second.Requests.Totals())
}

// TestPrometheusSourceAgainstAFakeApiserver runs the real Prometheus
// against a TLS server that answers /metrics as an apiserver does, with a
// bearer token, and checks the counters read through Prometheus are the
// ones the text holds: the scrape configuration, the credentials files and
// the query work with a real server, without a cluster.
func TestPrometheusSourceAgainstAFakeApiserver(t *testing.T) {
	bin := prometheusBinary(t, "")
	const fixture = "../chatter/testdata/apiserver-before.txt"
	text, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || r.Header.Get("Authorization") != "Bearer fake-token" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write(text)
	}))
	defer srv.Close()
	cfg := &rest.Config{Host: srv.URL, BearerToken: "fake-token",
		TLSClientConfig: rest.TLSClientConfig{CAData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	scrape, _ := apiSource(cfg, chatter.PrometheusOptions{URL: startPrometheus(ctx, t, bin, cfg), Selector: `instance="$server"`})
	var got chatter.APIMetrics
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		if got, err = scrape(ctx); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reading through Prometheus: %v", err)
		}
	}
	want, err := chatter.ParseAPIMetrics(bytes.NewReader(text), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]chatter.Counts{{got.Requests, want.Requests}, {got.Storage, want.Storage}, {got.ResponseBytes, want.ResponseBytes}} {
		if !maps.Equal(c[0].Totals(), c[1].Totals()) {
			t.Errorf("through Prometheus %v, in %s %v", c[0].Totals(), fixture, c[1].Totals())
		}
	}
}

// prometheusBinary skips the test in the unit tier (it needs besides
// the Prometheus binary) and fails it when no binary is named.
func prometheusBinary(t *testing.T, besides string) string {
	t.Helper()
	if testing.Short() {
		t.Skipf("integration: needs %sa Prometheus binary (hack/prometheus.sh; %s)", besides, PrometheusEnv)
	}
	bin := os.Getenv(PrometheusEnv)
	if bin == "" {
		t.Fatalf("set %s to a Prometheus server binary (hack/prometheus.sh builds one and prints its path)", PrometheusEnv)
	}
	return bin
}

// covers reports whether every key of less is in more, with a total no
// lower (counters only grow between the readings).
func covers(more, less chatter.Counts) bool {
	m, l := more.Totals(), less.Totals()
	for k, v := range l {
		if mv, ok := m[k]; !ok || mv < v {
			return false
		}
	}
	return true
}

func keys(c chatter.Counts) []string { return slices.Sorted(maps.Keys(c)) }

func scrapeDirect(ctx context.Context, t *testing.T, cfg *rest.Config) chatter.APIMetrics {
	t.Helper()
	fams, err := measure.ScrapeMetrics(ctx, cfg, "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, err := chatter.APIMetricsFrom(fams, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// startPrometheus runs bin on a free 127.0.0.1 port, scraping the
// apiserver cfg points at every 5 s (the chatter interval) with cfg's
// credentials (written to 0600 files the configuration names: nothing
// secret on its command line), waits until it is ready and returns its
// URL. It is stopped at cleanup.
func startPrometheus(ctx context.Context, t *testing.T, bin string, cfg *rest.Config) string {
	t.Helper()
	dir := t.TempDir()
	conf, err := prometheusConfig(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr := freeLoopbackAddr(t)
	g := process.NewGroup(nil)
	p, err := g.Start(ctx, process.Spec{
		Name: "prometheus", Path: bin, LogPath: filepath.Join(dir, "prometheus.log"),
		Args: []string{"--config.file=" + conf, "--storage.tsdb.path=" + filepath.Join(dir, "data"), "--web.listen-address=" + addr},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.StopAll(30 * time.Second); err != nil {
			t.Errorf("stop prometheus: %v", err)
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", strings.Join(process.Tail(p.LogPath, 40), "\n"))
		}
	})
	u := "http://" + addr
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		if resp, err := http.Get(u + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return u
			}
		}
		if exited, code := p.Exited(); exited || time.Now().After(deadline) {
			t.Fatalf("prometheus not ready (exited %v, code %d); log:\n%s", exited, code, strings.Join(process.Tail(p.LogPath, 40), "\n"))
		}
	}
}

// prometheusConfig writes a configuration scraping cfg's apiserver as job
// "apiserver" (kube-prometheus's name), instance host:port, and the
// credentials it names, all 0600 in dir; it returns the configuration's
// path.
func prometheusConfig(dir string, cfg *rest.Config) (string, error) {
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return "", err
	}
	write := func(name string, b []byte) (string, error) {
		path := filepath.Join(dir, name)
		return path, os.WriteFile(path, b, 0o600)
	}
	var tls, auth []string
	for _, f := range []struct {
		key, file string
		data      []byte
	}{{"ca_file", "ca.crt", cfg.CAData}, {"cert_file", "client.crt", cfg.CertData}, {"key_file", "client.key", cfg.KeyData}} {
		if len(f.data) == 0 {
			continue
		}
		path, err := write(f.file, f.data)
		if err != nil {
			return "", err
		}
		tls = append(tls, fmt.Sprintf("      %s: %q", f.key, path))
	}
	if cfg.ServerName != "" {
		tls = append(tls, fmt.Sprintf("      server_name: %q", cfg.ServerName))
	}
	if cfg.Insecure {
		tls = append(tls, "      insecure_skip_verify: true")
	}
	if cfg.BearerToken != "" {
		path, err := write("token", []byte(cfg.BearerToken))
		if err != nil {
			return "", err
		}
		auth = append(auth, "    authorization:", fmt.Sprintf("      credentials_file: %q", path))
	}
	conf := strings.Join(slices.Concat([]string{
		"global: {scrape_interval: 5s, scrape_timeout: 5s}",
		"scrape_configs:",
		"  - job_name: apiserver",
		"    scheme: https",
		"    tls_config:",
	}, tls, auth, []string{
		"    static_configs:",
		fmt.Sprintf("      - targets: [%q]", apiserverHostPort(cfg.Host)),
	}), "\n") + "\n"
	return write("prometheus.yml", []byte(conf))
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
