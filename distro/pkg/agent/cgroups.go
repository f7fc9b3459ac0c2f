package agent

import (
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// ensureCgroupRoot creates the kubelet's cgroup root (its --cgroup-root,
// "/" by default) in every mounted cgroup hierarchy, as kind's node
// entrypoint does: on a cgroup v1 host the kubelet refuses a root that is
// missing from any hierarchy. In the cpuset hierarchy a new cgroup starts
// with no CPUs and memory nodes; they are copied from its parent.
func ensureCgroupRoot(root string) error {
	root = path.Clean("/" + root)
	if root == "/" {
		return nil
	}
	mounts, err := mountinfo.GetMounts(mountinfo.FSTypeFilter("cgroup", "cgroup2"))
	if err != nil {
		return fmt.Errorf("list cgroup mounts: %w", err)
	}
	for _, m := range mounts {
		if err := ensureCgroupDir(m.Mountpoint, root, strings.Contains(","+m.VFSOptions+",", ",cpuset,")); err != nil {
			return err
		}
	}
	return nil
}

// ensureCgroupDir creates mountpoint/root level by level.
func ensureCgroupDir(mountpoint, root string, cpuset bool) error {
	dir := mountpoint
	for _, part := range strings.Split(strings.Trim(root, "/"), "/") {
		parent := dir
		dir = filepath.Join(dir, part)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if cpuset {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if err := inheritCgroupValue(parent, dir, f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func inheritCgroupValue(parent, dir, file string) error {
	have, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		if os.IsNotExist(err) {
			return nil // not a cpuset v1 hierarchy after all
		}
		return fmt.Errorf("read %s: %w", filepath.Join(dir, file), err)
	}
	if len(bytes.TrimSpace(have)) > 0 {
		return nil
	}
	want, err := os.ReadFile(filepath.Join(parent, file))
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(parent, file), err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), want, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(dir, file), err)
	}
	return nil
}
