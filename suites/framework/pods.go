package framework

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
)

// PodPoll is the polling interval of the pod waits.
const PodPoll = 500 * time.Millisecond

// DescribePod is a one-line summary of a pod's state for failure messages:
// phase, node, and each container's state with its reason.
func DescribePod(p *corev1.Pod) string {
	if p == nil {
		return "<no pod>"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s/%s phase=%s node=%q", p.Namespace, p.Name, p.Status.Phase, p.Spec.NodeName)
	for _, c := range p.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			fmt.Fprintf(&b, " %s=%s(%s)", c.Type, c.Status, c.Message)
		}
	}
	for _, cs := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		fmt.Fprintf(&b, " [%s restarts=%d %s]", cs.Name, cs.RestartCount, describeState(cs.State))
	}
	return b.String()
}

func describeState(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "running"
	case s.Waiting != nil:
		return strings.TrimSpace("waiting " + s.Waiting.Reason + " " + s.Waiting.Message)
	case s.Terminated != nil:
		return strings.TrimSpace(fmt.Sprintf("terminated exit=%d %s %s", s.Terminated.ExitCode, s.Terminated.Reason, s.Terminated.Message))
	}
	return "unknown"
}

// WaitForPod polls the pod until cond holds and returns it; it fails the
// spec after timeout (scaled by Timeout) with the pod's last state. cond
// may return an error to stop waiting at once (a pod that can no longer
// reach the wanted state).
func WaitForPod(ctx context.Context, ns, name string, timeout time.Duration, what string, cond func(*corev1.Pod) (bool, error)) *corev1.Pod {
	ginkgo.GinkgoHelper()
	var last *corev1.Pod
	gomega.Eventually(func(ctx context.Context) error {
		p, err := ClientSet().CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		last = p
		ok, err := cond(p)
		if err != nil {
			return gomega.StopTrying(fmt.Sprintf("pod %s/%s will not become %s: %v; %s", ns, name, what, err, DescribePod(p)))
		}
		if !ok {
			return fmt.Errorf("not %s yet: %s", what, DescribePod(p))
		}
		return nil
	}).WithContext(ctx).WithTimeout(Timeout(timeout)).WithPolling(PodPoll).
		Should(gomega.Succeed(), "waiting for pod %s/%s to be %s", ns, name, what)
	return last
}

// WaitForPodRunning waits until every container of the pod runs and
// returns the pod. A pod that ends (Succeeded/Failed) fails at once.
func WaitForPodRunning(ctx context.Context, ns, name string) *corev1.Pod {
	ginkgo.GinkgoHelper()
	return WaitForPod(ctx, ns, name, 2*time.Minute, "running", func(p *corev1.Pod) (bool, error) {
		switch p.Status.Phase {
		case corev1.PodSucceeded, corev1.PodFailed:
			return false, fmt.Errorf("the pod ended in phase %s", p.Status.Phase)
		case corev1.PodRunning:
			return AllContainersRunning(p), nil
		}
		return false, nil
	})
}

// AllContainersRunning reports whether every (regular) container of the
// pod has a status and is in the running state.
func AllContainersRunning(p *corev1.Pod) bool {
	if len(p.Status.ContainerStatuses) < len(p.Spec.Containers) {
		return false
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

// CreatePod creates the pod in ns and fails the spec on error.
func CreatePod(ctx context.Context, ns string, p *corev1.Pod) *corev1.Pod {
	ginkgo.GinkgoHelper()
	created, err := ClientSet().CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	gomega.Expect(err).NotTo(gomega.HaveOccurred(), "create pod %s/%s", ns, p.Name)
	return created
}

// PodLogs returns the log of a container through the API server (which
// proxies it from the node's kubelet).
func PodLogs(ctx context.Context, ns, pod, container string) (string, error) {
	raw, err := ClientSet().CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("logs of %s/%s container %s: %w", ns, pod, container, err)
	}
	return string(raw), nil
}

// ExecInPod runs cmd in a container through the API server's exec
// subresource, the way kubectl exec does: WebSocket first (the default since
// Kubernetes 1.31), SPDY when the server refuses the upgrade. It returns
// the command's stdout and stderr; a non-zero exit is an error
// (k8s.io/client-go/util/exec.CodeExitError carries the code).
func ExecInPod(ctx context.Context, ns, pod, container string, cmd ...string) (stdout, stderr string, err error) {
	cfg, err := LoadRESTConfig()
	if err != nil {
		return "", "", err
	}
	req := ClientSet().CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		return "", "", fmt.Errorf("exec in %s/%s: websocket executor: %w", ns, pod, err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		return "", "", fmt.Errorf("exec in %s/%s: spdy executor: %w", ns, pod, err)
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", "", fmt.Errorf("exec in %s/%s: %w", ns, pod, err)
	}
	var out, errOut bytes.Buffer
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &errOut})
	if err != nil {
		err = fmt.Errorf("exec %q in %s/%s container %s: %w (stderr: %s)", strings.Join(cmd, " "), ns, pod, container, err, strings.TrimSpace(errOut.String()))
	}
	return out.String(), errOut.String(), err
}
