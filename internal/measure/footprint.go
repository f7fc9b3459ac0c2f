// Package measure measures a running distribution: the footprint of its
// process trees (RSS, PSS, CPU), the size of its datastore, its start-up time
// and its API latency. Every figure is repeated and every sample is kept in a
// result.Measurement; the summary statistics are derived from the samples.
package measure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/procfs"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/distrobench/distrobench/internal/result"
)

// TreeSample is one sample of a process tree: the root and all its
// descendants alive at the time of sampling.
type TreeSample struct {
	RSS        uint64  // bytes, summed over the tree (shared pages counted once per process)
	PSS        uint64  // bytes, summed over the tree (shared pages split between their users)
	CPUSeconds float64 // user + system CPU time consumed so far by the live processes (without reaped children)
	Procs      int     // processes in the tree
}

// procSample is one process of a sample.
type procSample struct {
	rss, pss uint64
	cpu      float64 // seconds: the process's own user + system time
	reaped   float64 // seconds: user + system time of the children it reaped (cutime + cstime)
	ppid     int32
}

// userHZ is the unit of the CPU times in /proc/PID/stat: fixed at 100 by
// the kernel's user-space ABI, whatever its internal tick rate.
const userHZ = 100

// SampleTree samples the process tree rooted at rootPID. It fails when the
// root is not running; descendants that exit while being sampled are left out.
func SampleTree(ctx context.Context, rootPID int) (TreeSample, error) {
	procs := map[int32]procSample{}
	if err := sampleTree(ctx, int32(rootPID), procs); err != nil {
		return TreeSample{}, err
	}
	return sum(procs), nil
}

func sum(procs map[int32]procSample) TreeSample {
	var s TreeSample
	for _, p := range procs {
		s.RSS += p.rss
		s.PSS += p.pss
		s.CPUSeconds += p.cpu
		s.Procs++
	}
	return s
}

// sampleTree adds the tree under root to procs (already present PIDs are not
// sampled twice, so trees that overlap are counted once).
func sampleTree(ctx context.Context, root int32, procs map[int32]procSample) error {
	p, err := process.NewProcessWithContext(ctx, root)
	if err != nil {
		return fmt.Errorf("process %d is not running: %w (did it exit or crash? check its log)", root, err)
	}
	s, err := sampleProc(ctx, p)
	if err != nil {
		return fmt.Errorf("sampling process %d: %w", root, err)
	}
	procs[root] = s
	return sampleChildren(ctx, p, procs)
}

func sampleChildren(ctx context.Context, p *process.Process, procs map[int32]procSample) error {
	children, err := p.ChildrenWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return nil // the parent exited meanwhile: nothing below it to count
	}
	for _, c := range children {
		if _, done := procs[c.Pid]; done {
			continue
		}
		s, err := sampleProc(ctx, c)
		if err != nil {
			continue // exited between listing and sampling
		}
		procs[c.Pid] = s
		if err := sampleChildren(ctx, c, procs); err != nil {
			return err
		}
	}
	return nil
}

// sampleProc reads one process's RSS through gopsutil, and its PSS and CPU
// times (its own and its reaped children's, which gopsutil leaves out) from
// /proc.
func sampleProc(ctx context.Context, p *process.Process) (procSample, error) {
	mem, err := p.MemoryInfoWithContext(ctx)
	if err != nil {
		return procSample{}, err
	}
	fs, err := procfs.NewProc(int(p.Pid))
	if err != nil {
		return procSample{}, err
	}
	st, err := fs.Stat()
	if err != nil {
		return procSample{}, err
	}
	pss, err := readPSS(int(p.Pid))
	if err != nil {
		return procSample{}, err
	}
	return procSample{
		rss: mem.RSS, pss: pss, ppid: int32(st.PPID),
		cpu:    float64(st.UTime+st.STime) / userHZ,
		reaped: float64(st.CUTime+st.CSTime) / userHZ,
	}, nil
}

// readPSS returns a process's proportional set size in bytes. gopsutil v4 has
// no PSS (its MemoryInfoEx/MemoryMaps give RSS and per-mapping figures, and
// summing MemoryMaps is much slower), so it is read here from
// /proc/<pid>/smaps_rollup (Linux >= 4.14), which the kernel pre-sums; on
// older kernels the per-mapping /proc/<pid>/smaps is summed instead. PSS is the
// fair share of memory: a page shared by n processes counts 1/n for each, so
// the PSS of a tree is what it really costs the machine.
func readPSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(fmt.Sprintf("/proc/%d", pid)); serr != nil {
			return 0, err // the process is gone
		}
		b, err = os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	}
	if err != nil {
		return 0, fmt.Errorf("reading PSS of process %d: %w (measuring another user's process needs root)", pid, err)
	}
	var kb uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("Pss:")) {
			continue
		}
		f := bytes.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing PSS of process %d: %q: %w", pid, line, err)
		}
		kb += v
	}
	return kb * 1024, nil
}

func described(m result.Measurement, d string) result.Measurement {
	m.Description = d
	return m
}

// SelfUsage samples the harness's own process (os.Getpid(), without its
// children, which are the processes under test) every interval until the
// returned stop function is called; stop returns "harness.cpu" (percent of one
// core per interval, including the last partial interval) and "harness.rss"
// (bytes). Use it around a phase to report the harness's overhead.
func SelfUsage(ctx context.Context, interval time.Duration, labels map[string]string) (stop func() []result.Measurement) {
	if interval <= 0 {
		interval = time.Second
	}
	self, err := process.NewProcessWithContext(ctx, int32(os.Getpid()))
	var (
		mu       sync.Mutex
		rss, cpu []float64
		prevCPU  float64
		prevAt   time.Time
	)
	take := func() {
		if err != nil {
			return
		}
		s, serr := sampleProc(ctx, self)
		if serr != nil {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		rss = append(rss, float64(s.rss))
		if !prevAt.IsZero() {
			cpu = append(cpu, max(s.cpu-prevCPU, 0)/now.Sub(prevAt).Seconds()*100)
		}
		prevCPU, prevAt = s.cpu, now
	}
	take()

	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				take()
			}
		}
	}()

	var once sync.Once
	var out []result.Measurement
	return func() []result.Measurement {
		once.Do(func() {
			close(done)
			<-finished
			take()
			mu.Lock()
			defer mu.Unlock()
			out = []result.Measurement{
				described(result.NewMeasurement("harness.cpu", "percent", maps.Clone(labels), cpu),
					"CPU use of the distrobench process itself, percent of one core per interval"),
				described(result.NewMeasurement("harness.rss", "bytes", maps.Clone(labels), rss),
					"resident set size of the distrobench process itself"),
			}
		})
		return out
	}
}

// ReadyzSamples restarts the server n times through restart, which returns
// the time from starting the process to /readyz answering ok, and returns
// them as "startup.readyz" (seconds). On error the samples taken so far are
// returned with it.
func ReadyzSamples(ctx context.Context, restart func(ctx context.Context) (time.Duration, error), n int) (result.Measurement, error) {
	if n <= 0 {
		n = 5
	}
	var samples []float64
	var err error
	for i := range n {
		var d time.Duration
		d, err = restart(ctx)
		if err != nil {
			err = fmt.Errorf("start-up time, restart %d/%d: %w", i+1, n, err)
			break
		}
		samples = append(samples, d.Seconds())
	}
	m := described(result.NewMeasurement("startup.readyz", "seconds", nil, samples),
		"time from starting the server process to /readyz answering ok")
	return m, err
}

// ProcessPSS is one process's proportional set size in bytes, without its
// children: the server's own memory as it grows with what it stores.
func ProcessPSS(ctx context.Context, pid int) (uint64, error) {
	p, err := process.NewProcessWithContext(ctx, int32(pid))
	if err != nil {
		return 0, fmt.Errorf("process %d: %w (did it exit?)", pid, err)
	}
	s, err := sampleProc(ctx, p)
	if err != nil {
		return 0, fmt.Errorf("process %d: %w", pid, err)
	}
	return s.pss, nil
}
