package cgroup

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseMount(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    Hierarchy
		opts    string
		matches bool
	}{
		{"35 26 0:30 / /sys/fs/cgroup/cpuacct rw,relatime shared:12 - cgroup cgroup rw,cpuacct",
			Hierarchy{1, "/sys/fs/cgroup/cpuacct", "/"}, "rw,cpuacct", true},
		{"35 26 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
			Hierarchy{1, "/sys/fs/cgroup/cpu,cpuacct", "/"}, "rw,cpu,cpuacct", true},
		{"30 24 0:26 /kubepods/x /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate",
			Hierarchy{2, "/sys/fs/cgroup", "/kubepods/x"}, "rw,nsdelegate", true},
		{"22 1 8:1 / / rw - ext4 /dev/sda1 rw", Hierarchy{}, "", false},
	} {
		h, opts, ok := parseMount(tc.line)
		if ok != tc.matches || h != tc.want || opts != tc.opts {
			t.Errorf("parseMount(%q) = %+v, %q, %v; want %+v, %q, %v", tc.line, h, opts, ok, tc.want, tc.opts, tc.matches)
		}
	}
	if !hasOption("rw,cpu,cpuacct", "cpuacct") || hasOption("rw,cpu", "cpuacct") {
		t.Error("hasOption")
	}
}

func TestDir(t *testing.T) {
	h := Hierarchy{1, "/sys/fs/cgroup/cpuacct", "/"}
	if got := h.Dir("/k3lite/x-node0/node"); got != "/sys/fs/cgroup/cpuacct/k3lite/x-node0/node" {
		t.Errorf("Dir = %s", got)
	}
	sub := Hierarchy{2, "/sys/fs/cgroup", "/docker/abc"}
	if got := sub.Dir("/docker/abc/k3lite/n"); got != "/sys/fs/cgroup/k3lite/n" {
		t.Errorf("Dir under a bind-mounted sub-tree = %s", got)
	}
}

// testCgroup creates a fresh cgroup in the CPU hierarchy and removes it at
// the end, once its processes are gone. It needs root.
func testCgroup(t *testing.T) (Hierarchy, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: creates cgroups (needs root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("this test creates cgroups: run it as root (or with -short to leave it out)")
	}
	h, err := CPU()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	p := "/distrobench-test-" + hex.EncodeToString(b)
	if err := h.Create(p + "/node"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, dir := range []string{h.Dir(p + "/node"), h.Dir(p)} {
			for try := 0; try < 100; try++ {
				if err := unix.Rmdir(dir); !errors.Is(err, unix.EBUSY) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	})
	return h, p + "/node"
}

// TestStartKeepsDaemonsAndExitedChildren starts a shell in a cgroup that
// burns CPU in a short-lived child and double-forks a daemon (re-parented
// to init, outside the shell's process tree), then exits: the daemon is a
// member, the exited child's CPU time is in the cgroup's usage, and no
// thread of the harness stayed in the cgroup.
func TestStartKeepsDaemonsAndExitedChildren(t *testing.T) {
	h, p := testCgroup(t)
	pidFile := filepath.Join(t.TempDir(), "daemon.pid")
	script := `sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done'
(sh -c 'echo $$ > "$1"; exec sleep 60' sh "` + pidFile + `" &)
while [ ! -s "` + pidFile + `" ]; do sleep 0.01; done`
	cmd := exec.Command("sh", "-c", script)
	if err := h.Start(cmd, p); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the shell failed: %v", err)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	daemon, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Kill(daemon, unix.SIGKILL); time.Sleep(100 * time.Millisecond) })

	procs, err := h.Procs(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(procs, daemon) {
		t.Errorf("members of %s = %v: the double-forked daemon %d is missing", p, procs, daemon)
	}
	if slices.Contains(procs, os.Getpid()) {
		t.Errorf("the harness process %d became a member of %s", os.Getpid(), p)
	}
	threadsIn := harnessThreadsIn(t, p)
	if len(threadsIn) > 0 {
		t.Errorf("harness threads %v stayed in %s after Start", threadsIn, p)
	}

	used, err := h.Usage(p)
	if err != nil {
		t.Fatal(err)
	}
	// The shell's rusage (wait4) includes the child it reaped.
	burned := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if burned <= 0 || used < burned*9/10 {
		t.Errorf("cgroup CPU time %s, but the shell and its exited child used %s: exited members' time is lost", used, burned)
	}
}

// harnessThreadsIn lists the test process's threads whose cgroup (in any
// hierarchy) is p.
func harnessThreadsIn(t *testing.T, p string) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "cgroup"))
		if err != nil {
			continue // the thread ended
		}
		if bytes.Contains(b, []byte(":"+p+"\n")) {
			out = append(out, task.Name())
		}
	}
	return out
}

func TestStartNeedsTheCgroup(t *testing.T) {
	h := Hierarchy{1, t.TempDir(), "/"}
	err := h.Start(exec.Command("true"), "/missing")
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Start in a missing cgroup: %v", err)
	}
}

func TestUsageAndProcsFiles(t *testing.T) {
	mnt := t.TempDir()
	v1 := Hierarchy{1, mnt, "/"}
	v2 := Hierarchy{2, mnt, "/"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(mnt, "a", "b"), 0o755))
	must(os.WriteFile(filepath.Join(mnt, "a", "cpuacct.usage"), []byte("1500000000\n"), 0o644))
	must(os.WriteFile(filepath.Join(mnt, "a", "cpu.stat"), []byte("usage_usec 2500000\nuser_usec 1\n"), 0o644))
	must(os.WriteFile(filepath.Join(mnt, "a", "cgroup.procs"), []byte("10\n11\n"), 0o644))
	must(os.WriteFile(filepath.Join(mnt, "a", "b", "cgroup.procs"), []byte("12\n"), 0o644))
	if d, err := v1.Usage("/a"); err != nil || d != 1500*time.Millisecond {
		t.Errorf("v1 Usage = %s, %v", d, err)
	}
	if d, err := v2.Usage("/a"); err != nil || d != 2500*time.Millisecond {
		t.Errorf("v2 Usage = %s, %v", d, err)
	}
	if procs, err := v1.Procs("/a"); err != nil || !slices.Equal(procs, []int{10, 11, 12}) {
		t.Errorf("Procs = %v, %v; want the cgroup's and its child's", procs, err)
	}
	if _, err := v1.Procs("/missing"); err == nil {
		t.Error("Procs of a missing cgroup succeeded")
	}
}
