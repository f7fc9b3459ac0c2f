package measure

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Load is the shape of the load the API benchmark offers the apiserver.
type Load string

const (
	// LoadClosed runs Concurrency workers; each sends its next request
	// when its previous one returns, so a slow server is offered less load.
	LoadClosed Load = "closed"
	// LoadOpen sends Rate requests per second on a fixed schedule whatever
	// the server does; each request's latency is taken from its scheduled
	// send time, so a stall delays (and is charged to) every request
	// scheduled behind it instead of hiding them (no coordinated omission).
	LoadOpen Load = "open"
)

// op issues request i of a batch.
type op func(ctx context.Context, i int) error

// batch is what issuing one verb's requests produced.
type batch struct {
	// latencies holds, for every issued request, the seconds from its send
	// time (closed loop) or scheduled send time (open loop) until it
	// answered or failed; a request that timed out counts at least its
	// timeout.
	latencies []float64
	// failed marks each issued request, in the order of latencies: true
	// when it failed or timed out.
	failed []bool
	// wall runs from the batch's first (scheduled) send to its last answer
	// (open loop: at least to the end of the schedule, n/rate).
	wall     time.Duration
	firstErr error
}

func (b *batch) add(lat float64, err error) {
	b.latencies = append(b.latencies, lat)
	b.failed = append(b.failed, err != nil)
	if err != nil && b.firstErr == nil {
		b.firstErr = err
	}
}

// failures is the number of failed requests.
func (b *batch) failures() int {
	n := 0
	for _, f := range b.failed {
		if f {
			n++
		}
	}
	return n
}

// generator issues a verb's requests in one load shape. Requests go
// straight to the client, which has no rate limiter: nothing on the client
// side waits inside a timed request.
type generator struct {
	load        Load
	concurrency int           // closed loop: workers
	rate        float64       // open loop: requests per second
	timeout     time.Duration // per request
}

// String describes the load shape for people: "closed loop, concurrency 8".
func (g generator) String() string {
	if g.load == LoadOpen {
		return fmt.Sprintf("open loop, %g requests/s", g.rate)
	}
	return fmt.Sprintf("closed loop, concurrency %d", g.concurrency)
}

// run issues requests 0..n-1 and returns their outcomes; it stops sending
// when ctx is cancelled.
func (g generator) run(ctx context.Context, n int, do op) batch {
	if g.load == LoadOpen {
		return g.open(ctx, n, do)
	}
	return g.closed(ctx, n, do)
}

// timed issues request i with its own timeout and returns the seconds from
// `from` until it answered or failed.
func (g generator) timed(ctx context.Context, from time.Time, i int, do op) (float64, error) {
	rctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	err := do(rctx, i)
	return time.Since(from).Seconds(), err
}

func (g generator) closed(ctx context.Context, n int, do op) batch {
	next := make(chan int)
	var (
		mu sync.Mutex
		b  batch
		wg sync.WaitGroup
	)
	start := time.Now()
	for range min(g.concurrency, n) {
		wg.Go(func() {
			for i := range next {
				lat, err := g.timed(ctx, time.Now(), i, do)
				mu.Lock()
				b.add(lat, err)
				mu.Unlock()
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	b.wall = time.Since(start)
	return b
}

// open sends request i at start + i/rate, each in its own goroutine: the
// number in flight is not capped (a hung server holds at most rate x
// timeout of them), so no send waits for an earlier answer. When the
// generator itself falls behind, a late request still counts from its
// scheduled time.
func (g generator) open(ctx context.Context, n int, do op) batch {
	var (
		mu sync.Mutex
		b  batch
		wg sync.WaitGroup
	)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
schedule:
	for i := range n {
		at := start.Add(time.Duration(float64(i) / g.rate * float64(time.Second)))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		} else if ctx.Err() != nil {
			break schedule
		}
		wg.Go(func() {
			lat, err := g.timed(ctx, at, i, do)
			mu.Lock()
			b.add(lat, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	// The schedule spans n slots of 1/rate; a batch whose last answer came
	// back within its slot still took the whole schedule.
	b.wall = max(time.Since(start), time.Duration(float64(n)/g.rate*float64(time.Second)))
	return b
}
