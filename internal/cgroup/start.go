package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Start starts cmd inside cgroup p (which must exist), so that the process
// is a member from its first instruction and everything it spawns inherits
// the cgroup: nothing it starts, however short-lived or re-parented, can
// escape the accounting. The binary is exec'd unchanged (a real k3s or
// rke2 runs the same way).
//
// cgroup v2: the kernel places the child at clone time (CLONE_INTO_CGROUP,
// SysProcAttr.UseCgroupFD). cgroup v1 has no such flag, but there a single
// thread may change cgroups: Start locks a goroutine to its OS thread, moves
// that thread into p, forks the child from it (a child inherits its forking
// thread's cgroups) and moves the thread back before unlocking it. The Go
// runtime never clones new threads from a locked thread (it asks its
// template thread), so no other harness thread is created inside p. Should
// the way back fail, the goroutine exits locked, which ends the thread (the
// main thread is parked for good instead), so it does no more work there.
func (h Hierarchy) Start(cmd *exec.Cmd, p string) error {
	if !h.Exists(p) {
		return fmt.Errorf("start %s in cgroup %s: the cgroup does not exist (create it first)", cmd.Path, p)
	}
	if h.Version == 2 {
		return h.startV2(cmd, p)
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := h.threadCgroup()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("start %s in cgroup %s: %w", cmd.Path, p, err)
			return
		}
		if err := h.moveThread(p); err != nil {
			runtime.UnlockOSThread() // the thread did not move: it may serve again
			errc <- fmt.Errorf("start %s in cgroup %s: move the starting thread: %w", cmd.Path, p, err)
			return
		}
		errc <- cmd.Start()
		if h.moveThread(home) == nil {
			runtime.UnlockOSThread()
		}
	}()
	return <-errc
}

// moveThread moves the calling OS thread into cgroup p (cgroup v1 only).
func (h Hierarchy) moveThread(p string) error {
	return os.WriteFile(filepath.Join(h.Dir(p), "tasks"), []byte(strconv.Itoa(unix.Gettid())), 0)
}

// threadCgroup is the calling thread's cgroup in this (v1) hierarchy.
func (h Hierarchy) threadCgroup() (string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && hasOption(parts[1], "cpuacct") {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("/proc/thread-self/cgroup has no cpuacct line:\n%s", b)
}

func (h Hierarchy) startV2(cmd *exec.Cmd, p string) error {
	dir, err := os.Open(h.Dir(p))
	if err != nil {
		return fmt.Errorf("start %s in cgroup %s: %w", cmd.Path, p, err)
	}
	defer dir.Close()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.UseCgroupFD = true
	cmd.SysProcAttr.CgroupFD = int(dir.Fd())
	return cmd.Start()
}
