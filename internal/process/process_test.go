package process

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sh(t *testing.T, g *Group, name, script string) *Proc {
	t.Helper()
	p, err := g.Start(context.Background(), Spec{
		Name: name, Path: "/bin/sh", Args: []string{"-c", script},
		LogPath: filepath.Join(t.TempDir(), name+".log"),
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	return p
}

// waitFile polls for a file a child writes (its grandchild's PID).
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s was never written", path)
	return ""
}

func TestStopAllLeavesNoSurvivors(t *testing.T) {
	g := NewGroup(nil)
	var pids []int
	for i := 0; i < 3; i++ {
		p, err := g.Start(context.Background(), Spec{
			Name: "sleep", Path: "/bin/sleep", Args: []string{"300"},
			LogPath: filepath.Join(t.TempDir(), "sleep.log"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.PGID != p.PID {
			t.Errorf("pgid %d != pid %d: child is not a group leader", p.PGID, p.PID)
		}
		pids = append(pids, p.PID)
	}
	// A shell that spawns a grandchild (which ignores SIGTERM) and waits for it.
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	parent := sh(t, g, "spawner", `trap '' TERM; sleep 300 & echo $! > `+pidFile+`.tmp; mv `+pidFile+`.tmp `+pidFile+`; wait`)
	gc, err := strconv.Atoi(waitFile(t, pidFile))
	if err != nil {
		t.Fatal(err)
	}
	pids = append(pids, parent.PID, gc)
	for _, pid := range pids {
		if !Alive(pid) {
			t.Fatalf("pid %d not alive before StopAll", pid)
		}
	}

	if err := g.StopAll(2 * time.Second); err != nil {
		t.Fatalf("StopAll: %v", err)
	}
	for _, pid := range pids {
		if Alive(pid) {
			t.Errorf("pid %d survived StopAll (/proc/%d exists)", pid, pid)
		}
	}
	if m := GroupMembers(parent.PGID); len(m) != 0 {
		t.Errorf("group %d still has members %v", parent.PGID, m)
	}
	// Idempotent.
	if err := g.StopAll(time.Second); err != nil {
		t.Errorf("second StopAll: %v", err)
	}
}

func TestStopReportsExitCodeOfGracefulChild(t *testing.T) {
	g := NewGroup(nil)
	p := sh(t, g, "graceful", `trap 'exit 0' TERM; while :; do sleep 0.05; done`)
	time.Sleep(200 * time.Millisecond) // let the shell install its trap
	code, _, err := p.Stop(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Errorf("exit code %d, want 0 (trap exits 0 on SIGTERM)", code)
	}
}

func TestStopKillsChildIgnoringTerm(t *testing.T) {
	g := NewGroup(nil)
	p := sh(t, g, "stubborn", `trap '' TERM; while :; do sleep 0.05; done`)
	time.Sleep(200 * time.Millisecond)
	code, _, err := p.Stop(300 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if code != -1 {
		t.Errorf("exit code %d, want -1 (killed by SIGKILL)", code)
	}
	if Alive(p.PID) {
		t.Errorf("pid %d still alive", p.PID)
	}
}

func TestChildExitingOnItsOwnIsReported(t *testing.T) {
	g := NewGroup(nil)
	p := sh(t, g, "quitter", `echo bye; exit 3`)
	select {
	case <-p.Wait():
	case <-time.After(10 * time.Second):
		t.Fatal("exit not reported")
	}
	exited, code := p.Exited()
	if !exited || code != 3 {
		t.Errorf("Exited() = %v, %d; want true, 3", exited, code)
	}
	if p.ExitError() == nil {
		t.Error("ExitError() = nil for exit code 3")
	}
	code, took, err := p.Stop(time.Second)
	if err != nil || code != 3 || took != 0 {
		t.Errorf("Stop after exit = %d, %v, %v; want 3, 0, nil", code, took, err)
	}
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "bye") {
		t.Errorf("log %q lacks the child's output", b)
	}
	fi, err := os.Stat(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestStartLogsRedactedCommandLine(t *testing.T) {
	g := NewGroup(nil)
	logPath := filepath.Join(t.TempDir(), "x.log")
	p, err := g.Start(context.Background(), Spec{
		Name: "echo", Path: "/bin/true",
		Args:    []string{"--token", "s3cr3t", "--datastore-endpoint", "postgres://kine:hunter2@127.0.0.1:5432/kine"},
		LogPath: logPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Wait()
	b, _ := os.ReadFile(logPath)
	for _, secret := range []string{"s3cr3t", "hunter2"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("log leaks %q: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), "REDACTED") {
		t.Errorf("log lacks the redacted command line: %s", b)
	}
}

func TestKillGroupFromOutside(t *testing.T) {
	// Simulates `down` in another invocation: only the PGID is known.
	g := NewGroup(nil)
	p := sh(t, g, "detached", `sleep 300 & sleep 300; wait`)
	time.Sleep(100 * time.Millisecond)
	if n := len(GroupMembers(p.PGID)); n < 2 {
		t.Fatalf("group has %d members, want >= 2", n)
	}
	if err := KillGroup(p.PGID, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if m := GroupMembers(p.PGID); len(m) != 0 {
		t.Errorf("members %v survived KillGroup", m)
	}
	if err := KillGroup(p.PGID, time.Second); err != nil {
		t.Errorf("KillGroup of a gone group: %v", err)
	}
	for _, bad := range []int{0, 1, -5} {
		if err := KillGroup(bad, time.Second); err == nil {
			t.Errorf("KillGroup(%d) accepted", bad)
		}
	}
}

func TestStartFailsForMissingBinary(t *testing.T) {
	g := NewGroup(nil)
	_, err := g.Start(context.Background(), Spec{Name: "nope", Path: "/nonexistent/bin", LogPath: filepath.Join(t.TempDir(), "l")})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/bin") {
		t.Errorf("err = %v, want one naming the path", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Start(ctx, Spec{Name: "late", Path: "/bin/true", LogPath: filepath.Join(t.TempDir(), "l")}); err == nil {
		t.Error("Start with a cancelled context started a process")
	}
	if len(g.Procs()) != 0 {
		t.Errorf("failed starts were tracked: %v", g.Procs())
	}
}

func TestStartTimeIdentifiesProcess(t *testing.T) {
	st, err := StartTime(os.Getpid())
	if err != nil || st == 0 {
		t.Fatalf("StartTime(self) = %d, %v", st, err)
	}
	if _, err := StartTime(1 << 30); err == nil {
		t.Error("StartTime of a missing pid succeeded")
	}
}

// TestStopTimesTheWholeTree: the leader exits at once on SIGTERM, a child
// lives on for a while (ignoring TERM in the group, or in a session of its
// own like k3lite's containerd), then exits by itself. Stop's time must
// cover the child's life, not only the leader's.
func TestStopTimesTheWholeTree(t *testing.T) {
	for name, launch := range map[string]string{
		"same group":  `sh -c "$CHILD" &`,
		"own session": `setsid sh -c "$CHILD" &`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ready, done := filepath.Join(dir, "ready"), filepath.Join(dir, "done")
			child := `trap '' TERM; echo $$ > ` + ready + `.tmp; mv ` + ready + `.tmp ` + ready + `; sleep 1; touch ` + done
			g := NewGroup(nil)
			p := sh(t, g, "leader", `trap 'exit 0' TERM; CHILD='`+strings.ReplaceAll(child, "'", `'\''`)+`'; export CHILD; `+launch+` while :; do sleep 0.05; done`)
			pid, err := strconv.Atoi(waitFile(t, ready))
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			code, took, err := p.Stop(30 * time.Second)
			if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			fi, err := os.Stat(done)
			if err != nil {
				t.Fatalf("the child was not left to end by itself: %v", err)
			}
			if end := t0.Add(took); end.Before(fi.ModTime()) {
				t.Errorf("took %v ends before the child ended (%v after the signal): the stop was timed to the leader only",
					took, fi.ModTime().Sub(t0))
			}
			if code != 0 || Alive(pid) {
				t.Errorf("exit code %d, child alive %v; want 0 and the child gone", code, Alive(pid))
			}
		})
	}
}

// TestStopKillsAndReportsStragglers: a child outside the leader's group
// that ignores TERM is killed at the timeout and reported.
func TestStopKillsAndReportsStragglers(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	g := NewGroup(nil)
	p := sh(t, g, "leader", `trap 'exit 0' TERM; setsid sh -c "trap '' TERM; echo \$\$ > `+ready+`.tmp; mv `+ready+`.tmp `+ready+`; sleep 300" & while :; do sleep 0.05; done`)
	pid, err := strconv.Atoi(waitFile(t, ready))
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.Terminate(300 * time.Millisecond)
	if err != nil {
		t.Fatalf("Terminate: %v", err)
	}
	if !slices.Contains(s.Killed, pid) || Alive(pid) {
		t.Errorf("Killed = %v, child %d alive %v; want the child killed and reported", s.Killed, pid, Alive(pid))
	}
	if slices.Contains(s.Killed, p.PID) || s.ExitCode != 0 {
		t.Errorf("the leader exited 0 on SIGTERM, yet Stopped = %+v", s)
	}
}
