package framework

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name string, ready corev1.ConditionStatus, mutate func(*corev1.Node)) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: "10.0.0.1"}},
	}}
	if mutate != nil {
		mutate(&n)
	}
	return n
}

func TestFilterReadySchedulable(t *testing.T) {
	nodes := []corev1.Node{
		testNode("ready", corev1.ConditionTrue, nil),
		testNode("not-ready", corev1.ConditionFalse, nil),
		testNode("unknown", corev1.ConditionUnknown, nil),
		testNode("cordoned", corev1.ConditionTrue, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		testNode("tainted", corev1.ConditionTrue, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}
		}),
		testNode("prefer-no-schedule", corev1.ConditionTrue, func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}}
		}),
		testNode("no-conditions", corev1.ConditionTrue, func(n *corev1.Node) { n.Status.Conditions = nil }),
	}
	var got []string
	for _, n := range FilterReadySchedulable(nodes) {
		got = append(got, n.Name)
	}
	if strings.Join(got, ",") != "ready,prefer-no-schedule" {
		t.Errorf("FilterReadySchedulable = %q, want ready and prefer-no-schedule", got)
	}
	if ip := NodeInternalIP(&nodes[0]); ip != "10.0.0.1" {
		t.Errorf("NodeInternalIP = %q", ip)
	}
}

func TestNotEnoughNodesSaysHowToGetThem(t *testing.T) {
	if m := NotEnoughNodes(2, 1); !strings.Contains(m, "needs at least 2 nodes (run distrobench up --agents 1)") || !strings.Contains(m, "found 1") {
		t.Errorf("NotEnoughNodes(2, 1) = %q", m)
	}
	if m := NotEnoughNodes(3, 0); !strings.Contains(m, "--agents 2") {
		t.Errorf("NotEnoughNodes(3, 0) = %q", m)
	}
	if m := NotEnoughNodes(1, 0); !strings.Contains(m, "--disable-agent") {
		t.Errorf("NotEnoughNodes(1, 0) = %q, want a hint about the server's agent", m)
	}
}

type nopController struct{}

func (nopController) StopAgent(context.Context, string) error  { return nil }
func (nopController) StartAgent(context.Context, string) error { return nil }

func TestNodeControllerRegistration(t *testing.T) {
	RegisterNodeController(nil)
	if _, err := CurrentNodeController(); !errors.Is(err, ErrNoNodeController) || !strings.Contains(err.Error(), "!disruptive") {
		t.Fatalf("no controller: err = %v, want ErrNoNodeController saying how to deselect", err)
	}
	RegisterNodeController(nopController{})
	defer RegisterNodeController(nil)
	if c, err := CurrentNodeController(); err != nil || c == nil {
		t.Fatalf("registered controller: %v, %v", c, err)
	}
}
