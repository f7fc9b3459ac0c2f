package nodes

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/distrobench/distrobench/suites/framework"
)

var _ = describe("DaemonSet", Label(framework.LabelDaemonSet, framework.LabelMultiNode), func() {
	It("runs exactly one pod on every schedulable node", func(ctx SpecContext) {
		nodes := framework.RequireReadyNodes(ctx, 2)
		want := map[string]int{}
		for _, n := range nodes {
			want[n.Name] = 1
		}
		ns := framework.NewNamespace(ctx, "ds").Name
		labels := map[string]string{"app": "pause-ds"}
		tmpl := podOn("", "", labels, corev1.Container{
			Name: "pause", Image: framework.PauseImage, ImagePullPolicy: corev1.PullIfNotPresent,
		})
		ds, err := framework.ClientSet().AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Name: "pause"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec},
			},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		// runningPerNode counts the DaemonSet's running pods by node.
		runningPerNode := func(ctx context.Context) (map[string]int, error) {
			pods, err := framework.ClientSet().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{
				LabelSelector: metav1.FormatLabelSelector(ds.Spec.Selector),
			})
			if err != nil {
				return nil, err
			}
			got := map[string]int{}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp == nil && metav1.IsControlledBy(p, ds) && framework.AllContainersRunning(p) {
					got[p.Spec.NodeName]++
				}
			}
			return got, nil
		}
		Eventually(runningPerNode).WithContext(ctx).WithTimeout(framework.Timeout(2*time.Minute)).WithPolling(time.Second).
			Should(Equal(want), "running DaemonSet pods per node (want one on each Ready, schedulable node)")
		By("staying at one pod per node")
		Consistently(runningPerNode).WithContext(ctx).WithTimeout(5 * time.Second).WithPolling(time.Second).
			Should(Equal(want))
		Eventually(func(ctx context.Context) (appsv1.DaemonSetStatus, error) {
			d, err := framework.ClientSet().AppsV1().DaemonSets(ns).Get(ctx, ds.Name, metav1.GetOptions{})
			if err != nil {
				return appsv1.DaemonSetStatus{}, err
			}
			return d.Status, nil
		}).WithContext(ctx).WithTimeout(framework.Timeout(time.Minute)).WithPolling(time.Second).
			Should(And(HaveField("DesiredNumberScheduled", BeEquivalentTo(len(want))),
				HaveField("NumberReady", BeEquivalentTo(len(want)))))
	}, SpecTimeout(framework.Timeout(4*time.Minute)))
})
