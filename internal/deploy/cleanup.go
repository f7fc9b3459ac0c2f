package deploy

// What nodes leave behind once their process groups are gone: containerd
// shims and containers (they leave the agent's process group on purpose, to
// survive an agent restart, as in K3s), mounts (overlay rootfs, shm, tmpfs,
// bind mounts of volumes, pod network namespaces), the kubelets' cgroups,
// and the simulated network. Everything is found from what this run
// recorded or marked (run directory, cgroup roots, network names), never by
// a process name, so other clusters on the machine are left alone.
//
// Hand-written on /proc and /proc/self/mountinfo: gopsutil lists processes
// but neither a process's cgroup paths nor mount points below a directory
// in a form that is cheaper to use than these few lines.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// leftoverTimeout bounds how long Down waits for killed leftovers to vanish.
const leftoverTimeout = 20 * time.Second

// cleanupNodes removes what the nodes left (only with simulated hosts).
func (c *Cluster) cleanupNodes() []error {
	if c.Network == nil {
		return nil
	}
	roots := c.cgroupRoots()
	var extra []string
	if c.NodesDir != "" {
		extra = append(extra, c.NodesDir)
	}
	var errs []error
	errs = append(errs, killLeftovers(c.RunDir, roots, c.log, extra...))
	errs = append(errs, unmountUnder(c.RunDir, c.log))
	for _, d := range extra {
		errs = append(errs, unmountUnder(d, c.log))
	}
	errs = append(errs, removeCgroups(roots, c.log))
	errs = append(errs, c.Network.Delete(c.log))
	if errors.Join(errs...) == nil {
		errs = append(errs, c.removeNodesDir())
	}
	return errs
}

// removeNodesDir keeps each node's containerd log and its kube-system
// pods' logs in the run directory (the nodes' own logs are there already;
// in the RKE2 style the control plane logs as pods) and deletes the nodes'
// data: image content and container state of every node would otherwise
// pile up under NodesBase run after run.
func (c *Cluster) removeNodesDir() error {
	if c.NodesDir == "" {
		return nil
	}
	nodes, _ := os.ReadDir(c.NodesDir)
	for _, n := range nodes {
		src := filepath.Join(c.NodesDir, n.Name(), "agent", "containerd", "containerd.log")
		if b, err := os.ReadFile(src); err == nil {
			_ = os.WriteFile(filepath.Join(c.RunDir, n.Name()+"-containerd.log"), b, 0o600)
		}
		keepSystemPodLogs(filepath.Join(c.NodesDir, n.Name(), "agent", "pod-logs"), filepath.Join(c.RunDir, n.Name()+"-pod-logs"))
	}
	if err := os.RemoveAll(c.NodesDir); err != nil {
		return fmt.Errorf("remove the nodes' data %s: %w", c.NodesDir, err)
	}
	_ = os.Remove(filepath.Join(c.RunDir, "nodes"))
	return nil
}

// runProcesses returns the live processes that belong to the run: their
// executable lies under the run directory (containerd shims, runc and CNI
// plugins are extracted into the nodes' data dirs), their environment
// carries the run marker (everything the nodes started inherits it), or
// they live in a node's cgroup (pods: kubelet puts every container under
// its --cgroup-root). The calling process and its ancestors are never
// returned.
func runProcesses(runDir string, cgroupRoots []string, extraDirs ...string) []int {
	dirs := append([]string{runDir}, extraDirs...)
	if real, err := filepath.EvalSymlinks(runDir); err == nil && real != runDir {
		dirs = append(dirs, real)
	}
	marker := []byte(runDirEnv + "=" + runDir)
	skip := ancestors()
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || skip[pid] {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		if zombie(base) {
			continue // nothing to kill; its parent (or init) reaps it
		}
		if exe, err := os.Readlink(filepath.Join(base, "exe")); err == nil {
			exe = strings.TrimSuffix(exe, " (deleted)")
			if underAny(exe, dirs) {
				out = append(out, pid)
				continue
			}
		}
		if env, err := os.ReadFile(filepath.Join(base, "environ")); err == nil {
			if slices.ContainsFunc(bytes.Split(env, []byte{0}), func(kv []byte) bool { return bytes.Equal(kv, marker) }) {
				out = append(out, pid)
				continue
			}
		}
		if inCgroups(filepath.Join(base, "cgroup"), cgroupRoots) {
			out = append(out, pid)
		}
	}
	return out
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// inCgroups reports whether a /proc/PID/cgroup file names a path at or
// below one of roots in any hierarchy.
func inCgroups(file string, roots []string) bool {
	if len(roots) == 0 {
		return false
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && underAny(parts[2], roots) {
			return true
		}
	}
	return false
}

func zombie(procDir string) bool {
	b, err := os.ReadFile(filepath.Join(procDir, "stat"))
	if err != nil {
		return true // gone
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// ancestors are this process and every process above it (a `down` run from
// a script must not kill its own shell, whatever its environment holds).
func ancestors() map[int]bool {
	out := map[int]bool{}
	for pid := os.Getpid(); pid > 1 && !out[pid]; {
		out[pid] = true
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			break
		}
		i := bytes.LastIndexByte(b, ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			break
		}
		pid, _ = strconv.Atoi(f[1])
	}
	out[1] = true
	return out
}

// killLeftovers SIGKILLs the run's remaining processes until none is left.
// They are leftovers by now (the nodes were stopped gracefully first), so
// there is no grace period.
func killLeftovers(runDir string, cgroupRoots []string, log *slog.Logger, extraDirs ...string) error {
	deadline := time.Now().Add(leftoverTimeout)
	for {
		pids := runProcesses(runDir, cgroupRoots, extraDirs...)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of the run survived SIGKILL for %s: %s", leftoverTimeout, describePIDs(pids))
		}
		for _, pid := range pids {
			log.Debug("killing leftover process of the run", "pid", pid, "comm", comm(pid))
			removeShimSocket(pid, log)
			if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
				log.Warn("kill leftover process", "pid", pid, "err", err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shimSocketDir is where containerd v2's runc shims put their sockets (a
// fixed default, shared by every containerd on the host).
const shimSocketDir = "/run/containerd/s"

// removeShimSocket removes the socket of a containerd shim about to be
// killed: a shim deletes it only when it exits normally. containerd names it
// by the SHA-256 of "<containerd address>/<namespace>/<id>" (shim
// SocketAddress); the three values are on the shim's command line.
func removeShimSocket(pid int, log *slog.Logger) {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
		return
	}
	flags := map[string]string{}
	for i := 1; i+1 < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			flags[strings.TrimLeft(args[i], "-")] = args[i+1]
		}
	}
	if flags["address"] == "" || flags["namespace"] == "" || flags["id"] == "" {
		return
	}
	sum := sha256.Sum256([]byte(filepath.Join(flags["address"], flags["namespace"], flags["id"])))
	sock := filepath.Join(shimSocketDir, hex.EncodeToString(sum[:]))
	if err := os.Remove(sock); err == nil {
		log.Debug("removed the socket of a killed shim", "socket", sock)
	}
}

func comm(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return strings.TrimSpace(string(b))
}

func describePIDs(pids []int) string {
	parts := make([]string, len(pids))
	for i, pid := range pids {
		parts[i] = fmt.Sprintf("%d (%s)", pid, comm(pid))
	}
	return strings.Join(parts, ", ")
}

// mount is one line of /proc/self/mountinfo.
type mount struct {
	id     int
	root   string // the mounted path inside its file system
	point  string
	fstype string
}

func mountInfo() ([]mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	var out []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		pre, post, found := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !found || len(fields) < 5 {
			continue
		}
		id, _ := strconv.Atoi(fields[0])
		m := mount{id: id, root: unescapeMount(fields[3]), point: unescapeMount(fields[4])}
		if pf := strings.Fields(post); len(pf) > 0 {
			m.fstype = pf[0]
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder unmounts every mount at or below dir, deepest (and newest)
// first, lazily when busy, until none is left (mounts may be stacked).
func unmountUnder(dir string, log *slog.Logger) error {
	dirs := []string{dir}
	if real, err := filepath.EvalSymlinks(dir); err == nil && real != dir {
		dirs = append(dirs, real)
	}
	var errs []error
	for round := 0; round < 10; round++ {
		mounts, err := mountInfo()
		if err != nil {
			return err
		}
		var under []mount
		for _, m := range mounts {
			if underAny(m.point, dirs) {
				under = append(under, m)
			}
		}
		if len(under) == 0 {
			return nil
		}
		slices.SortFunc(under, func(a, b mount) int {
			if d := strings.Count(b.point, "/") - strings.Count(a.point, "/"); d != 0 {
				return d
			}
			return b.id - a.id
		})
		errs = errs[:0]
		for _, m := range under {
			err := unix.Unmount(m.point, 0)
			if errors.Is(err, unix.EBUSY) {
				err = unix.Unmount(m.point, unix.MNT_DETACH)
			}
			switch {
			case err == nil:
				log.Debug("unmounted", "path", m.point, "type", m.fstype)
			case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
				// Already gone (a parent's lazy unmount took it along).
			default:
				errs = append(errs, fmt.Errorf("unmount %s (%s): %w", m.point, m.fstype, err))
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return fmt.Errorf("mounts below %s keep reappearing after 10 rounds of unmounting", dir)
}

// removeCgroups removes the nodes' cgroup roots, deepest first, in every
// mounted hierarchy, and then their parent /k3lite when it is empty (other
// runs may share it). A cgroup that still has processes cannot be removed;
// the leftovers were killed before, so EBUSY is retried for a short while.
func removeCgroups(roots []string, log *slog.Logger) error {
	if len(roots) == 0 {
		return nil
	}
	mounts, err := mountInfo()
	if err != nil {
		return err
	}
	var errs []error
	seen := map[string]bool{}
	for _, m := range mounts {
		if m.fstype != "cgroup" && m.fstype != "cgroup2" {
			continue
		}
		for _, r := range append(slices.Clone(roots), cgroupParent) {
			rel, ok := strings.CutPrefix(r, strings.TrimSuffix(m.root, "/"))
			if !ok {
				continue
			}
			dir := filepath.Join(m.point, rel)
			if seen[dir] {
				continue
			}
			seen[dir] = true
			if r == cgroupParent {
				// Shared with other runs: only when empty.
				if err := unix.Rmdir(dir); err == nil {
					log.Debug("removed cgroup", "path", dir)
				}
				continue
			}
			if err := rmdirTree(dir, log); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func rmdirTree(dir string, log *slog.Logger) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list cgroup %s: %w", dir, err)
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	for _, d := range dirs {
		var err error
		for try := 0; try < 50; try++ {
			err = unix.Rmdir(d)
			if !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove cgroup %s: %w", d, err)
		}
		log.Debug("removed cgroup", "path", d)
	}
	return nil
}

// keepSystemPodLogs copies the container logs of the kube-system pods under
// the kubelet's pod-logs dir (<namespace>_<pod>_<uid>/<container>/N.log)
// to dst as <pod>.<container>.N.log.
func keepSystemPodLogs(podLogs, dst string) {
	files, _ := filepath.Glob(filepath.Join(podLogs, "kube-system_*", "*", "*.log"))
	for _, f := range files {
		container := filepath.Base(filepath.Dir(f))
		pod := strings.SplitN(filepath.Base(filepath.Dir(filepath.Dir(f))), "_", 3)[1]
		b, err := os.ReadFile(f)
		if err != nil || os.MkdirAll(dst, 0o700) != nil {
			continue
		}
		_ = os.WriteFile(filepath.Join(dst, pod+"."+container+"."+filepath.Base(f)), b, 0o600)
	}
}
