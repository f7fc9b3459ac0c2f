package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress is a snapshot of a running suite.
type Progress struct {
	// Pass is the running pass ("parallel", "serial", "quick").
	Pass string
	// Done counts distinct specs that reported PASSED or FAILED; Total is
	// the number of specs selected over all passes.
	Done, Total    int
	Passed, Failed int
	Elapsed        time.Duration
	// Remaining is estimated per pass (see tracker.remaining); 0 until a
	// spec finished.
	Remaining time.Duration
	// Last is the last spec that finished, with its verdict.
	Last string
}

func (p Progress) String() string {
	s := fmt.Sprintf("upstream conformance [%s]: %d/%d specs (%d passed, %d failed), %s elapsed",
		p.Pass, p.Done, p.Total, p.Passed, p.Failed, p.Elapsed.Round(time.Second))
	if p.Remaining > 0 && p.Done < p.Total {
		s += fmt.Sprintf(", ~%s left", p.Remaining.Round(time.Second))
	}
	return s
}

// progressMsg is the JSON e2e.test's progress reporter POSTs
// (k8s.io/kubernetes/test/e2e/reporters.ProgressReporter): after every
// passed or failed spec, with msg "PASSED <full text>" / "FAILED <full
// text>", and at suite start and end. With several processes each one posts
// its own counters, so only msg is trusted and specs are counted by name.
type progressMsg struct {
	Msg   string `json:"msg"`
	Total int    `json:"total"`
}

// tracker aggregates progress posts from every e2e.test process, and counts
// finished specs in ginkgo's output as well: the e2e.test of v1.37 posts its
// start, total and end messages but, as observed here, no PASSED/FAILED
// message (its ReportAfterEach reporter never fires), so the posts alone
// would show 0 done until the end. Whichever source knows more wins.
type tracker struct {
	mu      sync.Mutex
	start   time.Time
	now     func() time.Time
	plans   []passPlan
	cur     int // index into plans of the running pass; -1 before the first
	pass    string
	total   int
	verdict map[string]bool // spec -> passed
	last    string
	logs    []*outputCounter

	// For the estimate: when the running pass started, how many specs were
	// done then, and the last measured cost of a spec (see remaining).
	passStart  time.Time
	doneBefore int
	cost       time.Duration
}

// passPlan is what the tracker knows of a pass before it runs: how many
// specs it selected and on how many ginkgo processes they run.
type passPlan struct {
	name         string
	specs, procs int
}

func newTracker(plans []passPlan, now func() time.Time) *tracker {
	if now == nil {
		now = time.Now
	}
	t := &tracker{start: now(), now: now, plans: plans, cur: -1, verdict: map[string]bool{}}
	for _, p := range plans {
		t.total += p.specs
	}
	return t
}

// setPass names the running pass and, if output is not "", counts the
// specs that ginkgo reports as finished in that file.
func (t *tracker) setPass(name, output string) {
	done := t.snapshot().Done // also keeps the finished pass's cost
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pass = name
	for i, p := range t.plans {
		if p.name == name {
			t.cur = i
		}
	}
	t.passStart, t.doneBefore = t.now(), done
	if output != "" {
		t.logs = append(t.logs, &outputCounter{path: output})
	}
}

// remaining estimates the time left from the cost of a spec: the process
// time one spec took in the running pass (its elapsed time x its processes
// / its finished specs), else in the pass before. The specs left in this
// pass and in the passes after it each cost that, divided among their
// pass's processes. So the estimate of a serial pass (1 process) is no
// longer the parallel pass's rate; serial specs are slower still (about
// 2.5x per spec on k3lite), which the estimate learns once they run.
// No estimate before a pass of the plan runs. Called with t.mu held.
func (t *tracker) remaining(done int) time.Duration {
	if t.cur < 0 {
		return 0
	}
	plan := t.plans[t.cur]
	inPass := done - t.doneBefore
	if inPass > 0 {
		t.cost = time.Duration(float64(t.now().Sub(t.passStart)) * float64(max(1, plan.procs)) / float64(inPass))
	}
	left := plan.time(t.cost, max(0, plan.specs-inPass))
	for _, later := range t.plans[t.cur+1:] {
		left += later.time(t.cost, later.specs)
	}
	return left
}

// time is how long n of the pass's specs take at cost each, shared among
// its processes.
func (p passPlan) time(cost time.Duration, n int) time.Duration {
	return time.Duration(float64(cost) * float64(n) / float64(max(1, p.procs)))
}

// record takes one posted message; unknown messages are ignored. A spec
// reported twice (a flake retry, or a rerun) keeps its last verdict.
func (t *tracker) record(m progressMsg) {
	var name string
	var passed bool
	switch {
	case strings.HasPrefix(m.Msg, "PASSED "):
		name, passed = strings.TrimPrefix(m.Msg, "PASSED "), true
	case strings.HasPrefix(m.Msg, "FAILED "):
		name = strings.TrimPrefix(m.Msg, "FAILED ")
	default:
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.verdict[name] = passed
	t.last = m.Msg
}

func (t *tracker) snapshot() Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := Progress{Pass: t.pass, Total: t.total, Done: len(t.verdict), Elapsed: t.now().Sub(t.start), Last: t.last}
	for _, ok := range t.verdict {
		if ok {
			p.Passed++
		} else {
			p.Failed++
		}
	}
	var done, failed int
	for _, c := range t.logs {
		c.update()
		done += c.done
		failed += c.failed
	}
	if done > p.Done {
		p.Done = done
		p.Failed = max(p.Failed, failed)
		p.Passed = p.Done - p.Failed
	}
	if p.Total < p.Done {
		p.Total = p.Done
	}
	p.Remaining = t.remaining(p.Done)
	return p
}

// ServeHTTP accepts the reporter's POSTs.
func (t *tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST progress JSON here", http.StatusMethodNotAllowed)
		return
	}
	var m progressMsg
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
		http.Error(w, "bad progress JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	t.record(m)
	w.WriteHeader(http.StatusOK)
}

// progressServer serves the tracker on 127.0.0.1 for e2e.test's
// --progress-report-url.
type progressServer struct {
	URL string
	srv *http.Server
	ln  net.Listener
}

func startProgressServer(t *tracker, log *slog.Logger) (*progressServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for e2e progress reports on 127.0.0.1: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/progress", t)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("e2e progress server stopped", "err", err)
		}
	}()
	return &progressServer{URL: "http://" + ln.Addr().String() + "/progress", srv: srv, ln: ln}, nil
}

func (s *progressServer) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// outputCounter counts finished specs in the ginkgo CLI's default (succinct)
// output as the file grows: every finished spec prints one "•" (a passed one
// only that), a failed one a block starting "• [FAILED]" (or TIMEDOUT,
// PANICKED, INTERRUPTED, ABORTED); skipped specs print "S". Hand-written
// because ginkgo offers no streaming machine-readable report.
type outputCounter struct {
	path         string
	off          int64
	carry        []byte
	done, failed int
}

var (
	specDone    = []byte("•")
	specFailure = [][]byte{[]byte("• [FAILED]"), []byte("• [TIMEDOUT]"), []byte("• [PANICKED]"), []byte("• [INTERRUPTED]"), []byte("• [ABORTED]")}
)

// update reads what was appended since the last call.
func (c *outputCounter) update() {
	f, err := os.Open(c.path)
	if err != nil {
		return
	}
	defer f.Close() //nolint:errcheck // read-only
	if _, err := f.Seek(c.off, io.SeekStart); err != nil {
		return
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil || len(b) == 0 {
		return
	}
	c.off += int64(len(b))
	c.feed(b)
}

// feed counts markers in b. A tail of b that may be the start of a marker
// cut by the read is kept back for the next call.
func (c *outputCounter) feed(b []byte) {
	buf := append(c.carry, b...)
	keep := 0
	for k := 1; k < 16 && k <= len(buf); k++ {
		if isMarkerPrefix(buf[len(buf)-k:]) {
			keep = k
		}
	}
	work := buf[:len(buf)-keep]
	c.carry = append([]byte(nil), buf[len(buf)-keep:]...)
	c.done += bytes.Count(work, specDone)
	for _, m := range specFailure {
		c.failed += bytes.Count(work, m)
	}
}

func isMarkerPrefix(b []byte) bool {
	for _, m := range specFailure {
		if len(b) < len(m) && bytes.HasPrefix(m, b) {
			return true
		}
	}
	return false
}
