package chatter

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distrobench/distrobench/internal/result"
)

// fakeAPI counts up: the nodes make 10 requests per reading, the scheduler
// appears from the third reading on, and the datastore sees 4 lists.
func fakeAPI() func(context.Context) (APIMetrics, error) {
	var n atomic.Int32
	return func(context.Context) (APIMetrics, error) {
		i := float64(n.Add(1))
		m := APIMetrics{At: time.Now(), Requests: Counts{}, Storage: Counts{}, ResponseBytes: Counts{}}
		m.Requests.add(ClientNodes, "a", 10*i)
		if i >= 3 {
			m.Requests.add(ClientScheduler, "b", 1)
		}
		m.Storage.add("list", "c", 4*i)
		return m, nil
	}
}

func find(ms []result.Measurement, name, key, value string) *result.Measurement {
	for i := range ms {
		if ms[i].Name == name && ms[i].Labels[key] == value {
			return &ms[i]
		}
	}
	return nil
}

func TestWatchRatesPerInterval(t *testing.T) {
	var written atomic.Uint64
	stop := Watch(context.Background(), WindowOptions{
		Scrape: fakeAPI(),
		Writes: func() (DiskWrites, error) {
			return DiskWrites{At: time.Now(), Bytes: written.Add(4096), Method: DiskProcIO, Source: "pid 1"}, nil
		},
		WritesOf: "the server process", Interval: 20 * time.Millisecond,
		Labels: map[string]string{"phase": "idle"},
	})
	time.Sleep(150 * time.Millisecond)
	ms := stop()
	nodes := find(ms, RequestsMetric, "client", ClientNodes)
	if nodes == nil || nodes.Summary.Count < 3 || nodes.Summary.Min <= 0 || nodes.Labels["phase"] != "idle" {
		t.Fatalf("nodes' requests: %+v, want a positive rate per interval", nodes)
	}
	sched := find(ms, RequestsMetric, "client", ClientScheduler)
	if sched == nil || sched.Summary.Count != nodes.Summary.Count || sched.Samples[0] != 0 {
		t.Errorf("scheduler: %+v, want a sample per interval, 0 where it had no series yet", sched)
	}
	if ops := find(ms, OperationsMetric, "operation", "list"); ops == nil || ops.Summary.Min <= 0 {
		t.Errorf("storage lists: %+v", ops)
	}
	disk := find(ms, WrittenMetric, "phase", "idle")
	if disk == nil || disk.Missing != "" || disk.Summary.Min <= 0 || !strings.Contains(disk.Description, "the server process") {
		t.Errorf("disk: %+v", disk)
	}
}

func TestWatchSourceThatFails(t *testing.T) {
	stop := Watch(context.Background(), WindowOptions{
		Scrape:   func(context.Context) (APIMetrics, error) { return APIMetrics{}, errors.New("403 forbidden") },
		Writes:   func() (DiskWrites, error) { return DiskWrites{}, errors.New("process 7 is not running") },
		Interval: 10 * time.Millisecond,
	})
	time.Sleep(40 * time.Millisecond)
	ms := stop()
	for _, name := range []string{RequestsMetric, OperationsMetric, WrittenMetric} {
		m := find(ms, name, "", "")
		if m == nil || m.Missing == "" {
			t.Errorf("%s: %+v, want not measured with the reason", name, m)
		}
	}
}

func TestProcessWrites(t *testing.T) {
	before, err := ProcessWrites(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(t.TempDir(), "w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	after, err := ProcessWrites(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.Bytes < before.Bytes+1<<20 {
		t.Errorf("write_bytes %d -> %d after writing 1 MiB with fsync", before.Bytes, after.Bytes)
	}
	if _, err := ProcessWrites(1 << 30); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("a process that is not running: %v", err)
	}
}

// TestWatchStopDuringAReading: stop while a scrape is in flight must not
// turn that scrape into a cancelled one (the window would lose its API
// figures, as a real run did).
func TestWatchStopDuringAReading(t *testing.T) {
	api := fakeAPI()
	var calls atomic.Int32
	started := make(chan struct{}, 100)
	stop := Watch(context.Background(), WindowOptions{
		Scrape: func(ctx context.Context) (APIMetrics, error) {
			if calls.Add(1) == 3 {
				started <- struct{}{}
				time.Sleep(50 * time.Millisecond) // stop arrives meanwhile
				if err := ctx.Err(); err != nil {
					return APIMetrics{}, err
				}
			}
			return api(ctx)
		},
		Interval: 10 * time.Millisecond,
	})
	<-started
	ms := stop()
	if m := find(ms, RequestsMetric, "client", ClientNodes); m == nil || m.Missing != "" {
		t.Errorf("requests after a stop during a scrape: %+v, want measured", m)
	}
}
