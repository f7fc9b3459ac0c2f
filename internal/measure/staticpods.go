package measure

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// A control plane run as static pods (the RKE2 style: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler as pods of
// the server's node) is the server's own cost, as the same components are
// in one process in the K3s style: Unit.ControlPlane names those pods, and
// the sampler moves their processes and CPU time from the node's pods to
// its own processes, keeping them apart by component too.

// podOf is the pod UID of a cgroup path relative to the kubelet's pods
// cgroup ("burstable/pod<UID>/<container>" -> UID, and the pod cgroup's
// own path), "" for a cgroup that is no pod's.
func podOf(rel string) (uid, podCgroup string) {
	parts := strings.Split(rel, "/")
	i := slices.IndexFunc(parts, func(c string) bool { return strings.HasPrefix(c, "pod") })
	if i < 0 {
		return "", ""
	}
	return strings.TrimPrefix(parts[i], "pod"), path.Join(parts[:i+1]...)
}

// controlPlaneSplit is what splitControlPlane took out of a node's pods.
type controlPlaneSplit struct {
	// byComponent are the processes of each component's pod.
	byComponent map[string]map[int32]procSample
	// cgroups are the control-plane pods' cgroups (relative to the pods
	// cgroup) by component, to read their CPU time.
	cgroups map[string]string
}

// splitControlPlane moves out of pods the processes of the pods cp names
// (pod UID -> component) and reports them by component; tree is the pods
// cgroup's (cgroup.Hierarchy.Tree).
func splitControlPlane(tree map[string][]int, pods map[int32]procSample, cp map[string]string) controlPlaneSplit {
	out := controlPlaneSplit{byComponent: map[string]map[int32]procSample{}, cgroups: map[string]string{}}
	for rel, pids := range tree {
		uid, podCg := podOf(rel)
		comp, ok := cp[uid]
		if !ok {
			continue
		}
		out.cgroups[comp] = podCg
		procs := out.byComponent[comp]
		if procs == nil {
			procs = map[int32]procSample{}
			out.byComponent[comp] = procs
		}
		for _, pid := range pids {
			if s, ok := pods[int32(pid)]; ok {
				procs[int32(pid)] = s
				delete(pods, int32(pid))
			}
		}
	}
	return out
}

// workloadTree is tree without the control-plane pods' cgroups.
func workloadTree(tree map[string][]int, cp map[string]string) map[string][]int {
	if len(cp) == 0 {
		return tree
	}
	out := map[string][]int{}
	for rel, pids := range tree {
		if uid, _ := podOf(rel); cp[uid] == "" {
			out[rel] = pids
		}
	}
	return out
}

// Annotations the kubelet puts on a static pod's mirror pod: the source
// ("file" for the pod-manifest directory) and the hash, which is the UID
// the kubelet runs the static pod under (its cgroup is pod<hash>); the
// mirror pod's own UID is another one.
const (
	annotationConfigSource = "kubernetes.io/config.source"
	annotationConfigHash   = "kubernetes.io/config.hash"
)

// ControlPlanePods are node's static pods (UID -> component), found
// through their mirror pods: the control plane of an RKE2-style server
// (k3lite's --control-plane=static-pods, RKE2 itself, kubeadm). The
// component is the pod's "component" label, else its name without the
// "-<node>" the kubelet appends.
func ControlPlanePods(ctx context.Context, cs kubernetes.Interface, node string) (map[string]string, error) {
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, fmt.Errorf("static pods of node %s: %w", node, err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		uid := p.Annotations[annotationConfigHash]
		if p.Spec.NodeName != node || p.Annotations[annotationConfigSource] != "file" || uid == "" {
			continue
		}
		comp := p.Labels["component"]
		if comp == "" {
			comp = strings.TrimSuffix(p.Name, "-"+node)
		}
		out[uid] = comp
	}
	return out, nil
}
