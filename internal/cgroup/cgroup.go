// Package cgroup holds the cgroups distrobench accounts a node's cost by:
// it finds the hierarchy that accounts CPU time (cgroup v1: the cpuacct
// controller's; v2: the unified one), creates a cgroup there, starts a
// process inside it (so that everything the process ever spawns, daemons
// that re-parent to init included, stays inside), and reads the cgroup's
// members and its CPU time, which includes the time of members that
// already exited. Down removes the cgroups (internal/deploy).
//
// Paths are cgroup paths as /proc/PID/cgroup shows them ("/k3lite/x/node"),
// not file system paths; Hierarchy.Dir maps one to its directory.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Hierarchy is the mounted cgroup hierarchy that accounts CPU time.
type Hierarchy struct {
	// Version is 1 (the cpuacct controller's hierarchy) or 2 (unified).
	Version int
	// Mount is where it is mounted (/sys/fs/cgroup/cpuacct, /sys/fs/cgroup).
	Mount string
	// Root is the mount's root inside the hierarchy ("/" unless the mount
	// is a bind mount of a sub-tree, as in a container).
	Root string
}

// ErrNoHierarchy is returned by CPU when no hierarchy accounts CPU time.
var ErrNoHierarchy = errors.New("no cgroup hierarchy accounts CPU time (neither a cgroup v1 cpuacct mount nor a cgroup v2 mount in /proc/self/mountinfo)")

// CPU finds the hierarchy that accounts CPU time: cgroup v1's cpuacct
// hierarchy when one is mounted (a hybrid host keeps the CPU controllers on
// v1, and its v2 mount then accounts nothing useful), else cgroup v2.
func CPU() (Hierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Hierarchy{}, fmt.Errorf("find the CPU cgroup hierarchy: %w", err)
	}
	defer f.Close()
	var v2 *Hierarchy
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		h, opts, ok := parseMount(sc.Text())
		if !ok {
			continue
		}
		switch {
		case h.Version == 1 && hasOption(opts, "cpuacct"):
			return h, nil
		case h.Version == 2 && v2 == nil:
			v2 = &h
		}
	}
	if err := sc.Err(); err != nil {
		return Hierarchy{}, fmt.Errorf("find the CPU cgroup hierarchy: %w", err)
	}
	if v2 != nil {
		return *v2, nil
	}
	return Hierarchy{}, ErrNoHierarchy
}

// parseMount reads one /proc/self/mountinfo line of a cgroup file system:
// "36 35 0:30 / /sys/fs/cgroup/cpuacct rw,relatime shared:5 - cgroup cgroup rw,cpuacct".
func parseMount(line string) (h Hierarchy, superOpts string, ok bool) {
	pre, post, found := strings.Cut(line, " - ")
	fields, pf := strings.Fields(pre), strings.Fields(post)
	if !found || len(fields) < 5 || len(pf) < 3 {
		return Hierarchy{}, "", false
	}
	switch pf[0] {
	case "cgroup":
		h.Version = 1
	case "cgroup2":
		h.Version = 2
	default:
		return Hierarchy{}, "", false
	}
	h.Root, h.Mount = fields[3], fields[4]
	return h, pf[2], true
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// Dir is the directory of cgroup path p in this hierarchy.
func (h Hierarchy) Dir(p string) string {
	p = path.Clean("/" + p)
	rel := p
	if root := strings.TrimSuffix(h.Root, "/"); root != "" {
		rel = strings.TrimPrefix(p, root)
	}
	return filepath.Join(h.Mount, rel)
}

// Create makes cgroup p (and its parents) in this hierarchy; an existing
// cgroup is fine.
func (h Hierarchy) Create(p string) error {
	if err := os.MkdirAll(h.Dir(p), 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w (creating cgroups needs root and a writable %s)", p, err, h.Mount)
	}
	return nil
}

// Usage is the CPU time the members of cgroup p and of every cgroup below
// it have used since it was created, exited members included (v1:
// cpuacct.usage; v2: usage_usec of cpu.stat, which exists whether or not
// the cpu controller is enabled).
func (h Hierarchy) Usage(p string) (time.Duration, error) {
	dir := h.Dir(p)
	if h.Version == 1 {
		b, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage"))
		if err != nil {
			return 0, fmt.Errorf("CPU time of cgroup %s: %w", p, err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time of cgroup %s: cpuacct.usage %q: %w", p, b, err)
		}
		return time.Duration(ns), nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
	if err != nil {
		return 0, fmt.Errorf("CPU time of cgroup %s: %w", p, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
			us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("CPU time of cgroup %s: cpu.stat %q: %w", p, line, err)
			}
			return time.Duration(us) * time.Microsecond, nil
		}
	}
	return 0, fmt.Errorf("CPU time of cgroup %s: cpu.stat has no usage_usec line", p)
}

// Procs lists the processes in cgroup p and in every cgroup below it.
func (h Hierarchy) Procs(p string) ([]int, error) {
	var out []int
	err := h.walk(p, func(_ string, pids []int) { out = append(out, pids...) })
	return out, err
}

// Tree lists cgroup p and every cgroup below it with its own processes,
// keyed by its path below p ("." for p itself, slash-separated).
func (h Hierarchy) Tree(p string) (map[string][]int, error) {
	out := map[string][]int{}
	err := h.walk(p, func(rel string, pids []int) { out[rel] = pids })
	return out, err
}

// walk calls fn for cgroup p and every cgroup below it, with its path
// below p and its processes. A cgroup removed while walking (a pod that
// ended) is left out.
func (h Hierarchy) walk(p string, fn func(rel string, pids []int)) error {
	root := h.Dir(p)
	err := filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && dir != root {
				return nil // removed while walking (a pod that ended)
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && dir != root {
				return nil
			}
			return err
		}
		var pids []int
		for f := range strings.FieldsSeq(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
		rel, _ := filepath.Rel(root, dir)
		fn(filepath.ToSlash(rel), pids)
		return nil
	})
	if err != nil {
		return fmt.Errorf("processes of cgroup %s: %w", p, err)
	}
	return nil
}

// Exists reports whether cgroup p exists in this hierarchy.
func (h Hierarchy) Exists(p string) bool {
	fi, err := os.Stat(h.Dir(p))
	return err == nil && fi.IsDir()
}

// Describe names how CPU time is read, for a measurement's description.
func (h Hierarchy) Describe() string {
	if h.Version == 1 {
		return "cgroup v1 cpuacct.usage"
	}
	return "cgroup v2 cpu.stat usage_usec"
}
