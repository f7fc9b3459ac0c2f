package nodes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name string, labels map[string]string) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestPickAgentNode(t *testing.T) {
	server := node("node0", map[string]string{ControlPlaneLabel: "true"})
	unlabelledServer := node("node0", nil)
	for _, tc := range []struct {
		name      string
		nodes     []corev1.Node
		stoppable []string
		want      string
	}{
		{"skips the control-plane node", []corev1.Node{server, node("node1", nil)}, nil, "node1"},
		{"uses the controller's list when the server's node is not labelled", []corev1.Node{unlabelledServer, node("node1", nil), node("node2", nil)}, []string{"node2"}, "node2"},
		{"nothing to stop", []corev1.Node{server}, nil, ""},
		{"controller can stop none of the Ready nodes", []corev1.Node{unlabelledServer, node("node1", nil)}, []string{}, ""},
	} {
		got, err := pickAgentNode(tc.nodes, tc.stoppable)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "--agents 1") {
				t.Errorf("%s: picked %q, err %v; want an error saying how to get an agent node", tc.name, got.Name, err)
			}
			continue
		}
		if err != nil || got.Name != tc.want {
			t.Errorf("%s: picked %q, err %v; want %s", tc.name, got.Name, err, tc.want)
		}
	}
}
