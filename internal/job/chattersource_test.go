package job

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/distrobench/distrobench/internal/chatter"
)

func TestAPISourceIsTheApiserverUnlessAPrometheusURLIsGiven(t *testing.T) {
	var (
		mu    sync.Mutex
		query string
	)
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		query = r.Form.Get("query")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[
			{"metric":{"__name__":%q,"instance":"10.1.2.3:6443","flow_schema":"system-nodes"},"value":[1,"12"]},
			{"metric":{"__name__":%q,"instance":"10.1.2.3:6443","operation":"get"},"value":[1,"3"]}]}}`,
			chatter.MetricDispatched, chatter.MetricStorageRequests)
	}))
	defer prom.Close()
	cfg := &rest.Config{Host: "https://10.1.2.3:6443"}

	_, source := apiSource(cfg, chatter.PrometheusOptions{})
	if source != "apiserver https://10.1.2.3:6443/metrics" {
		t.Errorf("without a URL: source %q, want the apiserver's /metrics", source)
	}

	scrape, source := apiSource(cfg, chatter.PrometheusOptions{URL: prom.URL, Selector: `job="apiserver",instance="$server"`})
	m, err := scrape(context.Background())
	if err != nil || m.Requests.Totals()[chatter.ClientNodes] != 12 {
		t.Fatalf("Prometheus scrape = %+v, %v; want nodes 12", m, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(query, `instance="10.1.2.3:6443"`) || !strings.HasPrefix(source, "prometheus "+prom.URL) {
		t.Errorf("query %s, source %q: want the instance the apiserver is reached at, and the Prometheus URL", query, source)
	}
}

func TestAPISourceWithABadURLFailsEveryReadingSayingWhy(t *testing.T) {
	scrape, source := apiSource(&rest.Config{Host: "https://h:6443"}, chatter.PrometheusOptions{URL: "prom:9090"})
	if _, err := scrape(context.Background()); err == nil || !strings.Contains(err.Error(), "http(s)://") {
		t.Errorf("reading with URL prom:9090: error %v, want the URL's problem", err)
	}
	if source != "prometheus prom:9090" {
		t.Errorf("source %q", source)
	}
}

func TestApiserverHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"https://127.0.0.1:6443": "127.0.0.1:6443",
		"https://example.com":    "example.com:443",
		"http://[::1]":           "[::1]:80",
		"10.0.0.1:6443":          "10.0.0.1:6443",
		"myhost":                 "myhost:443",
	} {
		if got := apiserverHostPort(in); got != want {
			t.Errorf("apiserverHostPort(%q) = %q, want %q", in, got, want)
		}
	}
}
