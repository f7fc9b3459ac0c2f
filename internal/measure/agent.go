package measure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/distrobench/distrobench/internal/result"
	"github.com/shirou/gopsutil/v4/process"
)

// PodCgroupMarker starts the name of the cgroup under which the kubelet puts
// every pod ("kubepods" with the cgroupfs driver, "kubepods.slice" with
// systemd), whatever its --cgroup-root (k3lite nodes on one host use
// /k3lite/<node>/kubepods/...).
const PodCgroupMarker = "kubepods"

// AgentProcess is the process running one node's agent.
type AgentProcess struct {
	// Node is the node's name (label "node" of the measurements).
	Node string
	// PID of the agent process: `k3lite agent`, or the server when the
	// node's agent runs inside the server (K3s's default).
	PID int
	// InServer is true when PID is the server: its own memory is the
	// Kubernetes control plane's too, so only its descendants (containerd,
	// shims) count as the agent. The kubelet, kube-proxy and flannel inside
	// the server process cannot be told apart from the control plane and
	// are left out of the figure.
	InServer bool
	// DataDir is the node's data dir: processes whose executable lies under
	// it (containerd-shim-runc-v2, runc: extracted helpers) belong to the
	// node although they are not the agent's descendants (shims re-parent to
	// init so containers survive an agent restart). Empty: not searched.
	DataDir string
	// CgroupRoot is the node's kubelet --cgroup-root (e.g. /k3lite/x-node0):
	// processes in it are the node's pods. Empty: not searched.
	CgroupRoot string
}

// AgentMemoryOptions configure an agent memory measurement.
type AgentMemoryOptions struct {
	Agents []AgentProcess
	// Window is how long to sample (default 30s); Interval between samples
	// (default 5s).
	Window, Interval time.Duration
	// Labels are added to every measurement.
	Labels map[string]string
}

// AgentMemory samples the process tree of every agent over o.Window and
// returns, per node (label "node", and "role": agent or server):
//   - "footprint.agent.pss" and "footprint.agent.rss" (bytes): the agent
//     and everything it started (containerd, containerd-shim-runc-v2, ...),
//     without the pods' processes;
//   - "footprint.agent.pods.pss" (bytes): the pods' processes alone (pause
//     and the containers), found by their cgroup (PodCgroupMarker).
//
// One sample per tick including the start. A process that exits while being
// sampled is left out of that sample; an agent that is not running is an error.
func AgentMemory(ctx context.Context, o AgentMemoryOptions) ([]result.Measurement, error) {
	if len(o.Agents) == 0 {
		return nil, errors.New("agent memory: no agent process to measure (does the cluster run agents?)")
	}
	if o.Window <= 0 {
		o.Window = 30 * time.Second
	}
	if o.Interval <= 0 {
		o.Interval = 5 * time.Second
	}
	ticks := max(int(o.Window/o.Interval), 1)
	type series struct{ pss, rss, podPSS []float64 }
	per := make([]series, len(o.Agents))

	sample := func() error {
		for i, a := range o.Agents {
			agent, pods, err := SampleAgent(ctx, a)
			if err != nil {
				return err
			}
			per[i].pss = append(per[i].pss, float64(agent.PSS))
			per[i].rss = append(per[i].rss, float64(agent.RSS))
			per[i].podPSS = append(per[i].podPSS, float64(pods.PSS))
		}
		return nil
	}
	if err := sample(); err != nil {
		return nil, err
	}
	ticker := time.NewTicker(o.Interval)
	defer ticker.Stop()
	for range ticks {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("agent memory interrupted: %w", ctx.Err())
		case <-ticker.C:
		}
		if err := sample(); err != nil {
			return nil, err
		}
	}

	var out []result.Measurement
	for i, a := range o.Agents {
		labels := maps.Clone(o.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels["node"] = a.Node
		labels["role"] = "agent"
		scope := "the agent process and its descendants"
		if a.InServer {
			labels["role"] = "server"
			scope = "the server's descendants (containerd, shims; the kubelet inside the server process is not counted)"
		}
		out = append(out,
			described(result.NewMeasurement("footprint.agent.pss", "bytes", maps.Clone(labels), per[i].pss),
				"proportional set size of "+scope+", without pod processes"),
			described(result.NewMeasurement("footprint.agent.rss", "bytes", maps.Clone(labels), per[i].rss),
				"resident set size of "+scope+", without pod processes"),
			described(result.NewMeasurement("footprint.agent.pods.pss", "bytes", maps.Clone(labels), per[i].podPSS),
				"proportional set size of the pod processes (found by their kubepods cgroup) under the agent"),
		)
	}
	return out, nil
}

// SampleAgent samples one agent's process tree once and splits it into the
// agent's own processes and the pods' processes (by cgroup).
func SampleAgent(ctx context.Context, a AgentProcess) (agent, pods TreeSample, err error) {
	procs := map[int32]procSample{}
	if err := sampleTree(ctx, int32(a.PID), procs); err != nil {
		return TreeSample{}, TreeSample{}, fmt.Errorf("agent of node %s: %w", a.Node, err)
	}
	if a.InServer {
		delete(procs, int32(a.PID))
	}
	for _, pid := range nodeProcesses(a.DataDir, a.CgroupRoot) {
		if _, done := procs[pid]; done || (a.InServer && pid == int32(a.PID)) {
			continue
		}
		p, err := process.NewProcessWithContext(ctx, pid)
		if err != nil {
			continue // exited meanwhile
		}
		if s, err := sampleProc(ctx, p); err == nil {
			procs[pid] = s
		}
	}
	agentProcs, podProcs := splitByCgroup(procs, func(pid int32) bool {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		return err == nil && InPodCgroup(b, PodCgroupMarker)
	})
	return sum(agentProcs), sum(podProcs), nil
}

// nodeProcesses lists the live processes of a node that are not the
// agent's descendants: those running an executable from under dataDir (the
// shims) and those in a cgroup under cgroupRoot (the pods). Both empty: none.
func nodeProcesses(dataDir, cgroupRoot string) []int32 {
	if dataDir == "" && cgroupRoot == "" {
		return nil
	}
	entries, _ := os.ReadDir("/proc")
	var out []int32
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		if dataDir != "" {
			if exe, err := os.Readlink(filepath.Join(base, "exe")); err == nil && strings.HasPrefix(exe, dataDir+"/") {
				out = append(out, int32(pid))
				continue
			}
		}
		if cgroupRoot != "" {
			if b, err := os.ReadFile(filepath.Join(base, "cgroup")); err == nil && inCgroupRoot(b, cgroupRoot) {
				out = append(out, int32(pid))
			}
		}
	}
	return out
}

// inCgroupRoot reports whether any hierarchy of a /proc/PID/cgroup file
// places the process at or below root.
func inCgroupRoot(procCgroup []byte, root string) bool {
	root = "/" + strings.Trim(root, "/")
	for line := range strings.SplitSeq(string(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[2] == root || strings.HasPrefix(parts[2], root+"/")) {
			return true
		}
	}
	return false
}

// splitByCgroup divides procs into those outside and inside pod cgroups.
func splitByCgroup(procs map[int32]procSample, inPod func(pid int32) bool) (agent, pods map[int32]procSample) {
	agent, pods = map[int32]procSample{}, map[int32]procSample{}
	for pid, s := range procs {
		if inPod(pid) {
			pods[pid] = s
		} else {
			agent[pid] = s
		}
	}
	return agent, pods
}

// InPodCgroup reports whether a /proc/PID/cgroup file places the process in
// a pod's cgroup: on cgroup v1 its memory controller's path (any controller's
// when there is no memory line), on v2 the unified path, has a segment
// starting with marker.
func InPodCgroup(procCgroup []byte, marker string) bool {
	var memory, unified, other []string
	sc := bufio.NewScanner(bytes.NewReader(procCgroup))
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			unified = append(unified, parts[2])
		case hasController(parts[1], "memory"):
			memory = append(memory, parts[2])
		default:
			other = append(other, parts[2])
		}
	}
	paths := memory
	if len(paths) == 0 {
		paths = append(unified, other...)
	}
	for _, p := range paths {
		for seg := range strings.SplitSeq(p, "/") {
			if strings.HasPrefix(seg, marker) {
				return true
			}
		}
	}
	return false
}

func hasController(list, c string) bool {
	for x := range strings.SplitSeq(list, ",") {
		if x == c {
			return true
		}
	}
	return false
}
