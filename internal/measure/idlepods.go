package measure

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// takeShims moves out of own, into the returned map, the processes that are
// the parent of a pod process: each pod's runtime shim (containerd runs one
// per pod), which lives in the node's cgroup but exists because of the pod.
// Counting the shims with the pods keeps a node's own cost from growing with
// the pods the scheduler happened to put on it.
func takeShims(own, pods map[int32]procSample) map[int32]procSample {
	shims := map[int32]procSample{}
	for _, p := range pods {
		if s, ok := own[p.ppid]; ok {
			shims[p.ppid] = s
			delete(own, p.ppid)
		}
	}
	return shims
}

// shimCPU is the CPU seconds the shims used from prev to cur.
func shimCPU(prev, cur unitSample) float64 { return treeCPU(prev.shims, cur.shims) }

// countPods counts the pod cgroups in tree (cgroup.Hierarchy.Tree of the
// kubelet's pods cgroup): the kubelet's cgroupfs driver names them
// pod<UID>, under the QoS classes' cgroups or directly; the cgroups of a
// pod's containers below it are not pods.
func countPods(tree map[string][]int) int {
	n := 0
	for rel := range tree {
		parts := strings.Split(rel, "/")
		if i := slices.IndexFunc(parts, func(c string) bool { return strings.HasPrefix(c, "pod") }); i == len(parts)-1 {
			n++
		}
	}
	return n
}

// placement spells out how many pods each node ran over the window, in
// node order, for result.PlacementAttr (footprint.cluster.* do not carry
// it: the totals do not depend on placement); a count that changed during the window is
// given as its range, so it matches no steady placement.
func placement(sm *sampler, ticks []tick) string {
	var parts []string
	for i, u := range sm.units {
		if u.Pods == "" {
			continue
		}
		seen := map[int]bool{}
		for _, t := range ticks {
			seen[t.units[i].podCount] = true
		}
		counts := slices.Sorted(maps.Keys(seen))
		c := fmt.Sprint(counts[0])
		if len(counts) > 1 {
			c = fmt.Sprintf("%d-%d(changed)", counts[0], counts[len(counts)-1])
		}
		parts = append(parts, u.Name+"="+c)
	}
	return strings.Join(parts, " ")
}
