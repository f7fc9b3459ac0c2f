package chatter

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/procfs"
)

// DiskMethod names how bytes written to disk were read.
type DiskMethod string

// The ways DiskWrites are read. They count different things, so two
// readings compare only when read the same way.
const (
	// DiskProcIO sums write_bytes of /proc/PID/io over a process tree:
	// bytes the processes caused to be written to storage, counted when
	// they dirtied the page cache (so buffered writes count, and bytes
	// truncated before write-back count too). A child's bytes stay in the
	// tree when a process of the tree reaps it (the kernel adds them to
	// the parent); a process that leaves the tree takes its bytes along.
	DiskProcIO DiskMethod = "proc-io"
	// DiskCgroupV1 sums the Write lines of blkio.throttle.io_service_bytes
	// (the _recursive file when there is one): bytes submitted to block
	// devices by the cgroup. Write-back of buffered pages by the kernel's
	// flusher threads is not charged to the cgroup on v1; fsync'd writes
	// are (the caller submits them).
	DiskCgroupV1 DiskMethod = "cgroup-v1-blkio"
	// DiskCgroupV2 sums wbytes of io.stat: bytes written to block devices
	// by the cgroup and its descendants, buffered write-back included.
	DiskCgroupV2 DiskMethod = "cgroup-v2-io.stat"
)

// DiskWrites is one reading of the bytes a set of processes has written.
type DiskWrites struct {
	// At is when it was read.
	At time.Time
	// Bytes is the cumulative bytes written.
	Bytes uint64
	// Method says how it was read.
	Method DiskMethod
	// Source is the cgroup file read, or the root PIDs of the tree.
	Source string
	// Processes is how many processes were summed (DiskProcIO only).
	Processes int
}

// ProcessTreeWrites sums write_bytes of /proc/PID/io over the processes
// roots and all their descendants. reading another user's processes needs
// root.
func ProcessTreeWrites(roots []int) (DiskWrites, error) {
	if len(roots) == 0 {
		return DiskWrites{}, errors.New("disk writes by process tree: no process given (pass the PIDs of the datastore's processes)")
	}
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		return DiskWrites{}, fmt.Errorf("disk writes by process tree: %w (is /proc mounted?)", err)
	}
	parents, err := parentsOf(pfs)
	if err != nil {
		return DiskWrites{}, err
	}
	for _, r := range roots {
		if _, ok := parents[r]; !ok {
			return DiskWrites{}, fmt.Errorf("disk writes by process tree: process %d is not running (pass the PIDs of live processes)", r)
		}
	}
	w := DiskWrites{At: time.Now(), Method: DiskProcIO, Source: fmt.Sprintf("pids %v", roots)}
	for _, pid := range descendants(parents, roots) {
		n, err := writeBytes(pfs, pid)
		if errors.Is(err, fs.ErrNotExist) {
			continue // exited since the listing
		}
		if err != nil {
			return DiskWrites{}, err
		}
		w.Bytes += n
		w.Processes++
	}
	return w, nil
}

// parentsOf maps every running process to its parent.
func parentsOf(pfs procfs.FS) (map[int]int, error) {
	procs, err := pfs.AllProcs()
	if err != nil {
		return nil, fmt.Errorf("disk writes by process tree: list processes: %w", err)
	}
	parents := make(map[int]int, len(procs))
	for _, p := range procs {
		if st, err := p.Stat(); err == nil {
			parents[p.PID] = st.PPID
		}
	}
	return parents, nil
}

// descendants lists roots and every process below them, each once, from
// a map of process to parent.
func descendants(parents map[int]int, roots []int) []int {
	children := map[int][]int{}
	for pid, ppid := range parents {
		children[ppid] = append(children[ppid], pid)
	}
	seen := map[int]bool{}
	var out []int
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

func writeBytes(pfs procfs.FS, pid int) (uint64, error) {
	p, err := pfs.Proc(pid)
	if err != nil {
		return 0, err
	}
	pio, err := p.IO()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("disk writes by process tree: /proc/%d/io: %w (reading another user's processes needs root)", pid, err)
	}
	return pio.WriteBytes, err
}

// cgroupSources are the files CgroupWrites reads, in order of preference.
var cgroupSources = []struct {
	file   string
	method DiskMethod
	parse  func(string) (uint64, error)
}{
	{"io.stat", DiskCgroupV2, parseIOStat},
	{"blkio.throttle.io_service_bytes_recursive", DiskCgroupV1, parseBlkio},
	{"blkio.throttle.io_service_bytes", DiskCgroupV1, parseBlkio},
}

// CgroupWrites reads the bytes written by the cgroup whose directory is
// dir: a cgroup v2 directory (io.stat), or one in the cgroup v1 blkio
// hierarchy (/sys/fs/cgroup/blkio/...).
func CgroupWrites(dir string) (DiskWrites, error) {
	for _, src := range cgroupSources {
		path := filepath.Join(dir, src.file)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return DiskWrites{}, fmt.Errorf("disk writes by cgroup: %w", err)
		}
		n, err := src.parse(string(b))
		if err != nil {
			return DiskWrites{}, fmt.Errorf("disk writes by cgroup: %s: %w", path, err)
		}
		return DiskWrites{At: time.Now(), Bytes: n, Method: src.method, Source: path}, nil
	}
	return DiskWrites{}, fmt.Errorf("disk writes by cgroup: %s has neither io.stat (cgroup v2; the io controller must be on in the parent's cgroup.subtree_control) nor blkio.throttle.io_service_bytes (cgroup v1: pass a directory under the blkio mount), or read by process tree instead", dir)
}

// parseBlkio sums the Write lines of a cgroup v1 blkio file
// ("8:0 Write 4096", one per device; "Total N" closes it).
func parseBlkio(s string) (uint64, error) {
	var total uint64
	for line := range strings.SplitSeq(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "Write" {
			continue
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("line %q: %w", line, err)
		}
		total += n
	}
	return total, nil
}

// parseIOStat sums wbytes of a cgroup v2 io.stat
// ("8:0 rbytes=0 wbytes=4096 rios=0 wios=1 dbytes=0 dios=0", one per device).
func parseIOStat(s string) (uint64, error) {
	var total uint64
	for line := range strings.SplitSeq(s, "\n") {
		for _, kv := range strings.Fields(line) {
			v, ok := strings.CutPrefix(kv, "wbytes=")
			if !ok {
				continue
			}
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("line %q: %w", line, err)
			}
			total += n
		}
	}
	return total, nil
}

// WritesPerHour is the bytes per hour written between two readings taken
// the same way.
func WritesPerHour(before, after DiskWrites) (float64, error) {
	if before.Method != after.Method || before.Source != after.Source {
		return 0, fmt.Errorf("disk writes: readings of %s (%s) and %s (%s) do not compare (read both the same way)", before.Method, before.Source, after.Method, after.Source)
	}
	secs, err := window(before.At, after.At)
	if err != nil {
		return 0, fmt.Errorf("disk writes: %w", err)
	}
	if after.Bytes < before.Bytes {
		return 0, fmt.Errorf("disk writes of %s fell from %d to %d bytes: a process left the tree (or the cgroup was made anew) and took its bytes along; read by cgroup to keep them", after.Source, before.Bytes, after.Bytes)
	}
	return float64(after.Bytes-before.Bytes) / secs * 3600, nil
}

// ProcessWrites is write_bytes of /proc/PID/io of one process alone (its
// threads and the children it reaped, not its live descendants): for a
// datastore that runs inside a process with other children (SQLite or
// embedded etcd inside a server that also runs containerd).
func ProcessWrites(pid int) (DiskWrites, error) {
	pfs, err := procfs.NewDefaultFS()
	if err != nil {
		return DiskWrites{}, fmt.Errorf("disk writes of process %d: %w (is /proc mounted?)", pid, err)
	}
	n, err := writeBytes(pfs, pid)
	if errors.Is(err, fs.ErrNotExist) {
		return DiskWrites{}, fmt.Errorf("disk writes of process %d: it is not running", pid)
	}
	if err != nil {
		return DiskWrites{}, err
	}
	return DiskWrites{At: time.Now(), Bytes: n, Method: DiskProcIO, Source: fmt.Sprintf("pid %d", pid), Processes: 1}, nil
}
