package upstream

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// post sends what e2e.test's ProgressReporter sends: its whole struct, with
// per-process counters that must not be trusted.
func post(t *testing.T, h http.Handler, body string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/progress", strings.NewReader(body)))
	return rec.Code
}

func TestTrackerAggregatesProcessesByName(t *testing.T) {
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tr := newTracker(onePass(4), now)
	tr.setPass("parallel", "")

	msgs := []string{
		`{"msg":"Test Suite starting","total":0,"completed":0,"skipped":0,"failed":0}`,
		// process 1 knows the total, the others post 0
		`{"msg":"","total":4,"completed":0,"skipped":3202,"failed":0}`,
		`{"msg":"PASSED [sig-node] Pods should be submitted and removed [Conformance] [NodeConformance]","total":4,"completed":1,"skipped":0,"failed":0}`,
		// process 2: its own counters start at 1 again
		`{"msg":"FAILED [sig-network] DNS should provide DNS for the cluster [Conformance]","total":0,"completed":0,"skipped":0,"failed":1,"failures":["[sig-network] DNS should provide DNS for the cluster [Conformance]"]}`,
		`{"msg":"PASSED [sig-apps] Job should manage the lifecycle of a job [Conformance]","total":0,"completed":1,"skipped":0,"failed":1}`,
		// a repeated post for the same spec counts once
		`{"msg":"PASSED [sig-apps] Job should manage the lifecycle of a job [Conformance]","total":0,"completed":2,"skipped":0,"failed":1}`,
	}
	for _, m := range msgs {
		if code := post(t, tr, m); code != http.StatusOK {
			t.Fatalf("POST %s: %d", m, code)
		}
	}
	clock = clock.Add(90 * time.Second)
	p := tr.snapshot()
	if p.Done != 3 || p.Passed != 2 || p.Failed != 1 || p.Total != 4 || p.Pass != "parallel" {
		t.Errorf("snapshot %+v, want 3 done (2 passed, 1 failed) of 4", p)
	}
	// 90 s for 3 specs: 30 s each, one left.
	if p.Elapsed != 90*time.Second || p.Remaining != 30*time.Second {
		t.Errorf("elapsed %s remaining %s, want 1m30s and 30s", p.Elapsed, p.Remaining)
	}
	s := p.String()
	for _, want := range []string{"[parallel]", "3/4 specs", "2 passed, 1 failed", "1m30s elapsed", "~30s left"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
}

func TestTrackerBeforeAnySpec(t *testing.T) {
	tr := newTracker(onePass(10), nil)
	p := tr.snapshot()
	if p.Done != 0 || p.Remaining != 0 || strings.Contains(p.String(), "left") {
		t.Errorf("no estimate before a spec finished: %+v %q", p, p.String())
	}
}

func TestTrackerRejectsBadPosts(t *testing.T) {
	tr := newTracker(onePass(1), nil)
	if code := post(t, tr, `{not json`); code != http.StatusBadRequest {
		t.Errorf("bad JSON: %d", code)
	}
	rec := httptest.NewRecorder()
	tr.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/progress", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
	if tr.snapshot().Done != 0 {
		t.Error("bad posts counted")
	}
}

// The server is what e2e.test posts to: a real HTTP round trip on loopback.
func TestProgressServer(t *testing.T) {
	tr := newTracker(onePass(2), nil)
	srv, err := startProgressServer(tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") || !strings.HasSuffix(srv.URL, "/progress") {
		t.Errorf("URL %q", srv.URL)
	}
	resp, err := http.Post(srv.URL, "application/json", bytes.NewBufferString(`{"msg":"PASSED [sig-x] a"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || tr.snapshot().Passed != 1 {
		t.Errorf("status %d, snapshot %+v", resp.StatusCode, tr.snapshot())
	}
}

// ginkgo's succinct output as the CLI writes it for 4 specs: 2 passed, 1
// failed, 1 timed out, skipped ones in between.
const ginkgoOutput = "Will run 4 of 3206 specs\nSSS•SS•SSS\n------------------------------\n" +
	"• [FAILED] [61.754 seconds]\n[sig-network] DNS should provide DNS for the cluster [Conformance]\n" +
	"k8s.io/kubernetes/test/e2e/network/dns.go:50\n------------------------------\nSS" +
	"• [TIMEDOUT] [300.001 seconds]\n[sig-apps] Job x [Conformance]\nSSS\n\nRan 4 of 3206 Specs in 400 seconds\n"

func TestOutputCounterSurvivesAnySplit(t *testing.T) {
	b := []byte(ginkgoOutput)
	for cut1 := 0; cut1 <= len(b); cut1++ {
		cut2 := min(cut1+7, len(b))
		c := &outputCounter{}
		c.feed(b[:cut1])
		c.feed(b[cut1:cut2])
		c.feed(b[cut2:])
		if c.done != 4 || c.failed != 2 {
			t.Fatalf("split at %d,%d: done %d failed %d, want 4 and 2", cut1, cut2, c.done, c.failed)
		}
	}
}

func TestTrackerCountsGinkgoOutput(t *testing.T) {
	log := t.TempDir() + "/e2e.log"
	cut := strings.Index(ginkgoOutput, "•SSS") + len("•SSS") // after the second passed spec
	writeFile(t, log, ginkgoOutput[:cut])
	tr := newTracker(onePass(6), nil)
	tr.setPass("parallel", log)
	if p := tr.snapshot(); p.Done != 2 || p.Passed != 2 {
		t.Errorf("first snapshot %+v, want 2 passed", p)
	}
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(ginkgoOutput[cut:]); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	p := tr.snapshot()
	if p.Done != 4 || p.Failed != 2 || p.Passed != 2 {
		t.Errorf("snapshot %+v, want 4 done, 2 failed", p)
	}
	// The reporter's posts, when they come, win when they know more.
	for _, m := range []string{"PASSED a", "PASSED b", "PASSED c", "FAILED d", "FAILED e"} {
		tr.record(progressMsg{Msg: m})
	}
	if p := tr.snapshot(); p.Done != 5 || p.Failed != 2 {
		t.Errorf("with posts: %+v, want 5 done, 2 failed", p)
	}
}

// onePass plans a single pass of n specs on one process.
func onePass(n int) []passPlan { return []passPlan{{name: "parallel", specs: n, procs: 1}} }

// The estimate is per pass: the serial pass's specs run one at a time, so
// they are not priced at the parallel pass's rate.
func TestTrackerEstimatesEachPass(t *testing.T) {
	clock := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	tr := newTracker([]passPlan{{name: "parallel", specs: 8, procs: 4}, {name: "serial", specs: 2, procs: 1}}, now)
	tr.setPass("parallel", "")
	for _, s := range []string{"a", "b", "c", "d"} {
		post(t, tr, `{"msg":"PASSED [sig-x] `+s+`"}`)
	}
	clock = clock.Add(10 * time.Second)
	// 4 specs in 10 s on 4 processes: 10 s of a process each. Left: 4
	// parallel specs on 4 processes (10 s), 2 serial ones on 1 (20 s).
	if p := tr.snapshot(); p.Remaining != 30*time.Second || p.Total != 10 {
		t.Errorf("parallel pass: remaining %s of %d specs, want 30s of 10", p.Remaining, p.Total)
	}
	for _, s := range []string{"e", "f", "g", "h"} {
		post(t, tr, `{"msg":"PASSED [sig-x] `+s+`"}`)
	}
	clock = clock.Add(10 * time.Second)
	tr.setPass("serial", "")
	// Nothing measured in the serial pass yet: the parallel pass's cost.
	if p := tr.snapshot(); p.Remaining != 20*time.Second || p.Pass != "serial" {
		t.Errorf("serial pass start: %+v, want 20s left", p)
	}
	clock = clock.Add(30 * time.Second)
	post(t, tr, `{"msg":"PASSED [sig-x] serial one"}`)
	// The first serial spec took 30 s: the last one will too.
	p := tr.snapshot()
	if p.Remaining != 30*time.Second || !strings.Contains(p.String(), "9/10 specs") || !strings.Contains(p.String(), "~30s left") {
		t.Errorf("serial pass: %q (remaining %s), want 9/10 and 30s left", p.String(), p.Remaining)
	}
	post(t, tr, `{"msg":"PASSED [sig-x] serial two"}`)
	if s := tr.snapshot().String(); strings.Contains(s, "left") {
		t.Errorf("all done, still an estimate: %q", s)
	}
}
