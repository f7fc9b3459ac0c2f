package process

import (
	"os"
	"slices"
)

// procID names one process across PID reuse: its PID and start time.
type procID struct {
	pid   int
	start uint64
}

// alive reports whether the process still runs (a zombie has ended).
func (id procID) alive() bool {
	st, err := readStat(id.pid)
	return err == nil && st.state != 'Z' && st.startTime == id.start
}

// allProcs reads the stat of every process in /proc.
func allProcs() []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]procStat, 0, len(entries))
	for _, e := range entries {
		pid, ok := atoi(e.Name())
		if !ok {
			continue
		}
		if st, err := readStat(pid); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// treeOf lists the live processes of process group pgid, the live roots,
// and every live descendant of any of them. A stop has to wait for all of
// these: a distribution's server starts helpers in process groups of their
// own (k3lite's containerd), which a signal to the group never reaches but
// which still belong to the server until they exit.
func treeOf(pgid int, roots []procID) []procID {
	procs := allProcs()
	children := map[int][]procStat{}
	var queue []procStat
	for _, st := range procs {
		children[st.ppid] = append(children[st.ppid], st)
		if st.pgid == pgid || slices.Contains(roots, procID{st.pid, st.startTime}) {
			queue = append(queue, st)
		}
	}
	seen := map[int]bool{}
	var out []procID
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		if seen[st.pid] {
			continue
		}
		seen[st.pid] = true
		if st.state != 'Z' {
			out = append(out, procID{st.pid, st.startTime})
		}
		queue = append(queue, children[st.pid]...)
	}
	return out
}

// living keeps the processes of ids that still run.
func living(ids []procID) []procID {
	var out []procID
	for _, id := range ids {
		if id.alive() {
			out = append(out, id)
		}
	}
	return out
}

func pids(ids []procID) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = id.pid
	}
	return out
}
