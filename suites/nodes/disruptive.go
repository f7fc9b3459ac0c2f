package nodes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

// ControlPlaneLabel marks the server's own node (K3s sets it); its agent runs
// inside the server process, so the disruptive specs never stop it.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// NodeNotReadyTimeout bounds how long the control plane may take to notice a
// stopped kubelet: the node lifecycle controller marks a node Unknown after
// --node-monitor-grace-period (50 s by default) without a heartbeat.
const NodeNotReadyTimeout = 3 * time.Minute

// pickAgentNode chooses the node whose agent the disruptive specs stop: a
// Ready, schedulable node that is not the server's own (not labelled
// control-plane) and, when the controller says which agents it can stop
// (stoppable non-nil), one of those.
func pickAgentNode(nodes []corev1.Node, stoppable []string) (corev1.Node, error) {
	for _, n := range nodes {
		if _, server := n.Labels[ControlPlaneLabel]; server {
			continue
		}
		if stoppable == nil || slices.Contains(stoppable, n.Name) {
			return n, nil
		}
	}
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	return corev1.Node{}, fmt.Errorf("no Ready node (%s) has an agent of its own that can be stopped (controller can stop: %q; the server's node is labelled %s): run distrobench up --agents 1",
		strings.Join(names, ", "), stoppable, ControlPlaneLabel)
}

// stoppableNodes asks the controller which agents it can stop (nil: any).
func stoppableNodes(nc framework.NodeController) []string {
	if s, ok := nc.(framework.StoppableNodes); ok {
		return append([]string{}, s.StoppableNodes()...)
	}
	return nil
}

// readyStatus returns the status of the node's Ready condition ("" if none).
func readyStatus(ctx context.Context, name string) (corev1.ConditionStatus, error) {
	n, err := framework.ClientSet().CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status, nil
		}
	}
	return "", nil
}

var _ = describeDisruptive("Node agent restart", Ordered, func() {
	var (
		nc      framework.NodeController
		ns      string
		node    corev1.Node
		before  corev1.ContainerStatus
		podUID  string
		stopped bool
	)

	BeforeAll(func(ctx SpecContext) {
		nc = framework.RequireNodeController()
		var err error
		node, err = pickAgentNode(framework.RequireReadyNodes(ctx, 2), stoppableNodes(nc))
		Expect(err).NotTo(HaveOccurred())
		ns = framework.NewNamespace(ctx, "agent-restart").Name
		framework.CreatePod(ctx, ns, podOn("survivor", node.Name, nil, busybox("main", "exec sleep 3600")))
		p := framework.WaitForPodRunning(ctx, ns, "survivor")
		before, podUID = p.Status.ContainerStatuses[0], string(p.UID)
		Expect(before.ContainerID).NotTo(BeEmpty())
		// Whatever fails below, the agent runs again for the specs after us.
		DeferCleanup(func(ctx SpecContext) error {
			if !stopped {
				return nil
			}
			return nc.StartAgent(ctx, node.Name)
		}, NodeTimeout(framework.Timeout(2*time.Minute)))
	}, NodeTimeout(framework.Timeout(3*time.Minute)))

	It("marks the node NotReady when its agent stops", func(ctx SpecContext) {
		stopped = true // even if StopAgent fails below, it may have stopped it: the cleanup restarts it
		Expect(nc.StopAgent(ctx, node.Name)).To(Succeed(), "stop the agent of node %s", node.Name)
		Eventually(readyStatus).WithContext(ctx).WithArguments(node.Name).
			WithTimeout(framework.Timeout(NodeNotReadyTimeout)).WithPolling(2*time.Second).
			ShouldNot(Equal(corev1.ConditionTrue), "node %s must stop being Ready once its kubelet stops posting status (is the node lifecycle controller running?)", node.Name)
	}, SpecTimeout(framework.Timeout(NodeNotReadyTimeout+time.Minute)))

	It("marks the node Ready again when its agent starts", func(ctx SpecContext) {
		Expect(stopped).To(BeTrue(), "the previous spec did not stop the agent")
		Expect(nc.StartAgent(ctx, node.Name)).To(Succeed(), "start the agent of node %s", node.Name)
		stopped = false
		Eventually(readyStatus).WithContext(ctx).WithArguments(node.Name).
			WithTimeout(framework.Timeout(2*time.Minute)).WithPolling(time.Second).
			Should(Equal(corev1.ConditionTrue), "node %s must be Ready again after its agent restarted", node.Name)
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	It("keeps the node's pods running across the agent restart", func(ctx SpecContext) {
		p := framework.WaitForPod(ctx, ns, "survivor", 2*time.Minute, "running and ready again", func(p *corev1.Pod) (bool, error) {
			if string(p.UID) != podUID {
				return false, fmt.Errorf("the pod was replaced (UID %s, was %s)", p.UID, podUID)
			}
			if p.Status.Phase != corev1.PodRunning {
				return false, nil
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady {
					return c.Status == corev1.ConditionTrue, nil
				}
			}
			return false, nil
		})
		Expect(p.Status.ContainerStatuses).To(HaveLen(1))
		after := p.Status.ContainerStatuses[0]
		Expect(after.ContainerID).To(Equal(before.ContainerID),
			"the container must be the same one (containerd keeps it running while the agent restarts), not a new one")
		Expect(after.RestartCount).To(BeEquivalentTo(0), "the container must not have been restarted")
		Expect(after.State.Running).NotTo(BeNil())
		Expect(after.State.Running.StartedAt.Time).To(BeTemporally("==", before.State.Running.StartedAt.Time))

		By("exec still works in the surviving container")
		out, _, err := framework.ExecInPod(ctx, ns, "survivor", "main", "echo", "alive")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("alive\n"))
	}, SpecTimeout(framework.Timeout(3*time.Minute)))
})

var _ = describeDisruptive("Node join", Label("join"), func() {
	// secret returns a random token secret no server knows.
	secret := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	// joiner is the node controller's throwaway-agent side.
	joiner := func() framework.AgentJoiner {
		GinkgoHelper()
		nc := framework.RequireNodeController()
		j, ok := nc.(framework.AgentJoiner)
		if !ok {
			Fail(fmt.Sprintf("the registered node controller (%T) cannot start a throwaway agent (it does not implement framework.AgentJoiner)", nc))
		}
		return j
	}
	// caHash is the SHA-256 of the server's CA bundle as its join
	// endpoints serve it on /cacerts (what a K10 token pins).
	caHash := func(ctx context.Context) string {
		GinkgoHelper()
		h, err := joiner().CAHash(ctx)
		Expect(err).NotTo(HaveOccurred(), "GET /cacerts from the server's join endpoints (K3s's)")
		return h
	}
	nodeNames := func(ctx context.Context) []string {
		GinkgoHelper()
		list, err := framework.ClientSet().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, n := range list.Items {
			out = append(out, n.Name)
		}
		slices.Sort(out)
		return out
	}

	DescribeTable("refuses an agent whose token is wrong, with a clear error",
		func(ctx SpecContext, token func(ctx context.Context) string, mentions []string) {
			nodesBefore := nodeNames(ctx)
			err := joiner().TryJoin(ctx, token(ctx))
			Expect(err).To(HaveOccurred(), "an agent with a wrong token joined the cluster")
			msg := strings.ToLower(err.Error())
			Expect(slices.ContainsFunc(mentions, func(m string) bool { return strings.Contains(msg, m) })).To(BeTrue(),
				"the agent's error must say why it was refused (mention one of %q), got: %v", mentions, err)
			Expect(errors.Is(err, context.DeadlineExceeded)).To(BeFalse(), "the agent must give up with an error, not hang: %v", err)
			Expect(nodeNames(ctx)).To(Equal(nodesBefore), "a refused agent must not register a Node")
		},
		Entry("the right CA hash but a wrong secret", SpecTimeout(framework.Timeout(3*time.Minute)), func(ctx context.Context) string {
			return "K10" + caHash(ctx) + "::node:" + secret()
		}, []string{"401", "unauthorized", "token", "credentials"}),
		Entry("a CA hash that is not the server's", SpecTimeout(framework.Timeout(3*time.Minute)), func(ctx context.Context) string {
			return "K10" + strings.Repeat("0", 64) + "::node:" + secret()
		}, []string{"hash", "certificate", "x509"}),
		Entry("a bare secret the server does not know", SpecTimeout(framework.Timeout(3*time.Minute)), func(context.Context) string {
			return secret()
		}, []string{"401", "unauthorized", "token", "credentials"}),
	)
})
