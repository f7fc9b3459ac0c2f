package nodes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/exec"
	"k8s.io/utils/ptr"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("Pod lifecycle", Label(framework.LabelPods), func() {
	var ns string

	BeforeEach(func(ctx SpecContext) {
		framework.RequireReadyNodes(ctx, 1)
		ns = framework.NewNamespace(ctx, "pods").Name
	})

	It("runs a pod and serves its container's log through the API", func(ctx SpecContext) {
		framework.CreatePod(ctx, ns, podOn("logger", "", nil,
			busybox("main", "echo distrobench-log-line-1", "echo distrobench-log-line-2", "exec sleep 3600")))
		p := framework.WaitForPodRunning(ctx, ns, "logger")
		Expect(p.Spec.NodeName).NotTo(BeEmpty())
		Expect(p.Status.PodIP).NotTo(BeEmpty(), "a running pod has an IP from the pod network: %s", framework.DescribePod(p))
		Eventually(func(ctx context.Context) (string, error) {
			return framework.PodLogs(ctx, ns, "logger", "main")
		}).WithContext(ctx).WithTimeout(framework.Timeout(30*time.Second)).WithPolling(framework.PodPoll).
			Should(And(ContainSubstring("distrobench-log-line-1\n"), ContainSubstring("distrobench-log-line-2\n")),
				"the kubelet on %s must serve the container log through the API server", p.Spec.NodeName)
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	It("runs commands in a running container through the API (exec)", func(ctx SpecContext) {
		framework.CreatePod(ctx, ns, podOn("exec", "", nil, sleeper()))
		framework.WaitForPodRunning(ctx, ns, "exec")

		stdout, stderr, err := framework.ExecInPod(ctx, ns, "exec", "client", "sh", "-c", "echo out-$((6*7)); echo err-line >&2")
		Expect(err).NotTo(HaveOccurred())
		Expect(stdout).To(Equal("out-42\n"))
		Expect(stderr).To(Equal("err-line\n"))

		By("reporting a command's non-zero exit code")
		_, _, err = framework.ExecInPod(ctx, ns, "exec", "client", "sh", "-c", "exit 3")
		var code exec.CodeExitError
		Expect(errors.As(err, &code)).To(BeTrue(), "exec of `exit 3` must fail with the exit code, got %v", err)
		Expect(code.Code).To(Equal(3))
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	// restartCount of the only container once the condition holds.
	restarts := func(p *corev1.Pod) int32 {
		if len(p.Status.ContainerStatuses) == 0 {
			return -1
		}
		return p.Status.ContainerStatuses[0].RestartCount
	}
	ended := func(phase corev1.PodPhase) func(*corev1.Pod) (bool, error) {
		return func(p *corev1.Pod) (bool, error) {
			switch p.Status.Phase {
			case phase:
				return true, nil
			case corev1.PodSucceeded, corev1.PodFailed:
				return false, fmt.Errorf("ended in phase %s, want %s", p.Status.Phase, phase)
			}
			return false, nil
		}
	}

	DescribeTable("restarts containers as the pod's restartPolicy says",
		func(ctx SpecContext, policy corev1.RestartPolicy, script string, check func(ctx SpecContext, name string)) {
			name := "restart-" + strings.ToLower(string(policy))
			p := podOn(name, "", nil, busybox("main", script))
			p.Spec.RestartPolicy = policy
			// A volume that survives container restarts, so a script can
			// behave differently on its second run.
			p.Spec.Volumes = []corev1.Volume{{Name: "state", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "state", MountPath: "/state"}}
			framework.CreatePod(ctx, ns, p)
			check(ctx, name)
		},
		Entry("Never: a failed container is not restarted and the pod fails", SpecTimeout(framework.Timeout(3*time.Minute)), corev1.RestartPolicyNever, "exit 1",
			func(ctx SpecContext, name string) {
				p := framework.WaitForPod(ctx, ns, name, 2*time.Minute, "Failed", ended(corev1.PodFailed))
				Expect(restarts(p)).To(BeEquivalentTo(0), framework.DescribePod(p))
				Expect(p.Status.ContainerStatuses[0].State.Terminated).To(HaveField("ExitCode", BeEquivalentTo(1)))
			}),
		Entry("OnFailure: a failed container is restarted, a successful one is not", SpecTimeout(framework.Timeout(3*time.Minute)), corev1.RestartPolicyOnFailure,
			"if [ -e /state/ran ]; then exit 0; fi; touch /state/ran; exit 1",
			func(ctx SpecContext, name string) {
				p := framework.WaitForPod(ctx, ns, name, 2*time.Minute, "Succeeded", ended(corev1.PodSucceeded))
				Expect(restarts(p)).To(BeEquivalentTo(1), "one restart after the failed first run: %s", framework.DescribePod(p))
			}),
		Entry("Always: even a container that exits 0 is restarted", SpecTimeout(framework.Timeout(3*time.Minute)), corev1.RestartPolicyAlways, "sleep 1; exit 0",
			func(ctx SpecContext, name string) {
				p := framework.WaitForPod(ctx, ns, name, 2*time.Minute, "restarted", func(p *corev1.Pod) (bool, error) {
					if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
						return false, fmt.Errorf("a restartPolicy Always pod must not end, but is %s", p.Status.Phase)
					}
					return restarts(p) >= 1, nil
				})
				Expect(p.Status.Phase).To(Equal(corev1.PodRunning), framework.DescribePod(p))
			}),
	)

	It("lets a container that ignores SIGTERM run until terminationGracePeriodSeconds ends", func(ctx SpecContext) {
		const grace = 10
		// sh is PID 1 of the container: without a handler the kernel drops
		// SIGTERM, so only the SIGKILL at the end of the grace period stops it.
		p := podOn("grace", "", nil, busybox("main", "while true; do sleep 1; done"))
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](grace)
		framework.CreatePod(ctx, ns, p)
		framework.WaitForPodRunning(ctx, ns, "grace")

		Expect(framework.ClientSet().CoreV1().Pods(ns).Delete(ctx, "grace", metav1.DeleteOptions{})).To(Succeed())
		pods := framework.ClientSet().CoreV1().Pods(ns)
		got, err := pods.Get(ctx, "grace", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred(), "the pod must still exist right after a graceful delete")
		Expect(got.DeletionGracePeriodSeconds).To(HaveValue(BeEquivalentTo(grace)))

		By("keeping the container running for (most of) the grace period")
		Consistently(func(ctx context.Context) (*corev1.Pod, error) {
			return pods.Get(ctx, "grace", metav1.GetOptions{})
		}).WithContext(ctx).WithTimeout(grace/2*time.Second).WithPolling(time.Second).
			Should(HaveField("Status.ContainerStatuses", ContainElement(HaveField("State.Running", Not(BeNil())))),
				"the container was stopped before terminationGracePeriodSeconds (%ds) ran out", grace)

		By("killing it once the grace period is over")
		Eventually(func(ctx context.Context) error {
			_, err := pods.Get(ctx, "grace", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			return errors.New("pod still exists")
		}).WithContext(ctx).WithTimeout(framework.Timeout(grace*time.Second+time.Minute)).WithPolling(time.Second).
			Should(Succeed(), "the kubelet must kill the container when the grace period ends and the pod must go away")
	}, SpecTimeout(framework.Timeout(3*time.Minute)))

	It("runs the preStop hook before stopping a container", func(ctx SpecContext) {
		handler := podOn("hook-handler", "", nil, netexec())
		framework.CreatePod(ctx, ns, handler)
		h := framework.WaitForPodRunning(ctx, ns, "hook-handler")

		// On the handler's node, so the kubelet reaches the handler's pod IP
		// over the node's own bridge even if the network between nodes is broken
		// (other specs cover that).
		target := podOn("hook-target", h.Spec.NodeName, nil, busybox("main", "exec sleep 3600"))
		target.Spec.TerminationGracePeriodSeconds = ptr.To[int64](30)
		target.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
			HTTPGet: &corev1.HTTPGetAction{Host: h.Status.PodIP, Port: intstr.FromInt32(netexecPort), Path: "/echo?msg=prestop"},
		}}
		framework.CreatePod(ctx, ns, target)
		framework.WaitForPodRunning(ctx, ns, "hook-target")

		Expect(framework.ClientSet().CoreV1().Pods(ns).Delete(ctx, "hook-target", metav1.DeleteOptions{})).To(Succeed())
		Eventually(func(ctx context.Context) (string, error) {
			return framework.PodLogs(ctx, ns, "hook-handler", "netexec")
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(time.Second).
			Should(ContainSubstring("GET /echo?msg=prestop"), "the kubelet did not call the preStop hook of the deleted pod")
	}, SpecTimeout(framework.Timeout(3*time.Minute)))
})
