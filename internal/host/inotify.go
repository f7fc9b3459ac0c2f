package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Inotify limits a node needs: every kubelet (cAdvisor), containerd and
// their plugins open inotify instances, all as root, so the per-user limit
// (128 by default) is shared by every node on the machine. Five two-node
// clusters exhausted it here ("Failed to start cAdvisor: inotify_init:
// too many open files"); four did not. Per node a quarter of the default,
// with room for the rest of the machine.
const (
	InotifyInstancesPerNode = 32
	InotifyWatchesPerNode   = 65536
	inotifyInstancesBase    = 128
	inotifyWatchesBase      = 65536
)

// InotifyDir holds the limits (a variable for tests).
var InotifyDir = "/proc/sys/fs/inotify"

// RaiseInotify makes sure the inotify limits hold nodes nodes, raising
// them where they are lower (never lowering one). It returns what it did,
// for the run's record ("" when nothing), and restore, which puts back
// the values it changed. Raising needs root; without it the error says
// what to run.
func RaiseInotify(nodes int) (did string, restore func() error, err error) {
	want := map[string]int{
		"max_user_instances": inotifyInstancesBase + nodes*InotifyInstancesPerNode,
		"max_user_watches":   inotifyWatchesBase + nodes*InotifyWatchesPerNode,
	}
	var done []string
	var undo []func() error
	restore = func() error {
		var errs []error
		for _, u := range undo {
			errs = append(errs, u())
		}
		return errors.Join(errs...)
	}
	for _, name := range []string{"max_user_instances", "max_user_watches"} {
		path := filepath.Join(InotifyDir, name)
		cur, err := readInt(path)
		if err != nil || cur >= want[name] {
			continue // unreadable: nothing to raise; the nodes say if it is short
		}
		if err := os.WriteFile(path, []byte(strconv.Itoa(want[name])), 0o644); err != nil {
			return strings.Join(done, ", "), restore, fmt.Errorf("fs.inotify.%s is %d, %d nodes need %d: %w (run as root, or: sysctl -w fs.inotify.%s=%d)",
				name, cur, nodes, want[name], err, name, want[name])
		}
		done = append(done, fmt.Sprintf("fs.inotify.%s %d -> %d", name, cur, want[name]))
		undo = append(undo, func() error { return os.WriteFile(path, []byte(strconv.Itoa(cur)), 0o644) })
	}
	if len(done) == 0 {
		return "", restore, nil
	}
	return "raised " + strings.Join(done, ", ") + fmt.Sprintf(" for %d nodes (restored after the run)", nodes), restore, nil
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}
