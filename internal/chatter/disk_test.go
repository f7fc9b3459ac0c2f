package chatter

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const mib = 1 << 20

// diskDir is a directory on a disk-backed file system: write_bytes does
// not grow for tmpfs, where t.TempDir may be.
func diskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		return dir
	}
	dir, err := os.MkdirTemp(".", ".disk-test-") // the source tree is on a disk
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// writeSynced writes n bytes to a new file in dir and fsyncs it.
func writeSynced(t *testing.T, dir string, n int) {
	t.Helper()
	f, err := os.CreateTemp(dir, "w-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(bytes.Repeat([]byte{1}, n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func readTree(t *testing.T, roots ...int) DiskWrites {
	t.Helper()
	w, err := ProcessTreeWrites(roots)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestProcessTreeWritesSeesThisProcessWrite(t *testing.T) {
	dir := diskDir(t)
	before := readTree(t, os.Getpid())
	writeSynced(t, dir, mib)
	after := readTree(t, os.Getpid())
	if after.Method != DiskProcIO || after.Processes < 1 {
		t.Errorf("reading %+v, want method %s over at least this process", after, DiskProcIO)
	}
	if grew := after.Bytes - before.Bytes; after.Bytes < before.Bytes || grew < mib {
		t.Errorf("write_bytes went from %d to %d, want a growth of at least %d", before.Bytes, after.Bytes, mib)
	}
	if perHour, err := WritesPerHour(before, after); err != nil || perHour <= 0 {
		t.Errorf("WritesPerHour = %v, %v; want a positive rate", perHour, err)
	}
}

// A child that wrote (through a grandchild it reaped) counts in the tree
// of this process.
func TestProcessTreeWritesCountsDescendants(t *testing.T) {
	dir := diskDir(t)
	before := readTree(t, os.Getpid())
	cmd := exec.Command("sh", "-c", `dd if=/dev/zero of="$1" bs=64k count=16 conv=fsync 2>/dev/null && echo written && exec sleep 600`, "sh",
		filepath.Join(dir, "child"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the writing child (needs sh, dd and sleep): %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "written\n" {
		t.Fatalf("child said %q, want it to have written its file", line)
	}
	after := readTree(t, os.Getpid())
	child := readTree(t, cmd.Process.Pid)
	if after.Processes < before.Processes+1 {
		t.Errorf("tree of %d processes after the child started, %d before: the child is not in it", after.Processes, before.Processes)
	}
	if child.Bytes < mib || after.Bytes < before.Bytes+mib {
		t.Errorf("child's tree wrote %d bytes, this tree grew from %d to %d; want the child's %d bytes in both", child.Bytes, before.Bytes, after.Bytes, mib)
	}
}

func TestProcessTreeWritesErrors(t *testing.T) {
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	for _, roots := range [][]int{nil, {done.Process.Pid}} {
		if _, err := ProcessTreeWrites(roots); err == nil || !strings.Contains(err.Error(), "pass the PIDs") {
			t.Errorf("roots %v: err = %v, want one that says which PIDs to pass", roots, err)
		}
	}
}

func TestDescendants(t *testing.T) {
	// 1 -> 10 -> 100, 101; 1 -> 11; 20 -> 200 (another tree)
	parents := map[int]int{1: 0, 10: 1, 11: 1, 100: 10, 101: 10, 20: 1000, 200: 20}
	tests := []struct {
		roots, want []int
	}{
		{[]int{10}, []int{10, 100, 101}},
		{[]int{1}, []int{1, 10, 11, 100, 101}},
		{[]int{10, 1}, []int{1, 10, 11, 100, 101}}, // a root below another counts once
		{[]int{11, 20}, []int{11, 20, 200}},
		{[]int{100}, []int{100}},
	}
	for _, tt := range tests {
		got := descendants(parents, tt.roots)
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("descendants of %v = %v, want %v", tt.roots, got, tt.want)
		}
	}
}

func TestCgroupWrites(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		want       uint64
		wantMethod DiskMethod
		wantFile   string
		wantErr    string
	}{
		{
			name:       "cgroup v2 io.stat, two devices",
			files:      map[string]string{"io.stat": "8:0 rbytes=100 wbytes=4096 rios=1 wios=1 dbytes=0 dios=0\n253:0 rbytes=0 wbytes=8192 rios=0 wios=2 dbytes=0 dios=0\n"},
			want:       12288,
			wantMethod: DiskCgroupV2,
			wantFile:   "io.stat",
		},
		{
			name: "cgroup v1 prefers the recursive file (it includes child cgroups)",
			files: map[string]string{
				"blkio.throttle.io_service_bytes":           "8:0 Read 5\n8:0 Write 10\nTotal 15\n",
				"blkio.throttle.io_service_bytes_recursive": "8:0 Read 5\n8:0 Write 1000\n8:0 Sync 900\n8:16 Write 24\nTotal 1929\n",
			},
			want:       1024,
			wantMethod: DiskCgroupV1,
			wantFile:   "blkio.throttle.io_service_bytes_recursive",
		},
		{
			name:       "cgroup v1 without the recursive file",
			files:      map[string]string{"blkio.throttle.io_service_bytes": "8:0 Read 5\n8:0 Write 10\n8:0 Async 10\nTotal 25\n"},
			want:       10,
			wantMethod: DiskCgroupV1,
			wantFile:   "blkio.throttle.io_service_bytes",
		},
		{
			name:    "neither file: the directory is not in an io-accounting hierarchy",
			files:   map[string]string{"cpuacct.usage": "1\n"},
			wantErr: "neither io.stat",
		},
		{
			name:    "a number that does not parse",
			files:   map[string]string{"io.stat": "8:0 wbytes=lots\n"},
			wantErr: "wbytes=lots",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := CgroupWrites(dir)
			if expectError(t, err, tt.wantErr) {
				return
			}
			if got.Bytes != tt.want || got.Method != tt.wantMethod || got.Source != filepath.Join(dir, tt.wantFile) {
				t.Errorf("got %d bytes by %s from %s, want %d by %s from %s", got.Bytes, got.Method, got.Source, tt.want, tt.wantMethod, tt.wantFile)
			}
		})
	}
}

func TestWritesPerHour(t *testing.T) {
	at := func(d time.Duration, n uint64) DiskWrites {
		return DiskWrites{At: t0.Add(d), Bytes: n, Method: DiskCgroupV2, Source: "/sys/fs/cgroup/x/io.stat"}
	}
	other := at(time.Minute, 2*mib)
	other.Method, other.Source = DiskProcIO, "pids [1]"
	tests := []struct {
		name          string
		before, after DiskWrites
		want          float64
		wantErr       string
	}{
		{"1 MiB in a minute", at(0, mib), at(time.Minute, 2*mib), 60 * mib, ""},
		{"nothing written", at(0, mib), at(time.Hour, mib), 0, ""},
		{"readings taken two ways", at(0, mib), other, 0, "do not compare"},
		{"fewer bytes than before", at(0, 2*mib), at(time.Minute, mib), 0, "took its bytes along"},
		{"out of order", at(time.Minute, mib), at(0, mib), 0, "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := WritesPerHour(tt.before, tt.after)
			if !expectError(t, err, tt.wantErr) && got != tt.want {
				t.Errorf("WritesPerHour = %v, want %v", got, tt.want)
			}
		})
	}
}
