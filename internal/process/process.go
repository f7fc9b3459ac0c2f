// Package process starts and stops the child processes distrobench runs
// (distribution servers, datastore servers). Every child is the leader of its
// own process group, so stopping it also stops whatever it spawned; a Group
// tracks the children of one run and stops them in reverse start order.
//
// A child's lifetime is not bound to a context: callers stop what they start
// (Proc.Stop, Group.StopAll), on success, on error and on Ctrl-C. This keeps
// `distrobench up` able to leave a cluster running for a later `down`, which
// stops it by process group with KillGroup.
//
// os/exec does the starting; what is hand-written here is the process-group
// bookkeeping (signalling -pgid, finding members that outlive the leader),
// which neither os/exec nor gopsutil offers.
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/distrobench/distrobench/internal/cgroup"
	"github.com/distrobench/distrobench/internal/redact"
)

// DefaultStopTimeout is used by callers that have no better bound.
const DefaultStopTimeout = 30 * time.Second

// killGrace is how long Stop waits for a group to vanish after SIGKILL.
const killGrace = 10 * time.Second

// Spec describes one child process.
type Spec struct {
	Name string   // short name for logs ("server", "postgres")
	Path string   // executable
	Args []string // arguments, without argv[0]
	Env  []string // extra KEY=VALUE entries added to the harness's environment
	Dir  string   // working directory (default: the harness's)
	// LogPath receives stdout and stderr, appended; created 0600 with its
	// parent directory. Required.
	LogPath string
	// Credential runs the child as another user (e.g. PostgreSQL refuses root).
	Credential *syscall.Credential
	// StopSignal is sent by Stop before SIGKILL (default SIGTERM). PostgreSQL
	// wants SIGINT ("fast shutdown"); SIGTERM waits for clients to leave.
	StopSignal syscall.Signal
	// Cgroup, when set, is the cgroup (a path in the hierarchy that
	// accounts CPU time, see internal/cgroup; it must exist) the child is a
	// member of from its start, so that all it ever spawns is too.
	Cgroup string
	// NetNS is reserved for simulated hosts (a network namespace name); not
	// implemented yet: Start refuses a non-empty value.
	NetNS string
}

// Proc is a started child process, the leader of its own process group.
type Proc struct {
	Name      string
	PID       int
	PGID      int
	LogPath   string
	StartedAt time.Time

	stopSignal syscall.Signal
	log        *slog.Logger
	cmd        *exec.Cmd
	done       chan struct{}
	exitCode   int // valid once done is closed; -1 when killed by a signal
	waitErr    error
	stopMu     sync.Mutex
}

// Group tracks the children of one run.
type Group struct {
	log   *slog.Logger
	mu    sync.Mutex
	procs []*Proc
}

// NewGroup returns an empty group; log may be nil.
func NewGroup(log *slog.Logger) *Group {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Group{log: log}
}

// Start starts s in a new process group and tracks it in g. ctx is checked
// before starting only: the child runs until it exits or is stopped.
func (g *Group) Start(ctx context.Context, s Spec) (*Proc, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.Name, err)
	}
	if s.NetNS != "" {
		return nil, fmt.Errorf("start %s: network namespaces are not supported yet", s.Name)
	}
	if s.LogPath == "" {
		return nil, fmt.Errorf("start %s: no log path given", s.Name)
	}
	if err := os.MkdirAll(filepath.Dir(s.LogPath), 0o700); err != nil {
		return nil, fmt.Errorf("start %s: create log directory: %w", s.Name, err)
	}
	logf, err := os.OpenFile(s.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start %s: open log: %w", s.Name, err)
	}
	defer logf.Close() // the child holds its own copy of the descriptor

	cmd := exec.Command(s.Path, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: s.Credential}

	line := strings.Join(append([]string{s.Path}, redact.Args(s.Args)...), " ")
	fmt.Fprintf(logf, "--- %s distrobench: starting %s\n", time.Now().UTC().Format(time.RFC3339), line)
	if err := start(cmd, s.Cgroup); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", s.Name, s.Path, err)
	}
	sig := s.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	p := &Proc{
		Name: s.Name, PID: cmd.Process.Pid, PGID: cmd.Process.Pid, LogPath: s.LogPath, StartedAt: time.Now(),
		stopSignal: sig, log: g.log, cmd: cmd, done: make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		p.exitCode = cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	g.log.Info("started process", "name", s.Name, "pid", p.PID, "cmd", line, "log", s.LogPath)

	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p, nil
}

// start starts cmd, inside cgroup cg when one is given.
func start(cmd *exec.Cmd, cg string) error {
	if cg == "" {
		return cmd.Start()
	}
	h, err := cgroup.CPU()
	if err != nil {
		return err
	}
	return h.Start(cmd, cg)
}

// Procs returns the tracked processes in start order.
func (g *Group) Procs() []*Proc {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Proc(nil), g.procs...)
}

// StopAll stops every tracked process, newest first, each within timeout
// (then killed), and returns every error joined.
func (g *Group) StopAll(timeout time.Duration) error {
	procs := g.Procs()
	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if _, _, err := procs[i].Stop(timeout); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Wait is closed when the process has exited (and been reaped).
func (p *Proc) Wait() <-chan struct{} { return p.done }

// Exited reports whether the process has exited and, if so, its exit code
// (-1 when a signal ended it).
func (p *Proc) Exited() (bool, int) {
	select {
	case <-p.done:
		return true, p.exitCode
	default:
		return false, 0
	}
}

// ExitError is the error cmd.Wait returned, once exited (nil for exit 0).
func (p *Proc) ExitError() error {
	select {
	case <-p.done:
		return p.waitErr
	default:
		return nil
	}
}

// treePoll is how often Stop looks whether the stopped processes are gone:
// the resolution of the time it reports.
const treePoll = 20 * time.Millisecond

// Stopped is how Terminate ended a process.
type Stopped struct {
	// ExitCode is the leader's exit code (-1: ended by a signal).
	ExitCode int
	// Took runs from the stop signal until the last process of the
	// leader's tree was gone (to within treePoll); 0 when the leader had
	// exited before the stop.
	Took time.Duration
	// Killed are the processes still running when the timeout passed,
	// which were then SIGKILLed; empty after a clean stop.
	Killed []int
}

// Stop is Terminate without the list of killed processes.
func (p *Proc) Stop(timeout time.Duration) (exitCode int, took time.Duration, err error) {
	s, err := p.Terminate(timeout)
	return s.ExitCode, s.Took, err
}

// Terminate sends the stop signal (SIGTERM by default) to the whole process
// group and waits, up to timeout, until every process of the leader's tree
// is gone: the group's members and every descendant of the leader, also
// those in process groups of their own (k3lite's containerd), which the
// signal does not reach but which still stop with the server. What still
// runs at the timeout is SIGKILLed and listed in Killed. Processes that
// leave the tree on purpose (containerd shims re-parent to init at start)
// are not waited for; a process started after the signal by a helper
// outside the group, which then exits before it, is missed.
//
// Stopping an exited process only cleans up its group and returns its exit
// code; Took is then 0.
func (p *Proc) Terminate(timeout time.Duration) (Stopped, error) {
	p.stopMu.Lock()
	defer p.stopMu.Unlock()

	start := time.Now()
	deadline := start.Add(timeout)
	if exited, code := p.Exited(); exited {
		return Stopped{ExitCode: code}, p.cleanGroup(deadline)
	}
	leaderStart, _ := StartTime(p.PID)
	tree := treeOf(p.PGID, []procID{{p.PID, leaderStart}})
	p.log.Info("stopping process", "name", p.Name, "pid", p.PID, "signal", p.stopSignal.String(), "timeout", timeout, "processes", len(tree))
	if err := signalGroup(p.PGID, p.stopSignal); err != nil {
		return Stopped{}, fmt.Errorf("stop %s (pid %d): %w", p.Name, p.PID, err)
	}
	var s Stopped
	if left := waitTreeGone(p.PGID, tree, deadline); len(left) > 0 {
		s.Killed = pids(left)
		p.log.Warn("processes did not stop in time: killing them", "name", p.Name, "pid", p.PID, "pids", s.Killed, "timeout", timeout)
		killTree(p.PGID, left)
		if left := waitTreeGone(p.PGID, left, time.Now().Add(killGrace)); len(left) > 0 {
			return Stopped{Took: time.Since(start), Killed: s.Killed}, fmt.Errorf("stop %s (pid %d): processes %v still running %s after SIGKILL", p.Name, p.PID, pids(left), killGrace)
		}
	}
	s.Took = time.Since(start)
	select {
	case <-p.done:
	case <-time.After(killGrace):
		return s, fmt.Errorf("stop %s (pid %d): gone from /proc but not reaped after %s", p.Name, p.PID, killGrace)
	}
	s.ExitCode = p.exitCode
	return s, nil
}

// waitTreeGone polls until none of tree runs and the group has no member
// left, or deadline passes; it returns what still runs.
func waitTreeGone(pgid int, tree []procID, deadline time.Time) []procID {
	for {
		tree = living(tree)
		if len(tree) == 0 {
			// Members forked since the last look (an exiting server's
			// helpers) count too.
			if tree = treeOf(pgid, nil); len(tree) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return tree
		}
		time.Sleep(treePoll)
	}
}

// killTree SIGKILLs the group and every process of left (some are in
// groups of their own).
func killTree(pgid int, left []procID) {
	_ = signalGroup(pgid, syscall.SIGKILL)
	for _, id := range left {
		if id.alive() {
			_ = syscall.Kill(id.pid, syscall.SIGKILL)
		}
	}
}

// cleanGroup waits until the group has no live members left, killing them
// once deadline passes.
func (p *Proc) cleanGroup(deadline time.Time) error {
	if len(GroupMembers(p.PGID)) == 0 {
		return nil
	}
	_ = signalGroup(p.PGID, p.stopSignal)
	if waitGroupGone(p.PGID, time.Until(deadline)) {
		return nil
	}
	_ = signalGroup(p.PGID, syscall.SIGKILL)
	if waitGroupGone(p.PGID, killGrace) {
		return nil
	}
	return fmt.Errorf("stop %s: process group %d still has members %v after SIGKILL", p.Name, p.PGID, GroupMembers(p.PGID))
}

// KillGroup stops a process group this invocation did not start (e.g. one
// recorded by `distrobench up` for `down`): SIGTERM, up to timeout, then
// SIGKILL. A group that is already gone is not an error. It refuses
// pgid <= 1, which would signal every process or init.
func KillGroup(pgid int, timeout time.Duration) error {
	return KillGroupWith(pgid, syscall.SIGTERM, timeout)
}

// KillGroupWith is KillGroup with another first signal.
func KillGroupWith(pgid int, sig syscall.Signal, timeout time.Duration) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	if len(GroupMembers(pgid)) == 0 {
		return nil
	}
	if err := signalGroup(pgid, sig); err != nil {
		return fmt.Errorf("signal process group %d: %w", pgid, err)
	}
	if waitGroupGone(pgid, timeout) {
		return nil
	}
	_ = signalGroup(pgid, syscall.SIGKILL)
	if waitGroupGone(pgid, killGrace) {
		return nil
	}
	return fmt.Errorf("process group %d still has members %v after SIGKILL", pgid, GroupMembers(pgid))
}

// Alive reports whether pid is a live process (not a zombie).
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}

// StartTime returns the start time of pid in clock ticks since boot
// (/proc/PID/stat field 22). Together with the PID it identifies a process
// across PID reuse: record it, and compare before signalling later.
func StartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return st.startTime, nil
}

// GroupMembers lists the live (non-zombie) processes in process group pgid.
func GroupMembers(pgid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, ok := atoi(e.Name())
		if !ok {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.state == 'Z' || st.pgid != pgid {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 1 {
		return fmt.Errorf("refusing to signal process group %d", pgid)
	}
	err := syscall.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// waitGroupGone polls until the group has no live member or d passes.
func waitGroupGone(pgid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if len(GroupMembers(pgid)) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Tail returns the last n lines of the file at path with every known secret
// pattern redacted (see internal/redact); nil when it cannot be read. Only
// the last 256 KiB are read, so a huge log costs little.
func Tail(path string, n int) []string {
	const maxRead = 256 << 10
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := int64(0)
	if fi.Size() > maxRead {
		off = fi.Size() - maxRead
	}
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(buf), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // the first line is probably cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	for i, l := range lines {
		lines[i] = redact.String(l)
	}
	return lines
}

// LogTail is Tail of the process's log.
func (p *Proc) LogTail(n int) []string { return Tail(p.LogPath, n) }
