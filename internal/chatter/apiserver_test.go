package chatter

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"
)

func parseFixture(t *testing.T, name string, at time.Time) APIMetrics {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := ParseAPIMetrics(f, at)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func TestAPIRatesBetweenScrapes(t *testing.T) {
	before := parseFixture(t, "apiserver-before.txt", t0)
	after := parseFixture(t, "apiserver-after.txt", t0.Add(10*time.Second))
	got, err := APIRatesBetween(before, after)
	if err != nil {
		t.Fatal(err)
	}
	wantRequests := map[string]float64{
		ClientSystemMasters:             2,
		ClientProbes:                    0,
		ClientNodes:                     8,  // system-nodes +50, system-node-high +30
		ClientControllerManager:         10, // +100
		ClientScheduler:                 0,
		ClientLeaderElection:            4,
		ClientKubeSystemServiceAccounts: 1,
		ClientServiceAccounts:           2,   // a series new in the later scrape
		Other:                           4.5, // global-default reset to 5, catch-all new at 40
	}
	wantStorage := map[string]float64{"get": 5, "update": 7, "listWithCount": 0}
	wantBytes := map[string]float64{
		"GET nodes":                        3000,
		"LIST pods":                        1000,
		"WATCH leases.coordination.k8s.io": 512,
	}
	for _, c := range []struct {
		what      string
		got, want map[string]float64
	}{
		{"requests per second by client", got.RequestsPerSec, wantRequests},
		{"storage operations per second", got.StoragePerSec, wantStorage},
		{"response bytes per second", got.ResponseBytesPerSec, wantBytes},
	} {
		if !maps.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if got.Seconds != 10 || after.StorageMetric != MetricStorageRequests {
		t.Errorf("window %vs from %s, want 10s from %s", got.Seconds, after.StorageMetric, MetricStorageRequests)
	}
}

// expectError checks err against want, a piece of the error text ("" for
// no error), and reports whether an error was expected (the case is done).
func expectError(t *testing.T, err error, want string) bool {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want one with %q", err, want)
	}
	return true
}

func TestParseAPIMetricsSources(t *testing.T) {
	const dispatched = "# TYPE apiserver_flowcontrol_dispatched_requests_total counter\n" +
		`apiserver_flowcontrol_dispatched_requests_total{flow_schema="system-nodes",priority_level="system"} 3` + "\n"
	tests := []struct {
		name        string
		text        string
		wantMetric  string
		wantStorage map[string]float64
		wantErr     string
	}{
		{
			name: "storage from the latency histogram's count when the counter is missing",
			text: dispatched + "# TYPE etcd_request_duration_seconds histogram\n" +
				`etcd_request_duration_seconds_bucket{group="",operation="get",resource="pods",le="+Inf"} 7` + "\n" +
				`etcd_request_duration_seconds_sum{group="",operation="get",resource="pods"} 0.1` + "\n" +
				`etcd_request_duration_seconds_count{group="",operation="get",resource="pods"} 7` + "\n",
			wantMetric:  MetricStorageDuration,
			wantStorage: map[string]float64{"get": 7},
		},
		{
			name: "storage from an untyped _count when the scrape has no TYPE lines",
			text: `apiserver_flowcontrol_dispatched_requests_total{flow_schema="probes"} 1` + "\n" +
				`etcd_request_duration_seconds_count{group="",operation="create",resource="events"} 4` + "\n" +
				`etcd_request_duration_seconds_count{group="",operation="create",resource="pods"} 2` + "\n",
			wantMetric:  MetricStorageDuration + "_count",
			wantStorage: map[string]float64{"create": 6},
		},
		{
			name:    "no flow-control counter",
			text:    `etcd_requests_total{operation="get"} 1` + "\n",
			wantErr: MetricDispatched,
		},
		{
			name:    "no storage metric",
			text:    dispatched,
			wantErr: MetricStorageRequests,
		},
		{
			name:    "not exposition text",
			text:    "{\"kind\": \"Status\"}\n",
			wantErr: "Prometheus text format",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseAPIMetrics(strings.NewReader(tt.text), t0)
			if expectError(t, err, tt.wantErr) {
				return
			}
			if m.StorageMetric != tt.wantMetric || !maps.Equal(m.Storage.Totals(), tt.wantStorage) {
				t.Errorf("storage %v from %s, want %v from %s", m.Storage.Totals(), m.StorageMetric, tt.wantStorage, tt.wantMetric)
			}
		})
	}
}

func TestClientOf(t *testing.T) {
	for fs, want := range map[string]string{
		"system-nodes":                  ClientNodes,
		"system-node-high":              ClientNodes,
		"kube-controller-manager":       ClientControllerManager,
		"kube-scheduler":                ClientScheduler,
		"system-leader-election":        ClientLeaderElection,
		"workload-leader-election":      ClientLeaderElection,
		"kube-system-service-accounts":  ClientKubeSystemServiceAccounts,
		"service-accounts":              ClientServiceAccounts,
		"probes":                        ClientProbes,
		"exempt":                        ClientSystemMasters,
		"global-default":                Other,
		"catch-all":                     Other,
		"a-schema-the-cluster-added":    Other,
		FlowSchemaPrefix + "kube-proxy": "kube-proxy",
		FlowSchemaPrefix:                Other,
		"":                              Other,
	} {
		if got := ClientOf(fs); got != want {
			t.Errorf("ClientOf(%q) = %q, want %q", fs, got, want)
		}
	}
}

func TestAPIRatesBetweenRefusesReversedScrapes(t *testing.T) {
	a := parseFixture(t, "apiserver-before.txt", t0)
	b := parseFixture(t, "apiserver-after.txt", t0.Add(-time.Second))
	if _, err := APIRatesBetween(a, b); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Errorf("err = %v, want the scrapes said to be out of order", err)
	}
}
