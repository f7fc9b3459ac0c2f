package deploy

import (
	"context"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// readyzServer answers GET /readyz with 500 for its first notReady probes,
// then 200, and counts the probes.
type readyzServer struct {
	*httptest.Server
	probes   atomic.Int32
	notReady int32
}

func newReadyzServer(t *testing.T, notReady int) *readyzServer {
	t.Helper()
	rs := &readyzServer{notReady: int32(notReady)}
	rs.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if rs.probes.Add(1) <= rs.notReady {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(rs.Close)
	return rs
}

// writeTestKubeconfig points path at srv, trusting its certificate, with
// the given modification time.
func writeTestKubeconfig(t *testing.T, path string, srv *httptest.Server, mtime time.Time) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{
		Server:                   srv.URL,
		CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}),
	}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: "test"}
	cfg.Contexts["x"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "x"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// neverExits is a server process that runs on.
type neverExits struct{}

func (neverExits) Wait() <-chan struct{} { return nil }
func (neverExits) Exited() (bool, int)   { return false, 0 }

// testClock records the intervals waitReady asks for and lets each pass at
// once; onWait runs at the start of the n-th wait (1-based).
type testClock struct {
	waits  []time.Duration
	onWait func(n int)
}

func (tc *testClock) after(d time.Duration) <-chan time.Time {
	tc.waits = append(tc.waits, d)
	if tc.onWait != nil {
		tc.onWait(len(tc.waits))
	}
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

func testCluster(kubeconfig string, clock *testClock) *Cluster {
	return &Cluster{
		Kubeconfig:   kubeconfig,
		ReadyTimeout: time.Minute,
		log:          slog.New(slog.DiscardHandler),
		clock:        clock.after,
	}
}

// Start-up is timed to the first /readyz that answers ok, so the poll
// interval is the figure's resolution. With the old poll (every 250 ms, a
// new client per probe) the waits read [250ms ×8].
func TestWaitReadyPollsReadyzEveryReadyPoll(t *testing.T) {
	srv := newReadyzServer(t, 5)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	clock := &testClock{onWait: func(n int) {
		if n == 3 { // the server writes its kubeconfig during the third wait
			writeTestKubeconfig(t, kubeconfig, srv.Server, time.Now())
		}
	}}
	if err := testCluster(kubeconfig, clock).waitReady(context.Background(), neverExits{}); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	want := slices.Repeat([]time.Duration{ReadyPoll}, 8) // 3 without a kubeconfig, 5 not ready
	if !slices.Equal(clock.waits, want) {
		t.Errorf("waits %v, want %v", clock.waits, want)
	}
	if got := srv.probes.Load(); got != 6 {
		t.Errorf("%d probes, want 6 (5 not ready, then ok)", got)
	}
}

// A kubeconfig written anew (a restarted server's new address or
// certificates) is read again: the probe goes to the new server.
func TestWaitReadyRereadsARewrittenKubeconfig(t *testing.T) {
	old, fresh := newReadyzServer(t, 1000), newReadyzServer(t, 0)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	written := time.Now().Add(-time.Hour)
	writeTestKubeconfig(t, kubeconfig, old.Server, written)
	clock := &testClock{onWait: func(n int) {
		if n == 2 {
			writeTestKubeconfig(t, kubeconfig, fresh.Server, written.Add(time.Minute))
		}
	}}
	if err := testCluster(kubeconfig, clock).waitReady(context.Background(), neverExits{}); err != nil {
		t.Fatalf("waitReady: %v", err)
	}
	if o, f := old.probes.Load(), fresh.probes.Load(); o != 2 || f != 1 {
		t.Errorf("probes: old server %d, rewritten one %d; want 2 and 1", o, f)
	}
}

// The server's exit ends the wait with its code.
func TestWaitReadyReportsTheServersExit(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	err := testCluster(kubeconfig, &testClock{}).waitReady(context.Background(), exitedWith(3))
	if err == nil || err.Error() != "the server exited with code 3" {
		t.Errorf("err %v, want the server's exit code 3", err)
	}
}

type exitedWith int

func (exitedWith) Wait() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}
func (e exitedWith) Exited() (bool, int) { return true, int(e) }

// The harness's /readyz client is not throttled by client-go either (the
// discovery client's default limiter refuses the 301st request in a row).
func TestReadyzClientIsNotThrottled(t *testing.T) {
	cs, err := readyzClient(&rest.Config{Host: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	limiter := cs.Discovery().RESTClient().GetRateLimiter()
	for i := range 1000 {
		if limiter != nil && !limiter.TryAccept() {
			t.Fatalf("probe %d of 1000 would wait for client-go's rate limiter", i+1)
		}
	}
}
