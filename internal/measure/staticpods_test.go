package measure

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// A server node whose kubelet runs the apiserver as a static pod (UID
// aaa) and CoreDNS (UID ccc): the apiserver's processes become the node's
// own, CoreDNS stays a pod, and the shim of each stays with its pod's side.
func TestSplitControlPlane(t *testing.T) {
	tree := map[string][]int{
		"":                           nil,
		"burstable":                  nil,
		"burstable/podaaa":           nil,
		"burstable/podaaa/pause":     {10},
		"burstable/podaaa/apiserver": {11},
		"burstable/podccc":           nil,
		"burstable/podccc/coredns":   {20, 21},
	}
	pods := map[int32]procSample{10: {pss: 1, ppid: 5}, 11: {pss: 300, ppid: 5}, 20: {pss: 1, ppid: 6}, 21: {pss: 20, ppid: 6}}
	own := map[int32]procSample{1: {pss: 100}, 5: {pss: 4}, 6: {pss: 4}}
	cp := map[string]string{"aaa": "kube-apiserver"}
	split := splitControlPlane(tree, pods, cp)
	got := split.byComponent["kube-apiserver"]
	if len(got) != 2 || got[11].pss != 300 || split.cgroups["kube-apiserver"] != "burstable/podaaa" {
		t.Fatalf("split %+v, want the apiserver pod's two processes and its cgroup", split)
	}
	if len(pods) != 2 || pods[21].pss != 20 {
		t.Errorf("pods left %v, want CoreDNS's two processes", pods)
	}
	for pid, s := range got {
		own[pid] = s
	}
	if shims := takeShims(own, pods); len(shims) != 1 || shims[6].pss != 4 || own[5].pss != 4 {
		t.Errorf("shims %v, own %v: CoreDNS's shim goes with the pods, the apiserver's stays the node's own", shims, own)
	}
	if n := countPods(workloadTree(tree, cp)); n != 1 {
		t.Errorf("%d workload pods, want 1 (CoreDNS)", n)
	}
	if uid, cg := podOf("podccc"); uid != "ccc" || cg != "podccc" {
		t.Errorf("podOf(podccc) = %q, %q", uid, cg)
	}
	if uid, _ := podOf("burstable"); uid != "" {
		t.Errorf("podOf(burstable) = %q, want no pod", uid)
	}
}

func TestAgentPartLeavesTheControlPlaneOut(t *testing.T) {
	us := unitSample{
		own:          map[int32]procSample{1: {pss: 100}, 2: {pss: 30}, 11: {pss: 300}},
		controlPlane: map[string]map[int32]procSample{"kube-apiserver": {11: {pss: 300}}},
	}
	if got := sum(agentPart(Unit{Role: RoleServer, PID: 1}, us)); got.PSS != 30 {
		t.Errorf("the server node's agent part: %d PSS, want 30 (not the server process, not the apiserver pod)", got.PSS)
	}
}

func TestControlPlanePods(t *testing.T) {
	mirror := func(name, node, source, hash, component string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", UID: "mirror-" + types.UID(name),
			Annotations: map[string]string{annotationConfigSource: source, annotationConfigHash: hash}}, Spec: corev1.PodSpec{NodeName: node}}
		if component != "" {
			p.Labels = map[string]string{"component": component}
		}
		return p
	}
	cs := fake.NewClientset(
		mirror("kube-apiserver-node0", "node0", "file", "aaa", "kube-apiserver"),
		mirror("etcd-node0", "node0", "file", "bbb", ""),
		mirror("coredns-x", "node0", "api", "", ""),
		mirror("kube-apiserver-node1", "node1", "file", "ddd", "kube-apiserver"),
	)
	got, err := ControlPlanePods(t.Context(), cs, "node0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["aaa"] != "kube-apiserver" || got["bbb"] != "etcd" {
		t.Errorf("ControlPlanePods = %v, want node0's apiserver (by label) and etcd (by name), by config hash", got)
	}
}
