package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIntegrationContainerdImportsAndRuns builds pause and busybox for this
// host's arch, imports them into a private containerd (Debian's 1.6 with its
// ctr and runc, installed by hack/install-deps.sh images) under the names the
// cluster uses, and runs them: busybox echoes, pause stops on SIGTERM.
func TestIntegrationContainerdImportsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs containerd, ctr and runc (hack/install-deps.sh images) and root")
	}
	for _, bin := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found: run hack/install-deps.sh images (Debian's containerd package)", bin)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("containerd needs root: run the integration tests as root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	imgs, err := Build(ctx, Options{RepoRoot: repoRoot(t), Arch: runtime.GOARCH, OutDir: t.TempDir(), Names: []string{"pause", "busybox"}, Log: discard})
	if err != nil {
		t.Fatal(err)
	}

	sock := startContainerd(t)
	// Each call has its own deadline, not the test's context: the cleanups
	// below run after the test function (and its context) ended.
	ctr := func(args ...string) (string, error) {
		cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer ccancel()
		out, err := exec.CommandContext(cctx, "ctr", append([]string{"-a", sock, "-n", "k8s.io"}, args...)...).CombinedOutput()
		return string(out), err
	}
	// Containers' cgroups go under a parent of this test's own, removed at the end.
	cgParent := fmt.Sprintf("distrobench-images-it-%d", os.Getpid())
	t.Cleanup(func() {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgParent)
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	for _, img := range imgs {
		out, err := ctr("images", "import", img.Tarball)
		if err != nil {
			t.Fatalf("ctr images import %s: %v\n%s", img.Tarball, err, out)
		}
		// containerd keeps our manifest digest (the OCI layout is used).
		if !strings.Contains(out, img.Name) || !strings.Contains(out, img.Digest) {
			t.Errorf("import of %s printed %q, want its name and digest %s", img.Tarball, out, img.Digest)
		}
	}
	list, err := ctr("images", "ls", "-q")
	if err != nil {
		t.Fatalf("ctr images ls: %v\n%s", err, list)
	}
	for _, want := range []string{PauseName, BusyboxName} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("containerd lists %q, want %s", list, want)
		}
	}

	id := fmt.Sprintf("images-it-bb-%d", os.Getpid())
	out, err := ctr("run", "--rm", "--cgroup", "/"+cgParent+"/"+id, BusyboxName, id, "sh", "-c", "echo hi from $(cat /etc/passwd | head -1 | cut -d: -f1)")
	if err != nil || strings.TrimSpace(out) != "hi from root" {
		t.Fatalf("busybox run: %v, output %q, want \"hi from root\"", err, out)
	}

	pid := fmt.Sprintf("images-it-pause-%d", os.Getpid())
	if out, err := ctr("run", "-d", "--cgroup", "/"+cgParent+"/"+pid, PauseName, pid); err != nil {
		t.Fatalf("pause run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		_, _ = ctr("task", "kill", "-s", "SIGKILL", pid)
		_, _ = ctr("task", "delete", "-f", pid)
		_, _ = ctr("container", "delete", pid)
	})
	if !waitTask(ctr, pid, "RUNNING") {
		t.Fatal("pause never ran")
	}
	if out, err := ctr("task", "kill", "-s", "SIGTERM", pid); err != nil {
		t.Fatalf("SIGTERM to pause: %v\n%s", err, out)
	}
	if !waitTask(ctr, pid, "STOPPED") {
		t.Fatal("pause did not stop on SIGTERM")
	}
}

// waitTask polls `ctr task ls` until the task has status, for up to a minute.
func waitTask(ctr func(...string) (string, error), id, status string) bool {
	for range 120 {
		out, _ := ctr("task", "ls")
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == id && f[2] == status {
				return true
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}

// startContainerd runs containerd on a private socket, root and state dir
// (CRI off) in its own process group, killed by PID when the test ends.
func startContainerd(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctd-") // short: the socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "containerd.sock")
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = %q
[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "opt"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting containerd: %v", err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		// Unmount anything containerd left (overlay snapshots, shm), then remove.
		_ = exec.Command("sh", "-c", "grep -o ' "+dir+"[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l").Run()
		_ = os.RemoveAll(dir)
	})
	for range 100 {
		if out, err := exec.Command("ctr", "-a", sock, "version").CombinedOutput(); err == nil && strings.Contains(string(out), "Server:") {
			return sock
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "containerd.log"))
	t.Fatalf("containerd did not answer on %s; its log:\n%s", sock, tail(string(b), 30))
	return ""
}
