package framework

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Labels of the specs that need nodes running real pods (suites/nodes).
const (
	// LabelNodes marks every spec that needs at least one Ready node.
	LabelNodes = "nodes"
	// LabelPods marks pod lifecycle specs (logs, exec, restart policies,
	// graceful termination).
	LabelPods = "pods"
	// LabelNetwork marks pod network and Service specs.
	LabelNetwork = "network"
	// LabelDNS marks cluster DNS specs (CoreDNS must be running).
	LabelDNS = "dns"
	// LabelDaemonSet marks DaemonSet specs.
	LabelDaemonSet = "daemonset"
	// LabelNodePort marks NodePort Service specs.
	LabelNodePort = "nodeport"
	// LabelMultiNode marks specs that need at least two Ready nodes.
	LabelMultiNode = "multinode"
	// LabelDisruptive marks specs that stop and start node agents through
	// the harness's NodeController. They fail (they are never skipped) when
	// no controller is registered: deselect them with
	// --label-filter='!disruptive' when testing a cluster you did not start.
	LabelDisruptive = "disruptive"
)

// Images the node specs use. They are never pulled: every pod sets
// imagePullPolicy IfNotPresent, and the cluster must have imported them
// (k3lite imports <data-dir>/agent/images/*.tar at start).
const (
	BusyboxImage = "registry.k8s.io/e2e-test-images/busybox:1.37.0-2"
	AgnhostImage = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"
	PauseImage   = "registry.k8s.io/pause:3.10.2"
)

// NodeController stops and starts the agent of a node. The suites cannot
// do it through the Kubernetes API: the harness that started the cluster
// supplies one (RegisterNodeController) before the specs run. Specs labelled
// LabelDisruptive need it.
type NodeController interface {
	// StopAgent stops the agent process of the node (kubelet, kube-proxy,
	// flannel) the way an operator would (SIGTERM), leaving the containers
	// of its pods running, and returns once the process has exited.
	StopAgent(ctx context.Context, node string) error
	// StartAgent starts the node's agent again with its previous
	// configuration and returns once the process runs (not once the node is
	// Ready: the specs wait for that through the API).
	StartAgent(ctx context.Context, node string) error
}

// AgentJoiner is implemented by a NodeController that can also try to join
// a new, throwaway agent to the cluster. The wrong-token spec needs it.
type AgentJoiner interface {
	// TryJoin starts a new agent (a fresh node name and data dir) against
	// the cluster's server with the given join token, waits until it exits
	// or until it has registered its Node, then removes everything it
	// started. It returns nil when the agent joined, and otherwise an error
	// carrying the agent's own message (exit status and log tail).
	TryJoin(ctx context.Context, token string) error
	// CAHash is the SHA-256 (hex) of the CA bundle the cluster's join
	// endpoints serve on /cacerts, which a K10 token pins: on the API's
	// port in the K3s style, on the supervisor's in the RKE2 style.
	CAHash(ctx context.Context) (string, error)
}

// StoppableNodes is implemented by a NodeController that can stop the
// agents of some nodes only (an agent inside the server process cannot be
// stopped without the server): the disruptive specs pick among these.
type StoppableNodes interface {
	StoppableNodes() []string
}

var nodeController struct {
	sync.Mutex
	c NodeController
}

// RegisterNodeController sets the controller the disruptive specs use; nil
// unregisters. Call it before the specs run (before RunSpecs).
func RegisterNodeController(c NodeController) {
	nodeController.Lock()
	nodeController.c = c
	nodeController.Unlock()
}

// ErrNoNodeController is the failure of a disruptive spec run without a
// NodeController.
var ErrNoNodeController = errors.New("this spec stops and starts node agents and needs the harness's node controller, " +
	"but none is registered: run it through `distrobench run` (which starts the agents), " +
	"or deselect disruptive specs with --label-filter='!disruptive'")

// CurrentNodeController returns the registered controller or ErrNoNodeController.
func CurrentNodeController() (NodeController, error) {
	nodeController.Lock()
	defer nodeController.Unlock()
	if nodeController.c == nil {
		return nil, ErrNoNodeController
	}
	return nodeController.c, nil
}

// RequireNodeController returns the registered controller and fails the
// current spec (never skips it) when there is none.
func RequireNodeController() NodeController {
	ginkgo.GinkgoHelper()
	c, err := CurrentNodeController()
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	return c
}

// IsNodeReady reports whether the node's Ready condition is True.
func IsNodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// IsNodeSchedulable reports whether ordinary pods (no tolerations) may land
// on the node: not cordoned and without NoSchedule/NoExecute taints.
func IsNodeSchedulable(n *corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	return true
}

// NodeInternalIP returns the node's first InternalIP address, "" if none.
func NodeInternalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// ReadySchedulableNodes lists the nodes that are Ready and schedulable.
func ReadySchedulableNodes(ctx context.Context) ([]corev1.Node, error) {
	list, err := ClientSet().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return FilterReadySchedulable(list.Items), nil
}

// FilterReadySchedulable keeps the nodes that are Ready and schedulable.
func FilterReadySchedulable(nodes []corev1.Node) []corev1.Node {
	var out []corev1.Node
	for i := range nodes {
		if IsNodeReady(&nodes[i]) && IsNodeSchedulable(&nodes[i]) {
			out = append(out, nodes[i])
		}
	}
	return out
}

// NotEnoughNodes is the failure message of a spec that needs want Ready,
// schedulable nodes and found have.
func NotEnoughNodes(want, have int) string {
	if want <= 1 {
		return fmt.Sprintf("needs at least 1 Ready, schedulable node; found %d (run the server with its agent, without --disable-agent, or add agents: distrobench up --agents 1)", have)
	}
	if want == 2 {
		return fmt.Sprintf("needs at least 2 nodes (run distrobench up --agents 1); found %d Ready and schedulable", have)
	}
	return fmt.Sprintf("needs at least %d nodes (run distrobench up --agents %d); found %d Ready and schedulable", want, want-1, have)
}

// RequireReadyNodes returns the Ready, schedulable nodes and fails the
// current spec (never skips it) when there are fewer than n.
func RequireReadyNodes(ctx context.Context, n int) []corev1.Node {
	ginkgo.GinkgoHelper()
	nodes, err := ReadySchedulableNodes(ctx)
	if err != nil {
		ginkgo.Fail(err.Error())
	}
	if len(nodes) < n {
		ginkgo.Fail(NotEnoughNodes(n, len(nodes)))
	}
	return nodes
}
